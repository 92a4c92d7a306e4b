"""One Esplora HTTP exchange without I/O: settings, answer checks, capped bodies, errors.

Both transports (`_http.HttpSession`, `_ahttp.AsyncHttpSession`) send the request and feed
what arrives here:

- `Settings` checks the constructor arguments and names the server (never the path: it
  holds script hashes, nor the headers: they may hold tokens);
- `Answer` takes the status and headers (gateway errors, redirects and declared sizes
  refused), then the raw body chunks, decoded as they come and capped on the decoded
  bytes (`_decode`: gzip only, never inflating more than the cap at once), and gives the
  `Reply`;
- `mapped_errors` turns httpx exceptions (and a passed deadline) into the lwk_core error
  tree.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import re
import ssl
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import TypedDict

import attrs
import httpcore
import httpx

from lwk_core import InvalidArgument
from lwk_core.auth import TokenProvider, as_token_provider, bearer, refuse_insecure
from lwk_core.plugin import (
    BackendConnectError,
    BackendProtocolError,
    BackendTimeout,
    CertificateRejected,
    Network,
    ProxyRefused,
    parse_fingerprint,
)

from ._decode import ACCEPT_ENCODING, BodyDecoder, EncodingRefused
from ._network import shared_verify, tls_verify
from ._proxy import checked_proxy

__all__ = [
    "DEADLINE_FACTOR",
    "HTTP2",
    "MAX_BODY",
    "STREAM_HEADERS",
    "Answer",
    "AsyncStreamed",
    "Options",
    "Reply",
    "Settings",
    "Streamed",
    "Template",
    "TooSlow",
    "auth_headers",
    "core_headers",
    "mapped_errors",
]

MAX_BODY = 4 * 1024 * 1024
"""Largest body accepted: above any JSON page or text answer, and any valid Elements tx
(a block weighs at most 4,000,000 units, so no transaction serializes to more bytes)."""

HTTP2 = importlib.util.find_spec("h2") is not None
DEADLINE_FACTOR = 2.0  # the server's time per request, all attempts together, in timeouts
_ERROR_BODY_CAP = 16 * 1024  # error texts are short; longer ones are truncated, not fatal
_HASH = re.compile(r"[0-9a-fA-F]{64}")
_USER_AGENT = "lwk-esplora/0.1"


@attrs.frozen
class Reply:
    """A complete HTTP answer: status, body (capped) and the headers we act on."""

    status: int
    body: bytes = attrs.field(repr=False)
    retry_after: str | None = None

    def message(self, *, elide: bool = True) -> str:
        """The body as printable text for error messages: short and with hashes elided
        (they may identify the wallet's scripts) unless `elide` is False."""
        text = self.body.decode("utf-8", "replace").strip()
        if elide:
            text = _HASH.sub("<hash>", text[:300])
        return "".join(ch if ch.isprintable() else "?" for ch in text) or "(empty body)"


class Options(TypedDict, total=False):
    """The keyword arguments of both Esplora clients (and of `connect` for http URLs)."""

    timeout: float
    concurrency: int
    headers: Mapping[str, str] | None
    proxy: str | None
    trust_env: bool
    max_retries: int
    verify: ssl.SSLContext | bool
    ca_file: str | os.PathLike[str] | None
    cert_fingerprint: str | None
    token: str | TokenProvider | None
    allow_insecure_auth: bool


class Settings:
    """What both transports of one server are built with, checked; no I/O."""

    def __init__(
        self,
        url: str,
        network: Network,
        *,
        timeout: float = 30.0,
        concurrency: int = 16,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        max_retries: int = 5,
        verify: ssl.SSLContext | bool = True,
        ca_file: str | os.PathLike[str] | None = None,
        cert_fingerprint: str | None = None,
        token: str | TokenProvider | None = None,
        allow_insecure_auth: bool = False,
    ) -> None:
        if not isinstance(network, Network):
            raise TypeError("network must be a lwk_core.Network, e.g. Network.LIQUID_TESTNET")
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise ValueError("timeout must be a finite number of seconds > 0")
        if not (isinstance(concurrency, int) and concurrency >= 1):
            raise ValueError("concurrency must be an integer >= 1")
        if not (isinstance(max_retries, int) and max_retries >= 0):
            raise ValueError("max_retries must be an integer >= 0")
        self.base = _parse_base_url(url)
        port = self.base.port or (443 if self.base.scheme == "https" else 80)
        host = f"[{self.base.host}]" if ":" in self.base.host else self.base.host
        self.name = f"{self.base.scheme}://{host}:{port}"
        self.timeout = float(timeout)
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.headers = {
            "User-Agent": _USER_AGENT,
            **dict(headers or {}),
            "Accept-Encoding": ACCEPT_ENCODING,  # the only encoding `_decode` inflates
        }
        self.trust_env = bool(trust_env)
        self.proxy = checked_proxy(proxy, trust_env=self.trust_env)
        self.pin = _tls_pin(self.base, verify, ca_file, cert_fingerprint)
        self.verify = tls_verify(verify, ca_file, self.pin)
        self.auth = as_token_provider(token)
        if self.auth is not None or any(k.lower() == "authorization" for k in self.headers):
            refuse_insecure(
                self.name,
                encrypted=self.base.scheme == "https",
                allow_insecure_auth=allow_insecure_auth,
            )

    def client_arguments(self) -> dict[str, object]:
        """The arguments of the httpx client (sync or async) of this server.

        Its pool holds `concurrency` connections, all kept alive, and at most that many
        requests reach it at once (each transport's slots), so a request never queues in
        httpx: a queued request can get a connection that another one then closes under it
        (httpcore issue #1110).
        """
        return {
            "base_url": self.base,
            "headers": self.headers,
            "timeout": httpx.Timeout(self.timeout),
            "limits": httpx.Limits(
                max_connections=self.concurrency,
                max_keepalive_connections=self.concurrency,
            ),
            "http2": HTTP2,
            "proxy": self.proxy,
            "trust_env": self.trust_env,
            "verify": shared_verify(self.verify, self.trust_env),
            "follow_redirects": False,
        }

    def too_slow(self) -> str:
        limit = self.timeout * DEADLINE_FACTOR
        return f"no complete answer within {limit:g}s ({DEADLINE_FACTOR:g} x timeout)"


STREAM_HEADERS = {"Accept": "text/event-stream", "Accept-Encoding": "identity"}
"""An event stream's request: read as it comes, so not compressed."""


@attrs.frozen
class Streamed:
    """An answer whose body is read as it arrives: its status and its raw chunks."""

    status: int
    chunks: Iterator[bytes]


@attrs.frozen
class AsyncStreamed:
    """`Streamed` of the async transport."""

    status: int
    chunks: AsyncIterator[bytes]


def auth_headers(token: str | None) -> dict[str, str] | None:
    """The request's own headers: the bearer token of the attempt, if any."""
    return None if token is None else {"Authorization": bearer(token)}


class Template:
    """What every request to one server shares, merged once: httpx.Client's `build_request`
    merges the base URL, headers, cookies and timeout again for each request, and its
    `send` looks up the proxy, wraps the stream and logs the URL (which holds script
    hashes) at INFO.

    The transports send through the client's transport for the base URL (the proxy's when
    one applies): a transport httpx built is skipped too, down to its httpcore pool
    (`core`), since checking and wrapping the URL, the headers and the response in
    httpx's models costs as much CPU as the exchange itself; a transport the caller gave is
    sent `request(...)`, httpx's own request.
    """

    def __init__(self, client: httpx.Client | httpx.AsyncClient, settings: Settings) -> None:
        self.prefix = str(client.base_url)  # ends in "/"
        self.headers = client.headers
        self.extensions = {"timeout": httpx.Timeout(settings.timeout).as_dict()}
        # httpx's own request carries the Host header httpcore needs (HTTP/1.1: RFC 9112
        # section 3.2; HTTP/2: its :authority); a POST adds its Content-Length
        base = client.build_request("GET", client.base_url)
        self._origin = httpcore.URL(
            scheme=base.url.raw_scheme, host=base.url.raw_host, port=base.url.port, target=b"/"
        )
        self._target = base.url.raw_path  # ends in b"/"
        self._core_headers = list(base.headers.raw)

    def request(
        self, method: str, path: str, content: bytes | None, token: str | None
    ) -> httpx.Request:
        """`method` on `path` (under the base URL), with the attempt's bearer token."""
        headers = self.headers
        if token is not None:
            headers = headers.copy()
            headers["Authorization"] = bearer(token)
        return httpx.Request(
            method,
            self.prefix + path.lstrip("/"),
            content=content,
            headers=headers,
            extensions=self.extensions,
        )

    def core(
        self, method: str, path: str, content: bytes | None, token: str | None
    ) -> httpcore.Request:
        """`request` for httpcore's pool: the same method, target and headers."""
        headers = self._core_headers
        if content is not None or token is not None:
            headers = headers.copy()
            if content is not None:
                headers.append((b"Content-Length", b"%d" % len(content)))
            if token is not None:
                headers.append((b"Authorization", bearer(token).encode("latin-1")))
        origin = self._origin
        url = httpcore.URL(
            scheme=origin.scheme,
            host=origin.host,
            port=origin.port,
            target=self._target + path.lstrip("/").encode("ascii"),
        )
        return httpcore.Request(
            method, url, headers=headers, content=content, extensions=self.extensions
        )


_READ_HEADERS = frozenset((b"retry-after", b"content-length", b"content-encoding"))


def core_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The headers `Answer` reads, from httpcore's raw list: names lower case, repeated
    ones joined by ", " (as httpx.Headers.get gives them)."""
    found: dict[str, str] = {}
    for name, value in raw:
        key = name.lower()
        if key in _READ_HEADERS:
            text, seen = value.decode("latin-1"), found.get(key.decode("latin-1"))
            found[key.decode("latin-1")] = text if seen is None else f"{seen}, {text}"
    return found


class TooSlow(Exception):
    """The deadline passed while a body was read."""


class Answer:
    """One response as it arrives: its head checked, its body decoded and capped."""

    def __init__(
        self,
        name: str,
        what: str,
        status: int,
        headers: Mapping[str, str],
        deadline: float,
        in_memory: bytes | None = None,
    ) -> None:
        """`headers` answers `get` for lower-case names (httpx.Headers, `core_headers`);
        `in_memory`: the whole body, read and decoded already (`of_httpx`)."""
        self.name = name
        self.what = what
        self.status = status
        self.deadline = deadline
        self.retry_after = headers.get("retry-after")
        if status in (502, 504):
            error = BackendTimeout if status == 504 else BackendConnectError
            raise error(f"HTTP {status} from a gateway on {what}", backend=name)
        if 300 <= status < 400:
            raise BackendProtocolError(
                f"HTTP {status} redirect on {what}: configure the final URL", backend=name
            )
        # An error text is read only so far (and an undecodable one is empty); an answer
        # must fit the cap, declared or decoded.
        self.truncate = status != 200
        self.cap = _ERROR_BODY_CAP if self.truncate else MAX_BODY
        declared = headers.get("content-length", "")
        if not self.truncate and declared.isdigit() and int(declared) > MAX_BODY:
            raise BackendProtocolError(
                f"{what}: answer of {declared} bytes exceeds the {MAX_BODY} byte cap",
                backend=name,
            )
        self.body = bytearray()
        self.over = self.refused = False
        self.decoder: BodyDecoder | None = None
        with self._encoding():
            self.decoder = BodyDecoder(headers.get("content-encoding"))
        self.in_memory = in_memory

    @classmethod
    def of_httpx(cls, name: str, what: str, response: httpx.Response, deadline: float) -> Answer:
        """The answer in an httpx.Response (a custom transport's in-memory response: httpx
        read and decoded it already)."""
        in_memory = response.content if response.is_stream_consumed else None
        return cls(name, what, response.status_code, response.headers, deadline, in_memory)

    @contextlib.contextmanager
    def _encoding(self) -> Iterator[None]:
        try:
            yield
        except EncodingRefused:
            if not self.truncate:
                raise
            self.refused = True

    def feed(self, chunk: bytes) -> bool:
        """Take the next raw chunk; False: stop reading (the connection is then closed,
        not reused). TooSlow past the deadline."""
        if time.monotonic() > self.deadline:
            raise TooSlow
        if self.decoder is None or self.refused:
            return False
        with self._encoding():
            for piece in self.decoder.decode(chunk):
                self.body += piece
                if len(self.body) > self.cap:
                    self.over = True
                    return False
        return not self.refused

    def read(self, chunks: Iterable[bytes]) -> Reply:
        """The answer, reading the raw body from `chunks` unless it is in memory."""
        if self.in_memory is None:
            for chunk in chunks:
                if not self.feed(chunk):
                    break
        return self.reply()

    def reply(self) -> Reply:
        """The answer once the body ended or reading stopped."""
        if self.in_memory is not None:
            self.body = bytearray(self.in_memory)
            self.over = len(self.body) > self.cap
        elif self.decoder is not None and not (self.over or self.refused):
            with self._encoding():
                self.decoder.finish()
        if self.over and not self.truncate:
            raise BackendProtocolError(
                f"{self.what}: answer exceeds the {MAX_BODY} byte cap (decoded)",
                backend=self.name,
            )
        return Reply(self.status, bytes(self.body[: self.cap]), self.retry_after)


# what httpx maps to its RequestError (httpx/_transports/default.py), when our transports
# call httpcore's pool directly
_CORE_ERRORS = (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol)


@contextlib.contextmanager
def mapped_errors(settings: Settings, what: str, deadline: float) -> Iterator[None]:
    """httpx's and httpcore's exceptions, a passed deadline (TooSlow, or asyncio's
    TimeoutError) and a refused encoding, as BackendError subclasses naming the server,
    never the path."""
    try:
        yield
    except (TooSlow, TimeoutError):
        raise BackendTimeout(f"{what}: {settings.too_slow()}", backend=settings.name) from None
    except EncodingRefused as exc:
        raise BackendProtocolError(f"{what}: {exc}", backend=settings.name) from None
    except (httpx.ProxyError, httpcore.ProxyError) as exc:
        reason = f"{what}: the proxy did not connect: {exc}"
        raise ProxyRefused(reason, backend=settings.name) from exc
    except (httpx.TimeoutException, httpcore.TimeoutException) as exc:
        reason = settings.too_slow() if time.monotonic() >= deadline else _describe(exc)
        raise BackendTimeout(f"{what}: {reason}", backend=settings.name) from exc
    except (httpx.RequestError, *_CORE_ERRORS) as exc:
        rejected = _certificate_error(exc)
        if rejected is not None:
            raise CertificateRejected(
                f"{what}: TLS certificate rejected: {rejected.verify_message}",
                backend=settings.name,
            ) from exc
        raise BackendConnectError(f"{what}: {_describe(exc)}", backend=settings.name) from exc


def _certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verdict under an httpx error (httpx <- httpcore <- ssl), if any."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None or isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _tls_pin(
    base: httpx.URL,
    verify: ssl.SSLContext | bool,
    ca_file: str | os.PathLike[str] | None,
    cert_fingerprint: str | None,
) -> bytes | None:
    """The SHA-256 pin of the server certificate, checking the TLS options go together."""
    if (ca_file is not None or cert_fingerprint is not None) and base.scheme != "https":
        raise InvalidArgument("ca_file and cert_fingerprint need an https:// URL")
    if ca_file is not None and (cert_fingerprint is not None or verify is not True):
        raise InvalidArgument("give one of verify, ca_file and cert_fingerprint")
    if cert_fingerprint is None:
        return None
    if verify is not True:
        raise InvalidArgument("give one of verify, ca_file and cert_fingerprint")
    return parse_fingerprint(cert_fingerprint)


def _describe(exc: Exception) -> str:
    """A short cause without URLs (httpx messages may contain the request path)."""
    text = _HASH.sub("<hash>", str(exc)).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _parse_base_url(url: str) -> httpx.URL:
    if not isinstance(url, str):
        raise TypeError("url must be a str such as 'https://blockstream.info/liquid/api'")
    try:
        base = httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise ValueError(f"invalid Esplora URL: {exc}") from None
    if base.scheme not in ("http", "https") or not base.host:
        raise ValueError("an Esplora URL needs an http:// or https:// scheme and a host")
    # The path is a plain prefix (e.g. /liquid/api); keep it exactly, minus a trailing "/".
    return base.copy_with(path=base.path.rstrip("/") + "/", query=None, fragment=None)
