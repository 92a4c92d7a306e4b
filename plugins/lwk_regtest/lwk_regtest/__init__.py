"""An embedded Liquid regtest chain served over the real Electrum and Esplora protocols.

    with Regtest() as rt:                      # chain + Electrum (tcp, ssl) + Esplora servers
        txid = rt.faucet(address, 10_000)      # a real blinded payment, in the mempool
        rt.mine(1)

Attributes: `chain` (RegtestChain), `network`, `electrum_url` (tcp://127.0.0.1:P),
`electrum_ssl_url` (ssl://localhost:P, a self-signed certificate: `cert_pem`,
`cert_fingerprint`), `esplora_url` (http://127.0.0.1:P), `waterfalls_url`
(waterfalls+http://127.0.0.1:P, a Waterfalls server that serves the Esplora routes too),
`electrum_server`, `electrum_ssl_server`, `esplora_server`, `waterfalls_server`,
`electrum_faults`, `esplora_faults`.
Control: `faucet`, `issue_asset`, `spend`, `build_payment`, `build_spend`, `mine`, `reorg`,
`evict`, `fund_wallet`, `example_wallet`.

Every block is signed by a federation: `DEFAULT_SIGNERS` (2 of 3 fixed keys, dynafed
headers) unless `Regtest(signers=BlockSigners.generate(m, n, dynafed=False))` picks another
(legacy headers without `dynafed=True`), or `signers=None` makes unsigned OP_TRUE blocks as
a default elementsd regtest chain's. A client verifies them once told who signs:
`client.block_signers = rt.federation()`, or for every client of the process
`LWK_BLOCK_SIGNERS=elementsregtest=<rt.signers.script hex>`.
`Regtest(auth=TokenIssuer({"client": "secret"}))` makes every server require OAuth2
bearer tokens (issued at `rt.token_url`), as Blockstream's enterprise servers do.
`Regtest.from_fixture(path)` serves the real Liquid testnet wallet fixture instead.
`Regtest(process=True)` runs chain and servers in a child process (`python -m lwk_regtest`)
so that they do not compete with a timed client for the GIL; the control methods (faucet,
mine, reorg, ...) then go through the child's stdin/stdout as JSON lines and `rt.chain` and
the Faults objects are not available (use `rt.set_faults`).
"""

import logging

from ._auth import TokenIssuer
from ._chain import RegtestChain, RegtestRejected
from ._faults import Faults
from ._regtest import Regtest
from ._signing import DEFAULT_SIGNERS, BlockSigners

__all__ = [
    "DEFAULT_SIGNERS",
    "BlockSigners",
    "Faults",
    "Regtest",
    "RegtestChain",
    "RegtestRejected",
    "TokenIssuer",
]

RegtestRejected.__module__ = __name__  # shown as lwk_regtest.RegtestRejected

# the application configures logging: nothing on stderr until it does
logging.getLogger("lwk_regtest").addHandler(logging.NullHandler())
