"""A conformance kit for backend plugin authors (a pytest plugin, loaded automatically).

Subclass `BackendConformance` in your plugin's tests and implement `make_backend`: the
suite then checks your backend against the embedded regtest chain (tip, scans of funded
wallets, mempool and confirmations, large histories, verified transactions, broadcast
and rejection, reorgs, timeouts, failover)::

    from lwk_regtest.testing import BackendConformance

    class TestMyBackend(BackendConformance):
        def make_backend(self, rt, *, timeout):
            return MyClient(rt.esplora_url, rt.network, timeout=timeout)

A plugin with an async flavour also implements `make_async_backend` (same arguments,
returning its `lwk_core.AsyncClient`): every check then runs against both flavours. A
plugin answering `lwk_merkle_proofs` sets `offers_spv = True`: a scan with
`verify_merkle` on is then checked too.

`lwk_regtest` is a session-scoped fixture holding the running `Regtest`. `set_fault`
switches a fault on in both embedded servers; override it to aim at the one your backend
talks to (`rt.electrum_faults` or `rt.esplora_faults`). tests/test_thirdparty_conformance.py
of the lwk-core repository shows a third-party backend passing the kit.
"""

from ._kit import BackendConformance, new_wallet_descriptor
from ._plugin import lwk_regtest

__all__ = ["BackendConformance", "lwk_regtest", "new_wallet_descriptor"]
