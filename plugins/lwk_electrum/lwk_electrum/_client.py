"""ElectrumClient: LWK's Python constructor, on top of lwk_core's Client."""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import TYPE_CHECKING

from lwk_core import Client, Network, Update

from ._connection import BATCH_SIZE, MAX_LINE, ElectrumConnection
from ._endpoint import Endpoint, normalize_fingerprint
from ._session import ElectrumSession
from ._watch import watch

if TYPE_CHECKING:
    from lwk_core import Wollet

__all__ = ["ElectrumClient"]

log = logging.getLogger("lwk_electrum")

PLUGIN = "lwk_electrum._plugin"  # the module of the hooks, as the entry point names it


class ElectrumClient(Client):
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

    def __init__(
        self,
        electrum_url: str,
        tls: bool = True,
        validate_domain: bool = True,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        cert_fingerprint: str | None = None,
        network: Network | None = None,
        verify_merkle: bool = False,
        batch_size: int = BATCH_SIZE,
        max_line: int = MAX_LINE,
    ) -> None:
        self._init(
            Endpoint.from_host_port(electrum_url, bool(tls)),
            validate_domain=validate_domain,
            timeout=timeout,
            connect_timeout=connect_timeout,
            cert_fingerprint=cert_fingerprint,
            network=network,
            verify_merkle=verify_merkle,
            batch_size=batch_size,
            max_line=max_line,
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        validate_domain: bool = True,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        cert_fingerprint: str | None = None,
        network: Network | None = None,
        verify_merkle: bool = False,
        batch_size: int = BATCH_SIZE,
        max_line: int = MAX_LINE,
    ) -> ElectrumClient:
        """A client for "ssl://host:port" (TLS) or "tcp://host:port" (plain TCP)."""
        client = cls.__new__(cls)
        client._init(
            Endpoint.from_url(url),
            validate_domain=validate_domain,
            timeout=timeout,
            connect_timeout=connect_timeout,
            cert_fingerprint=cert_fingerprint,
            network=network,
            verify_merkle=verify_merkle,
            batch_size=batch_size,
            max_line=max_line,
        )
        return client

    def _init(
        self,
        endpoint: Endpoint,
        *,
        validate_domain: bool,
        timeout: float,
        connect_timeout: float,
        cert_fingerprint: str | None,
        network: Network | None,
        verify_merkle: bool,
        batch_size: int,
        max_line: int,
    ) -> None:
        pin = None if cert_fingerprint is None else normalize_fingerprint(cert_fingerprint)
        if pin is not None and not endpoint.tls:
            raise ValueError("cert_fingerprint needs a TLS connection")
        rpc = ElectrumConnection(
            endpoint,
            timeout=timeout,
            connect_timeout=connect_timeout,
            validate_domain=bool(validate_domain),
            cert_fingerprint=pin,
            max_line=max_line,
            batch_size=batch_size,
        )
        if endpoint.tls and not validate_domain and pin is None:
            log.warning(
                "%s: TLS certificate validation is off (validate_domain=False): the traffic is"
                " encrypted but the server is not authenticated; prefer cert_fingerprint",
                rpc.name,
            )
        session = ElectrumSession(rpc, verify_merkle=verify_merkle)
        super().__init__(session, name=rpc.name, network=network, plugin=PLUGIN)

    def watch(
        self, wollet: Wollet, *, gap_limit: int = 20, timeout: float | None = None
    ) -> Generator[Update, None, None]:
        """Sync now, then again on every new block or wallet script status change.

        Yields each Update (apply it to `wollet` before asking for the next). Ends when
        `timeout` seconds of watching bring no Update (None: never), however many
        notifications the server sends. Reconnects after drops.
        """
        return watch(self, self.connection.rpc, wollet, gap_limit=gap_limit, timeout=timeout)
