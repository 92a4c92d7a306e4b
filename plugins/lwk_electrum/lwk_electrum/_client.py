"""ElectrumClient: LWK's Python constructor, on top of lwk_core's Client."""

from __future__ import annotations

from lwk_core import Client

from ._connection import ElectrumConnection
from ._options import ElectrumConstructors, ElectrumOptions
from ._session import ElectrumSession

__all__ = ["ElectrumClient"]

PLUGIN = "lwk_electrum._plugin"  # the module of the hooks, as the entry point names it


class ElectrumClient(ElectrumConstructors, Client):
    """A client for an Electrum server (Blockstream electrs or compatible).

    `ElectrumClient("host:port", tls, validate_domain)` as in LWK, or
    `ElectrumClient.from_url("ssl://host:port")`. TLS validates the certificate and host
    name by default; `cert_fingerprint` (SHA-256 of the DER certificate, hex) pins a
    self-signed certificate instead; `validate_domain=False` turns validation off and logs
    a warning. Construction does no network I/O: the first call connects, and a dropped
    connection is reopened by the next call. SPV is on by default: each confirmation a scan
    reports is proven with a Merkle proof against the header at its height (once per
    (txid, height) until `close()`); `verify_merkle=False` turns it off.
    """

    connection: ElectrumSession

    def _setup(self, options: ElectrumOptions) -> None:
        rpc = ElectrumConnection(options.endpoint, **options.connection_kwargs())
        session, spv = ElectrumSession(rpc), options.verify_merkle
        Client.__init__(
            self, session, name=rpc.name, network=options.network, plugin=PLUGIN, verify_merkle=spv
        )

    # -- pushes: what `watch()` waits on (each scan subscribes the tip and its scripts) ---

    @property
    def notifications(self) -> int:
        """How many notifications (new block, script status change) the server sent."""
        return self.connection.rpc.notifications

    def wait_for_notification(self, seen: int, timeout: float | None) -> bool:
        """Block until more than `seen` notifications came; False when `timeout` elapses.
        Reconnects (restoring the subscriptions) if the connection dropped."""
        return self.connection.rpc.wait_for_notification(seen, timeout)
