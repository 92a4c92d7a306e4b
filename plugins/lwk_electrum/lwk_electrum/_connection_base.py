"""What both connection drivers share: settings, the protocol core, the TLS context and
the certificate check, the proxy."""

from __future__ import annotations

import ssl
from collections import Counter
from typing import Any, Final

from lwk_core.auth import TokenProvider, bearer
from lwk_core.plugin import check_pin

from ._endpoint import Endpoint
from ._framing import MAX_LINE
from ._pins import PinFile
from ._protocol import ElectrumProtocol
from ._socks import SocksProxy
from ._subscriptions import Listener
from ._tls import tls_context

__all__ = ["BATCH_SIZE", "MAX_LINE", "ConnectionBase"]

BATCH_SIZE: Final = 100


class ConnectionBase:
    """One server's connection settings and protocol state; constructing it does no I/O.
    A subclass performs the protocol's I/O events (`_write`, `_recv`)."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        validate_domain: bool = True,
        cert_fingerprint: bytes | None = None,
        ca: ssl.SSLContext | None = None,
        pins: PinFile | None = None,
        proxy: SocksProxy | None = None,
        max_line: int = MAX_LINE,
        batch_size: int = BATCH_SIZE,
        auth: TokenProvider | None = None,
    ) -> None:
        if not (timeout > 0 and connect_timeout > 0):
            raise ValueError("timeouts must be positive numbers of seconds")
        if max_line < 1024 or batch_size < 1:
            raise ValueError("max_line must be >= 1024 and batch_size >= 1")
        self.endpoint = endpoint
        self.name = endpoint.url
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.validate_domain = validate_domain
        self.protocol = ElectrumProtocol(
            backend=self.name, timeout=self.timeout, batch_size=batch_size, max_line=max_line
        )
        self._pin = cert_fingerprint
        self._pins = pins
        self._ca = ca
        self.proxy = proxy
        self.auth = auth
        self._ssl_context: ssl.SSLContext | None = None
        self.connects = 0
        self._init_io()

    def _init_io(self) -> None:
        """Set up the driver's state: no stream yet, its locks."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {'open' if self.connected else 'closed'}>"

    @property
    def connected(self) -> bool:
        raise NotImplementedError

    @property
    def notifications(self) -> int:
        return self.protocol.subscriptions.notifications

    @property
    def requests(self) -> Counter[str]:
        return self.protocol.requests

    @property
    def server_version(self) -> Any:
        return self.protocol.server_version

    def add_listener(self, listener: Listener) -> None:
        self.protocol.subscriptions.listeners.append(listener)

    def _use_token(self, token: str | None) -> str | None:
        """Send `token` (from `auth`) with the requests from now on."""
        self.protocol.authorization = None if token is None else bearer(token)
        return token

    def _renew(self, token: str | None) -> bool:
        """The server refused the connection's `token`: whether to reconnect once with a
        renewed one (the proxy checks a connection's first request, and closes it)."""
        return token is not None and self.auth is not None and self.auth.refused(token)

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            pinned = self._pin is not None or self._pins is not None
            self._ssl_context = tls_context(self.validate_domain, pinned, self._ca)
        return self._ssl_context

    def _check_certificate(self, der: bytes | None) -> None:
        """Raise unless the server's certificate (DER) is the pinned one: given, or the one
        first seen (pinned now if this is the first)."""
        pin = self._pin
        if pin is None and self._pins is not None:
            pin = self._pins.pin_for(self.endpoint.url, der or b"")
        if pin is not None:
            check_pin(der, pin, backend=self.name)
