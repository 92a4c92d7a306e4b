"""HTTP/1.1 requests with the standard library's http.client: one kept-alive connection,
a deadline per request, a cap on the body, and every failure a typed lwk_core error."""

from __future__ import annotations

import dataclasses
import http.client
import threading
import time

from lwk_core.plugin import BackendConnectError, BackendProtocolError, BackendTimeout

__all__ = ["MAX_BODY", "HttpLink", "Reply"]

MAX_BODY = 8 * 1024 * 1024  # a Liquid block is at most 4 MB of weight; JSON pages are smaller
_CHUNK = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Reply:
    """A complete answer: status code and body."""

    status: int
    body: bytes = dataclasses.field(repr=False)

    def text(self) -> str:
        """The body as printable text, shortened: what an error message may quote."""
        shown = self.body[:200].decode("ascii", "replace")
        return "".join(c if c.isprintable() else "?" for c in shown).strip()


class HttpLink:
    """Requests to one server, one at a time. A request that does not complete within
    `timeout` seconds is a BackendTimeout: connecting, sending and reading the head are
    each bounded by the time left, the body's reads by the deadline as a whole."""

    def __init__(self, host: str, port: int, prefix: str, *, timeout: float, name: str) -> None:
        self.host, self.port, self.prefix = host, port, prefix
        self.timeout = timeout
        self.name = name
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._drop()

    def request(self, method: str, path: str, body: bytes | None = None) -> Reply:
        """Send one request; a GET on a kept connection the server had closed is sent
        again once on a fresh one (the usual keep-alive race)."""
        with self._lock:
            deadline = time.monotonic() + self.timeout
            retry = self._conn is not None and method == "GET"
            while True:
                try:
                    return self._exchange(method, path, body, deadline)
                except BackendConnectError:
                    self._drop()
                    if not retry:
                        raise
                    retry = False
                except BaseException:
                    self._drop()
                    raise

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _left(self, deadline: float, conn: http.client.HTTPConnection) -> None:
        """Bound the next socket operation by the time left before `deadline`."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        conn.timeout = left
        if conn.sock is not None:
            conn.sock.settimeout(left)

    def _exchange(self, method: str, path: str, body: bytes | None, deadline: float) -> Reply:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port)
        conn = self._conn
        try:
            self._left(deadline, conn)
            headers = {"Content-Type": "text/plain"} if body is not None else {}
            conn.request(method, self.prefix + path, body=body, headers=headers)
            self._left(deadline, conn)
            response = conn.getresponse()
            reply = Reply(response.status, self._read(response, deadline, conn))
        except TimeoutError:
            raise BackendTimeout(
                f"no complete answer within {self.timeout}s", backend=self.name
            ) from None
        except http.client.IncompleteRead:
            raise BackendConnectError("connection closed mid-answer", backend=self.name) from None
        except OSError as exc:  # refused, reset, unreachable (RemoteDisconnected is one too)
            reason = exc.strerror or type(exc).__name__
            raise BackendConnectError(reason, backend=self.name) from None
        except http.client.HTTPException as exc:
            what = type(exc).__name__
            raise BackendProtocolError(f"not HTTP: {what}", backend=self.name) from None
        if response.will_close:
            self._drop()
        return reply

    def _read(
        self, response: http.client.HTTPResponse, deadline: float, conn: http.client.HTTPConnection
    ) -> bytes:
        """The body, one socket read at a time (so the deadline is checked between reads),
        refused as soon as it is known to exceed MAX_BODY."""
        declared = response.length  # Content-Length; None when chunked or read until close
        if declared is not None and declared > MAX_BODY:
            raise BackendProtocolError(f"answer over {MAX_BODY} bytes", backend=self.name)
        body = bytearray()
        while declared is None or len(body) < declared:
            self._left(deadline, conn)
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            body += chunk
            if len(body) > MAX_BODY:
                raise BackendProtocolError(f"answer over {MAX_BODY} bytes", backend=self.name)
        if declared is not None and len(body) < declared:
            raise http.client.IncompleteRead(bytes(body), declared - len(body))
        response.close()  # the connection can carry the next request
        return bytes(body)
