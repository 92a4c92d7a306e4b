"""A deadline that every socket operation of a request obeys, whatever the server sends.

httpx's timeouts apply to each read, so a server that sends something before each read
times out (a status line or headers dripped a byte at a time, an endless run of `1xx`
answers, a gzip body of empty deflate blocks) keeps a request alive for as long as it
likes. The network backend below wraps httpcore's: each connect, TLS handshake, read and
write of the thread's current request gets at most the time left until its deadline, and
none starts past it (httpcore.ReadTimeout and friends, which httpx maps to its own).
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

__all__ = ["install_deadlines", "until"]

_local = threading.local()


@contextlib.contextmanager
def until(deadline: float) -> Iterator[None]:
    """Socket operations of this thread end by `deadline` (time.monotonic) in this block."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = previous


def _left(timeout: float | None, expired: type[httpcore.TimeoutException]) -> float | None:
    """The timeout an operation gets: the caller's, capped by what remains of the deadline."""
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise expired("the request's deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install_deadlines(client: httpx.Client) -> None:
    """Make the connections `client` opens obey `until` (before it opens any).

    httpx offers no argument for httpcore's network backend, so the pool of each of the
    client's transports (direct, and proxies from the arguments or the environment) is
    wrapped in place; a transport the caller supplied that is not an httpx.HTTPTransport
    is left alone. tests/reliability/test_hostile_servers.py fails if a new httpx or
    httpcore moves these attributes.
    """
    for transport in [client._transport, *client._mounts.values()]:
        if isinstance(transport, httpx.HTTPTransport):
            pool = transport._pool
            if not isinstance(pool._network_backend, _Backend):
                pool._network_backend = _Backend(pool._network_backend)
