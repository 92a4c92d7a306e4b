"""The blocking transport's own HTTP/1.1 keep-alive connections to a server reached
without a proxy: http.client on a socket (TLS by `ssl`), about half of httpcore's client CPU
per small request (h11's event machinery and httpcore's pool bookkeeping are most of it).

The guarantees of the httpcore path (`_network`) hold here too:

- every connect, TLS handshake, read and write of a request ends by its deadline
  (`_deadline.left`), so a server that drips bytes or sends endless `1xx` answers cannot
  stretch it;
- a certificate pin is checked right after the handshake, before the request is written;
- failures are raised as httpcore's exceptions (ConnectError, ReadTimeout,
  RemoteProtocolError ...), which `_response.mapped_errors` and the retry policy already
  map: a refused connect is a ConnectError, a dropped connection a ReadError or
  RemoteProtocolError, a rejected certificate a ConnectError caused by
  ssl.SSLCertVerificationError.

A proxy (SOCKS5 or HTTP) keeps going through httpcore's pool: `HttpSession` picks.
"""

from __future__ import annotations

import http.client
import io
import select
import socket
import ssl
import threading
from collections.abc import Iterator

import httpcore
import httpx

from lwk_core.plugin import check_pin

from ._deadline import left
from ._network import shared_verify
from ._response import Settings, core_headers

__all__ = ["DirectPool", "Exchange", "direct_pool"]

_READ_SIZE = 64 * 1024


class _Reader(io.RawIOBase):
    """The socket as http.client reads it: each read gets what is left of the deadline."""

    def __init__(self, owner: _Socket) -> None:
        self._owner = owner
        self._sock = owner.sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self._sock.settimeout(left(self._owner.timeout, httpcore.ReadTimeout))
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc) or "read timed out") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        if not self.closed:
            self._owner.reader_closed()
        super().close()


class _Socket:
    """What http.client uses of its socket (`sendall`, `makefile`, `close`), with the
    request's deadline applied to each write and read. As with socket.makefile, the socket
    closes once it and its readers are closed: http.client closes the connection's socket
    before an answer that ends with the connection is read."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self._readers = 0
        self._closed = False

    def sendall(self, data: bytes) -> None:
        self.sock.settimeout(left(self.timeout, httpcore.WriteTimeout))
        try:
            self.sock.sendall(data)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc) or "write timed out") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    def makefile(self, mode: str) -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(_Reader(self))

    def reader_closed(self) -> None:
        self._readers -= 1
        if self._closed and not self._readers:
            self.sock.close()

    def close(self) -> None:
        self._closed = True
        if not self._readers:
            self.sock.close()


class _Connection(http.client.HTTPConnection):
    """One keep-alive connection; `connect` obeys the deadline and checks the pin."""

    def __init__(self, pool: DirectPool) -> None:
        super().__init__(pool.host, pool.port, timeout=pool.timeout)
        self.default_port = pool.default_port  # the Host header names other ports only
        self._pool = pool

    def connect(self) -> None:
        pool = self._pool
        try:
            raw = socket.create_connection(
                (pool.host, pool.port), left(pool.timeout, httpcore.ConnectTimeout)
            )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc) or "connect timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = raw if pool.context is None else self._handshake(raw, pool.context)
        except BaseException:
            raw.close()
            raise
        self.sock = _Socket(sock, pool.timeout)

    def _handshake(self, raw: socket.socket, context: ssl.SSLContext) -> ssl.SSLSocket:
        pool = self._pool
        raw.settimeout(left(pool.timeout, httpcore.ConnectTimeout))
        try:
            sock = context.wrap_socket(raw, server_hostname=pool.server_hostname)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc) or "TLS handshake timed out") from exc
        except OSError as exc:  # ssl.SSLError (SSLCertVerificationError ...) included
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if pool.pin is not None:
            check_pin(sock.getpeercert(True), pool.pin, backend=pool.name)
        return sock

    def stale(self) -> bool:
        """An idle connection the server closed (or wrote to unasked): not to be reused."""
        sock = self.sock
        return not isinstance(sock, _Socket) or _readable(sock.sock)


def _readable(sock: socket.socket) -> bool:
    """Whether `sock` has something to read (or its end of file) right now; `poll` where
    there is one, since `select` cannot watch a descriptor from FD_SETSIZE (1024) up."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


