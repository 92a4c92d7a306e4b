"""A conformance kit for backend plugin authors (a pytest plugin, loaded automatically).

Subclass `BackendConformance` in your plugin's tests and implement `make_backend`: the
suite then checks your backend against the embedded regtest chain (tip, scans of funded
wallets, mempool and confirmations, large histories, verified transactions, broadcast
and rejection, reorgs, timeouts, failover)::

    from lwk_regtest.testing import BackendConformance

    class TestMyBackend(BackendConformance):
        def make_backend(self, rt, *, timeout):
            return MyClient(rt.esplora_url, rt.network, timeout=timeout)

`lwk_regtest` is a session-scoped fixture holding the running `Regtest`. Override
`set_fault` if your backend talks to neither of the embedded servers.
"""

from ._kit import BackendConformance, new_wallet_descriptor
from ._plugin import lwk_regtest

__all__ = ["BackendConformance", "lwk_regtest", "new_wallet_descriptor"]
