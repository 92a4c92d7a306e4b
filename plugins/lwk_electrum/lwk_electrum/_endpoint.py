"""Where an Electrum server lives: host, port, TLS or not; parsed from the user's strings."""

from __future__ import annotations

from urllib.parse import urlsplit

import attrs

__all__ = ["Endpoint"]

_SCHEMES = {"tcp": False, "ssl": True}


@attrs.frozen
class Endpoint:
    """A server address; `url` (scheme://host:port) is what logs and errors show."""

    host: str
    port: int
    tls: bool

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'ssl' if self.tls else 'tcp'}://{host}:{self.port}"

    @classmethod
    def from_host_port(cls, host_port: str, tls: bool) -> Endpoint:
        """Parse "host:port" (IPv6 as "[::1]:port"), the form LWK's ElectrumClient takes."""
        if not isinstance(host_port, str) or "://" in host_port:
            raise ValueError(
                "electrum_url must be 'host:port' (use ElectrumClient.from_url for"
                " 'ssl://host:port' or 'tcp://host:port')"
            )
        return cls._split(host_port, tls)

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        """Parse "ssl://host:port" or "tcp://host:port"."""
        scheme, sep, rest = url.partition("://") if isinstance(url, str) else ("", "", "")
        if not sep or scheme.lower() not in _SCHEMES:
            raise ValueError("an Electrum URL is 'ssl://host:port' or 'tcp://host:port'")
        if rest.rstrip("/").count("/") or "@" in rest or "?" in rest or "#" in rest:
            raise ValueError("an Electrum URL has no path, credentials, query or fragment")
        return cls._split(rest.rstrip("/"), _SCHEMES[scheme.lower()])

    @classmethod
    def _split(cls, host_port: str, tls: bool) -> Endpoint:
        try:
            parts = urlsplit("//" + host_port)
            host, port = parts.hostname, parts.port
        except ValueError:
            host, port = None, None
        if not host or port is None or parts.path or parts.query or parts.username:
            raise ValueError("expected 'host:port' with a numeric port")
        if port == 0:
            raise ValueError("port 0 is not a server port")
        return cls(host, port, tls)
