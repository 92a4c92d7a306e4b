"""An Esplora REST server over a RegtestChain that answers like Blockstream's electrs (Liquid).

Routes, status codes, error texts, page sizes and pagination follow electrs' `rest.rs`
(Blockstream/esplora's `API.md` documents them); every route also answers under `/api/...` as behind
Esplora's nginx.
HTTP/1.1 keep-alive with Content-Length, TCP_NODELAY and one `sendall` per reply, so that
sequential clients such as LWK's do not pay Nagle/delayed-ACK stalls (about 40 ms per request
without TCP_NODELAY).

Faults (lwk_regtest._faults): `latency` delays every reply; the mode of a request decides
what goes wrong with it: refuse (close without answering), hang (never answer), reset (half a
reply, then RST), truncate (half a reply under the full Content-Length, then FIN), garbage
(200 with a body that is neither JSON, hex nor a transaction), oversized (200 with a 32 MiB
body of the route's type), wrong_tx (`/tx/:txid/raw|hex` answer another transaction),
lying_tip (a tip 1000 blocks above the real one, with a matching made-up header), http429
(with `Retry-After: <faults.retry_after>`) and http500. A fault that does not concern a route
(wrong_tx, lying_tip) still uses up one of its `remaining` requests.

With a `TokenIssuer` (`auth`), the server also is the token endpoint (`POST /oauth/token`)
and serves the other routes only to a valid `Authorization: Bearer` token: 401 with
`WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 section 3) otherwise, 402 once
the credits are spent, as Blockstream's enterprise gateway answers.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import select
import socket
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final

import attrs

from ._auth import TOKEN_PATH, TokenIssuer
from ._esplora_handlers import LYING_TIP_OFFSET
from ._esplora_query import ChainView
from ._esplora_reply import OVERSIZED_BYTES, HttpError, Reply, encode, oversized
from ._esplora_router import Handler, Router
from ._faults import Faults

__all__ = ["LYING_TIP_OFFSET", "MAX_BODY_SIZE", "OVERSIZED_BYTES", "EsploraServer"]

MAX_BODY_SIZE: Final = 1_000_000  # electrs refuses larger request bodies with 413
_MAX_DRAINED: Final = 64 * MAX_BODY_SIZE  # larger refused bodies close the connection
_GARBAGE: Final = b"<!doctype html><title>garbage</title> this is not the protocol"
_log = logging.getLogger(__name__)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # a parallel client opens up to hundreds of connections at once

    def __init__(self, address: tuple[str, int], owner: EsploraServer) -> None:
        self.owner = owner
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Dropped connections are routine here; anything else is a bug worth a traceback."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, False)

    def do_GET(self) -> None:
        self.server.owner._serve(self, "GET")

    def do_POST(self) -> None:
        self.server.owner._serve(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and benchmarks make thousands of requests."""


