"""SOCKS5 (Tor and the like) under both Electrum transports, through python-socks, the
`lwk-electrum[socks]` extra.

Host names always go to the proxy unresolved (RFC 1928 address type DOMAINNAME, what
curl calls socks5h), whichever of socks5:// and socks5h:// the URL says: `.onion` hosts
work, and no server name reaches the local resolver. Only the proxy's own host is
resolved here. Credentials in the URL (Tor uses them to isolate circuits) are sent to the
proxy and never shown: `url` and errors name the proxy by host and port.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs

from lwk_core import InvalidArgument
from lwk_core.plugin import (
    BackendError,
    BackendTimeout,
    ExtraNotInstalled,
    ProxyRefused,
    ProxyUnreachable,
)

__all__ = ["SocksProxy"]

_SCHEMES = ("socks5", "socks5h")
EXTRA = "lwk-electrum[socks]"


@attrs.frozen
class SocksProxy:
    """A SOCKS5 proxy; `connect` and `connect_async` open a socket to a server through it."""

    host: str
    port: int
    username: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"socks5h://{host}:{self.port}"

    @classmethod
    def from_url(cls, url: str) -> SocksProxy:
        """Parse "socks5h://[user:password@]host:port"; ExtraNotInstalled without python-socks."""
        try:
            parts = urlsplit(url) if isinstance(url, str) else None
            host, port = (parts.hostname, parts.port) if parts else (None, None)
        except ValueError:
            parts, host, port = None, None, None
        if parts is None or parts.scheme.lower() not in _SCHEMES or not host or not port:
            raise InvalidArgument("proxy must be a SOCKS5 URL: 'socks5h://host:port'")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise InvalidArgument("a proxy URL has no path, query or fragment")
        if importlib.util.find_spec("python_socks") is None:
            raise ExtraNotInstalled("a SOCKS proxy", EXTRA)
        user = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(host, port, user, password)

    def connect(self, host: str, port: int, timeout: float, *, backend: str) -> socket.socket:
        """A blocking socket to `host:port` through the proxy (connect and handshake within
        `timeout`)."""
        # python-socks 2.5.0 (the oldest supported, tested by tox -e mindeps) has no py.typed
        from python_socks.sync import Proxy  # type: ignore[import-untyped,unused-ignore]

        with self._mapped(timeout, backend):
            sock: socket.socket = Proxy(**self._arguments()).connect(host, port, timeout=timeout)
        return sock

    async def connect_async(
        self, host: str, port: int, timeout: float, *, backend: str
    ) -> socket.socket:
        """The same for asyncio: a non-blocking socket for `asyncio.open_connection(sock=)`."""
        from python_socks.async_.asyncio import Proxy  # type: ignore[import-untyped,unused-ignore]

        with self._mapped(timeout, backend):
            proxy = Proxy(**self._arguments())  # binds to the running loop
            sock: socket.socket = await proxy.connect(host, port, timeout=timeout)
        return sock

    def _arguments(self) -> dict[str, Any]:
        from python_socks import ProxyType  # type: ignore[import-untyped,unused-ignore]

        return {
            "proxy_type": ProxyType.SOCKS5,
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "rdns": True,  # the proxy resolves the server's name
        }

    @contextlib.contextmanager
    def _mapped(self, timeout: float, backend: str) -> Iterator[None]:
        """python-socks's exceptions (and socket errors) as ours; others pass unchanged."""
        try:
            yield
        except Exception as e:
            error = self._error(e, timeout, backend)
            if error is None:
                raise
            raise error from e

    def _error(self, e: Exception, timeout: float, backend: str) -> BackendError | None:
        """python-socks's exception as ours (None: not a proxy or socket error); its texts
        hold no credentials."""
        from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

        if isinstance(e, ProxyTimeoutError | TimeoutError):
            return BackendTimeout(
                f"no connection through the proxy {self.url} within {timeout:g}s", backend=backend
            )
        if isinstance(e, ProxyConnectionError):
            cause = e.__cause__ if isinstance(e.__cause__, OSError) else e
            reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(e)
            return ProxyUnreachable(f"cannot reach the proxy {self.url}: {reason}", backend=backend)
        if isinstance(e, ProxyError | OSError):
            return ProxyRefused(f"the proxy {self.url} did not connect: {e}", backend=backend)
        return None
