"""The proxy of an Esplora client: `proxy=` or, with `trust_env`, the environment's
(HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY, read by httpx as curl does).

SOCKS5 proxies (Tor) need socksio, the `lwk-esplora[socks]` extra: its absence is an
ExtraNotInstalled when the client is built, not an ImportError at its first request.
Through a SOCKS5 proxy httpx (httpcore) always sends the server's host name unresolved
(RFC 1928 address type DOMAINNAME), for socks5:// as for socks5h://: `.onion` hosts work
and no server name reaches the local resolver.

httpcore's debug trace of a SOCKS handshake shows the proxy's username and password
(`auth=(b'user', b'password')` on the "httpcore.socks" logger): a filter on that logger
hides them, so that a proxy login never reaches an application's logs.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from urllib.request import getproxies

import httpx

from lwk_core import InvalidArgument
from lwk_core.plugin import ExtraNotInstalled

__all__ = ["EXTRA", "checked_proxy"]

EXTRA = "lwk-esplora[socks]"
_SOCKS = ("socks5", "socks5h")
_SCHEMES = ("http", "https", *_SOCKS)
_AUTH = re.compile(r"\bauth=.*", re.DOTALL)  # the last argument of httpcore's trace line


class _HideProxyLogin(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "auth=" in record.msg:
            record.msg = _AUTH.sub("auth=<hidden>", record.msg)
        return True


logging.getLogger("httpcore.socks").addFilter(_HideProxyLogin())


def checked_proxy(proxy: str | None, *, trust_env: bool) -> str | None:
    """`proxy` as httpx takes it (socks5h:// spelt socks5://, which httpx before 0.28 needs
    and which means the same to httpcore); raises if a proxy that applies cannot be used."""
    if proxy is None:
        if trust_env:  # the environment's, as httpx will read it (ALL_PROXY=socks5h://...)
            for from_env in getproxies().values():
                _check_socks_extra(from_env.partition("://")[0].lower())
        return None
    try:
        url = httpx.URL(proxy) if isinstance(proxy, str) else None
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in _SCHEMES or not url.host:
        raise InvalidArgument(
            "proxy must be a URL such as 'socks5h://127.0.0.1:9050' or 'http://host:port'"
        )
    _check_socks_extra(url.scheme)
    return str(url.copy_with(scheme="socks5")) if url.scheme == "socks5h" else proxy


def _check_socks_extra(scheme: str) -> None:
    if scheme in _SOCKS and importlib.util.find_spec("socksio") is None:
        raise ExtraNotInstalled("a SOCKS proxy", EXTRA)
