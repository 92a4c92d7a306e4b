"""The network backend under an Esplora client's connection pools: what httpx offers no
argument or hook for.

- Deadlines (blocking client): each socket operation of a request ends by its deadline
  (`_deadline`; the async client bounds a request with an anyio cancel scope instead).
- Certificate pin: checked on each TLS stream right after its handshake, before the first
  request (a pin checked on the response would come after the request, and its headers,
  went to the wrong server).
- Proxies: a failed TCP connect from a proxy's pool (where every connect goes to the
  proxy) is a ProxyUnreachable.

httpx has no argument for httpcore's network backend, so the pool of each of the client's
transports (direct, and proxies from the arguments or the environment) is wrapped in place;
a transport the caller supplied that is not httpx's own is left alone. httpx and httpcore
let our exceptions through unchanged. tests/reliability/test_hostile_servers.py and
tests/connectivity fail if a new httpx or httpcore moves these attributes.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from lwk_core.plugin import CertificatePinMismatch, ProxyUnreachable, ca_context, check_pin

from ._deadline import left

__all__ = ["install_network", "shared_verify", "tls_verify"]


def tls_verify(
    verify: ssl.SSLContext | bool,
    ca_file: str | os.PathLike[str] | None,
    pin: bytes | None,
) -> ssl.SSLContext | bool:
    """httpx's `verify` for these options: a pin replaces CA validation (the pin is then
    checked by `install_network`), `ca_file` (PEM) replaces the default CAs (certifi's;
    InvalidArgument if it cannot be loaded)."""
    if pin is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context
    if ca_file is not None:
        return ca_context(ca_file)
    return verify


def shared_verify(verify: ssl.SSLContext | bool, trust_env: bool) -> ssl.SSLContext | bool:
    """`verify` as httpx takes it, with httpx's default (True) made once per process:
    httpx loads certifi's CA bundle for every client otherwise (about 20 ms, far more on a
    loaded machine), even for a plain http:// server. The same CAs as httpx's own default:
    certifi's, or SSL_CERT_FILE / SSL_CERT_DIR with `trust_env`, read at each call."""
    if verify is not True:
        return verify
    env = os.environ if trust_env else {}
    return _default_context(trust_env, env.get("SSL_CERT_FILE"), env.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _default_context(
    trust_env: bool, cert_file: str | None, cert_dir: str | None
) -> ssl.SSLContext:
    """httpx's default context for these settings (the files are part of the cache key)."""
    return httpx.create_ssl_context(verify=True, trust_env=trust_env)


def install_network(client: httpx.Client | httpx.AsyncClient, pin: bytes | None, name: str) -> None:
    """Wrap the network backend of each of `client`'s pools (before it opens a connection)."""
    for pattern, transport in [(None, client._transport), *client._mounts.items()]:
        proxied = pattern is not None
        if isinstance(transport, httpx.HTTPTransport):
            pool = transport._pool
            pool._network_backend = _Backend(pool._network_backend, pin, proxied, name)
        elif isinstance(transport, httpx.AsyncHTTPTransport):
            apool = transport._pool
            apool._network_backend = _AsyncBackend(apool._network_backend, pin, proxied, name)


class _Checks:
    def __init__(self, pin: bytes | None, proxied: bool, name: str) -> None:
        self.pin = pin
        self.proxied = proxied
        self.name = name

    def mismatch(
        self, stream: httpcore.NetworkStream | httpcore.AsyncNetworkStream
    ) -> CertificatePinMismatch | None:
        """The error if the TLS stream's certificate is not the pinned one (with a pin)."""
        if self.pin is None:
            return None
        ssl_object = stream.get_extra_info("ssl_object")
        try:
            check_pin(ssl_object.getpeercert(True), self.pin, backend=self.name)
        except CertificatePinMismatch as error:
            return error
        return None

    def unreachable(self, host: str, port: int, exc: httpcore.ConnectError) -> ProxyUnreachable:
        """The error for a failed connect to the proxy (`host:port`, no credentials)."""
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return ProxyUnreachable(f"cannot reach the proxy {where}: {exc}", backend=self.name)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, checks: _Checks) -> None:
        self._inner = inner
        self._checks = checks

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.start_tls(
            ssl_context, server_hostname, left(timeout, httpcore.ConnectTimeout)
        )
        error = self._checks.mismatch(stream)
        if error is not None:
            stream.close()
            raise error
        return _Stream(stream, self._checks)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(
        self, inner: httpcore.NetworkBackend, pin: bytes | None, proxied: bool, name: str
    ) -> None:
        self._inner = inner
        self._checks = _Checks(pin, proxied, name)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        budget = left(timeout, httpcore.ConnectTimeout)
        try:
            stream = self._inner.connect_tcp(host, port, budget, local_address, socket_options)
        except httpcore.ConnectError as exc:
            if self._checks.proxied:
                raise self._checks.unreachable(host, port, exc) from exc
            raise
        return _Stream(stream, self._checks)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        budget = left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, budget, socket_options), self._checks)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream, checks: _Checks) -> None:
        self._inner = inner
        self._checks = checks

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        error = self._checks.mismatch(stream)
        if error is not None:
            await stream.aclose()
            raise error
        return _AsyncStream(stream, self._checks)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(
        self, inner: httpcore.AsyncNetworkBackend, pin: bytes | None, proxied: bool, name: str
    ) -> None:
        self._inner = inner
        self._checks = _Checks(pin, proxied, name)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            stream = await self._inner.connect_tcp(
                host, port, timeout, local_address, socket_options
            )
        except httpcore.ConnectError as exc:
            if self._checks.proxied:
                raise self._checks.unreachable(host, port, exc) from exc
            raise
        return _AsyncStream(stream, self._checks)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, timeout, socket_options)
        return _AsyncStream(stream, self._checks)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
