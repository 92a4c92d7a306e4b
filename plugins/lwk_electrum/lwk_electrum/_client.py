"""ElectrumClient: LWK's Python constructor, on top of lwk_core's Client."""

from __future__ import annotations

from typing import Any

from lwk_core import Client

from ._connection import ElectrumConnection
from ._options import ElectrumConstructors, ElectrumOptions
from ._session import ElectrumSession, SessionState

__all__ = ["ElectrumClient", "ScriptChanges"]

PLUGIN = "lwk_electrum._plugin"  # the module of the hooks, as the entry point names it


class ScriptChanges:
    """What lwk_core's monitors ask to skip a wallet nothing changed since its last scan
    (no I/O): the scripts the server pushed a new status for since a mark."""

    connection: SessionState[Any]

    def change_mark(self) -> object:
        """Now, for `changed_since`."""
        return self.connection.change_mark()

    def changed_since(self, mark: Any) -> set[bytes] | None:
        """The scripts whose history may have changed since `mark`: pushed as changed, or
        asked without a subscription (the server's cap). None when any may have: a new tip
        came, or statuses were voided (a new connection, a broadcast) since."""
        return self.connection.changed_since(mark)


class ElectrumClient(ScriptChanges, ElectrumConstructors, Client):
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

    def receive(self) -> None:
        """Read what the server sent meanwhile, if connected (no request): its pushes, or
        the end of the connection (reconnecting, the subscriptions restored), so that
        `changed_since` tells what changed up to now."""
        if self.connection.rpc.connected:
            self.connection.rpc.refresh()
