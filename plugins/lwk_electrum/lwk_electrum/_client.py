"""ElectrumClient: LWK's Python constructor, on top of lwk_core's Client."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

from lwk_core import Client, Update

from ._connection import ElectrumConnection
from ._options import ElectrumConstructors, ElectrumOptions
from ._session import ElectrumSession
from ._watch import watch

if TYPE_CHECKING:
    from lwk_core import Wollet

__all__ = ["ElectrumClient"]

PLUGIN = "lwk_electrum._plugin"  # the module of the hooks, as the entry point names it


class ElectrumClient(ElectrumConstructors, Client):
    """A client for an Electrum server (Blockstream electrs or compatible).

    `ElectrumClient("host:port", tls, validate_domain)` as in LWK, or
    `ElectrumClient.from_url("ssl://host:port")`. TLS validates the certificate and host
    name by default; `cert_fingerprint` (SHA-256 of the DER certificate, hex) pins a
    self-signed certificate instead; `validate_domain=False` turns validation off and logs
    a warning. Construction does no network I/O: the first call connects, and a dropped
    connection is reopened by the next call. `verify_merkle=True` checks a Merkle proof
    for every confirmed transaction a scan reports.
    """

    connection: ElectrumSession

    def _setup(self, options: ElectrumOptions) -> None:
        rpc = ElectrumConnection(options.endpoint, **options.connection_kwargs())
        session = ElectrumSession(rpc, verify_merkle=options.verify_merkle)
        Client.__init__(self, session, name=rpc.name, network=options.network, plugin=PLUGIN)

    def watch(
        self, wollet: Wollet, *, gap_limit: int = 20, timeout: float | None = None
    ) -> Generator[Update, None, None]:
        """Sync now, then again on every new block or wallet script status change.

        Yields each Update (apply it to `wollet` before asking for the next). Ends when
        `timeout` seconds of watching bring no Update (None: never), however many
        notifications the server sends. Reconnects after drops.
        """
        return watch(self, self.connection.rpc, wollet, gap_limit=gap_limit, timeout=timeout)