class _Opened:
    """A socket stand-in whose file is open already: http.client reads one answer per
    response object, so the answer after a `1xx` is read by a new one on the same file."""

    def __init__(self, fp: io.BufferedReader) -> None:
        self._fp = fp

    def makefile(self, mode: str) -> io.BufferedReader:
        return self._fp


class Exchange:
    """One response: status, the headers `Answer` reads, the raw body as it arrives.
    `close()` gives the connection back for reuse if the body was read to its end."""

    def __init__(self, pool: DirectPool, connection: _Connection, method: str) -> None:
        self._pool = pool
        self._connection = connection
        response = connection.getresponse()
        self._informational = False
        # interim answers (RFC 9110 section 15.2) come before the answer: skip them, each
        # read bounded by the deadline like any other (http.client skips only `100`)
        while 100 <= response.status < 200:
            self._informational = True  # http.client's connection now holds a stale answer
            fp, response.fp = response.fp, None  # type: ignore[assignment]
            response = http.client.HTTPResponse(_Opened(fp), method=method)  # type: ignore[arg-type]
            response.begin()
        self.response = response
        self.status = response.status
        raw = response.getheaders()
        self.headers = core_headers([(k.encode("latin-1"), v.encode("latin-1")) for k, v in raw])

    def chunks(self) -> Iterator[bytes]:
        try:
            while chunk := self.response.read1(_READ_SIZE):
                yield chunk
            missing = self.response.length  # read1 ends quietly at an early end of file
            if missing:
                raise http.client.IncompleteRead(b"", missing)
            self.response.read()  # b"": marks an empty body read (read1 does not)
        except http.client.HTTPException as exc:  # IncompleteRead, a bad chunk size ...
            raise httpcore.RemoteProtocolError(str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        done = self.response.isclosed() and not self.response.will_close
        reusable = done and not self._informational
        if not done:
            self.response.close()
        self._pool.release(self._connection, reusable=reusable)


class DirectPool:
    """Keep-alive connections to one server, taken by one request at a time (at most
    `concurrency` requests reach it at once: the session's slots)."""

    def __init__(
        self, settings: Settings, context: ssl.SSLContext | None, headers: list[tuple[str, str]]
    ) -> None:
        base = settings.base
        self.name = settings.name
        self.host = base.host
        self.default_port = 443 if base.scheme == "https" else 80
        self.port = base.port or self.default_port
        self.server_hostname = base.host
        self.context = context
        self.pin = settings.pin
        self.timeout = settings.timeout
        self.prefix = base.raw_path.decode("ascii")  # ends in "/"
        self.headers = dict(headers)
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def send(
        self, method: str, path: str, content: bytes | None, extra: dict[str, str] | None
    ) -> Exchange:
        """Write the request on an idle connection (a new one if none) and read the
        response's head; the caller reads the body and closes the Exchange."""
        connection = self._take()
        headers = self.headers if extra is None else {**self.headers, **extra}
        try:
            connection.request(method, self.prefix + path.lstrip("/"), content, headers)
            return Exchange(self, connection, method)
        except http.client.HTTPException as exc:  # RemoteDisconnected, BadStatusLine ...
            connection.close()
            raise httpcore.RemoteProtocolError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            connection.close()
            raise

    def _take(self) -> _Connection:
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if not connection.stale():
                    return connection
                connection.close()
        return _Connection(self)

    def release(self, connection: _Connection, *, reusable: bool) -> None:
        with self._lock:
            if reusable and not self._closed:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._closed = True
        for connection in idle:
            connection.close()


def direct_pool(settings: Settings, client: httpx.Client) -> DirectPool | None:
    """Our own connections to `client`'s server, when no proxy applies to it and TLS, if
    any, is verified or pinned (`verify=False` and proxies keep httpcore's pool); the
    client's transport must be httpx's own, not one the caller gave."""
    transport = client._transport_for_url(client.base_url)
    if transport is not client._transport or not isinstance(transport, httpx.HTTPTransport):
        return None
    context = None
    if settings.base.scheme == "https":
        verify = shared_verify(settings.verify, settings.trust_env)  # the client's context
        if not isinstance(verify, ssl.SSLContext):
            return None
        context = verify
    return DirectPool(settings, context, list(client.headers.multi_items()))