class EsploraServer:
    """Serve `chain` over Esplora REST on `host:port` (0: any free port) from a thread.

    `requests` counts the requests received per route name (e.g. "GET /tx/:txid/raw"),
    faulty or not; unmatched paths count as "unknown". `auth` requires bearer tokens.
    """

    def __init__(
        self,
        chain: ChainView,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        auth: TokenIssuer | None = None,
    ) -> None:
        self.chain = chain
        self.faults = faults if faults is not None else Faults()
        self.auth = auth
        self.requests: collections.Counter[str] = collections.Counter()
        self._address = (host, port)
        self._router = Router(chain)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    @property
    def url(self) -> str:
        """http://host:port, without the /api prefix (both forms are served)."""
        if self._httpd is None:
            raise RuntimeError("EsploraServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> EsploraServer:
        if self._httpd is not None:
            raise RuntimeError("EsploraServer is already started")
        self._stopping.clear()
        self._httpd = _HTTPServer(self._address, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"esplora-server-{self.url}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection (hanging requests included)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> EsploraServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # connection plumbing (called from the request threads)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _read_body(self, handler: _RequestHandler) -> bytes | Reply:
        """The request body, or the error answer when it cannot or must not be used."""
        if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
            return Reply(411, b"Length Required")
        length_header = handler.headers.get("Content-Length", "0")
        if not length_header.isdigit():
            return Reply(400, b"Invalid Content-Length")
        length = int(length_header)
        if length <= MAX_BODY_SIZE:
            return handler.rfile.read(length)
        if length > _MAX_DRAINED:
            handler.close_connection = True
        else:  # read it away so that the client gets to read the answer
            while length > 0:
                chunk = handler.rfile.read(min(length, 1 << 16))
                length = length - len(chunk) if chunk else 0
        return Reply(413, b"Request body too large")

    def _serve(self, handler: _RequestHandler, method: str) -> None:
        target, _, params = handler.path.partition("?")
        if target == "/api" or target.startswith("/api/"):
            target = target[4:] or "/"
        body = self._read_body(handler)
        denied = self._authorize(handler, method, target, body)
        if denied is not None:
            handler.wfile.write(encode(denied, handler.close_connection)[0])
            return
        name, respond = self._router.match(
            method, target, params, body if isinstance(body, bytes) else b""
        )
        with self._lock:
            self.requests[name] += 1
        if isinstance(body, Reply):
            if body.status != 413:  # the body was not read: this connection cannot go on
                handler.close_connection = True
            handler.wfile.write(encode(body, handler.close_connection)[0])
            return
        fault = self.faults.take()
        trip = self.faults.arrived()
        if self.faults.latency > 0:
            self._stopping.wait(self.faults.latency)  # in this connection's thread: all
            # requests in flight wait at once
        while (quiet := self.faults.until_quiet(trip)) > 0 and not self._stopping.wait(quiet):
            pass
        self.faults.replying(trip)
        conn = handler.connection
        if fault in ("refuse", "hang"):
            handler.close_connection = True
            if fault == "hang":
                self._hang(conn)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            return
        reply = self._reply(respond, fault)
        if reply.stream is not None and fault is None:
            self._stream(handler, reply.stream, encode(reply, True)[0])
            return
        data, head_len = encode(reply, handler.close_connection)
        if fault not in ("reset", "truncate"):
            handler.wfile.write(data)
            return
        handler.close_connection = True
        body_len = len(reply.body)
        with contextlib.suppress(OSError):
            conn.sendall(data[: head_len + body_len // 2])
            if fault == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                conn.shutdown(socket.SHUT_RDWR)

    def _stream(
        self,
        handler: _RequestHandler,
        chunks: Callable[[threading.Event], Iterator[bytes]],
        head: bytes,
    ) -> None:
        """Send `head`, then each chunk as it comes, until the chunks end, the client
        leaves (a write fails, or an empty chunk finds the connection closed) or the
        server stops; then close the connection."""
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.wfile.write(head)
            for chunk in chunks(self._stopping):
                if chunk:
                    handler.wfile.write(chunk)
                elif _closed(handler.connection):
                    return

    def _authorize(
        self, handler: _RequestHandler, method: str, target: str, body: bytes | Reply
    ) -> Reply | None:
        """The answer of the token endpoint, or of a refused request; None: serve it."""
        auth = self.auth
        if auth is None:
            return None
        if method == "POST" and target == TOKEN_PATH and isinstance(body, bytes):
            with self._lock:
                self.requests[f"POST {TOKEN_PATH}"] += 1
            status, answer = auth.token_reply(body)
            return Reply(status, json.dumps(answer).encode(), "application/json")
        verdict = auth.check(handler.headers.get("Authorization"))
        if verdict == "unauthorized":
            challenge = (("WWW-Authenticate", 'Bearer error="invalid_token"'),)
            return Reply(401, b"Unauthorized", headers=challenge)
        if verdict == "no_credits":
            return Reply(402, b"Insufficient credits")
        return None

    def _reply(self, respond: Handler, fault: str | None) -> Reply:
        if fault == "http429":
            retry = (("Retry-After", f"{self.faults.retry_after:g}"),)
            return Reply(429, b"Too Many Requests", headers=retry)
        if fault == "http500":
            return Reply(500, b"Internal Server Error")
        try:
            with self.chain.lock:
                reply = respond(fault)
        except HttpError as exc:
            reply = Reply(exc.status, exc.message.encode())
        except Exception:
            _log.exception("esplora request handler failed")
            reply = Reply(500, b"Internal server error")
        if fault == "garbage":
            return attrs.evolve(reply, status=200, body=_GARBAGE)
        if fault == "oversized":
            return attrs.evolve(reply, status=200, body=oversized(reply.content_type))
        return reply

    def _hang(self, conn: socket.socket) -> None:
        """Answer nothing until the server stops or the client goes away."""
        while not self._stopping.wait(0.05):
            if _closed(conn):
                return


def _closed(conn: socket.socket) -> bool:
    """Whether the client closed `conn` (or it failed): it reads as EOF now."""
    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return False
    try:
        return not conn.recv(1, socket.MSG_PEEK)
    except OSError:
        return True
