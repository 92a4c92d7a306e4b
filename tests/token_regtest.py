"""A regtest chain whose servers require OAuth2 bearer tokens, with a paid wallet, for the
tests of tokens (tests/test_auth_regtest.py, tests/connectivity/test_socks_auth.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

from lwk_regtest import Regtest, TokenIssuer

from lwk_core import Network, Wollet


@contextlib.contextmanager
def paid_token_regtest(
    clients: Mapping[str, str], descriptor: str, payments: Sequence[int]
) -> Iterator[Regtest]:
    """The servers accept the tokens of `clients` (id -> secret); the wallet of
    `descriptor` got `payments` at its first addresses, confirmed."""
    with Regtest(auth=TokenIssuer(dict(clients))) as rt:
        wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor)
        for i, sats in enumerate(payments):
            rt.faucet(wollet.address(i).address(), sats)
        rt.mine(1)
        yield rt


def fresh_issuer(rt: Regtest, clients: Mapping[str, str]) -> Iterator[TokenIssuer]:
    """A fixture's body: the servers' issuer with its counts zeroed, reset to its defaults
    (`clients`, no use or credit limit, no valid token, no fault) after the test."""
    issuer = rt.auth
    assert issuer is not None
    issuer.issued = issuer.refused = 0
    yield issuer
    issuer.clients = dict(clients)
    issuer.uses = issuer.credits = None
    issuer.expire_all()
    rt.esplora_faults.clear()
