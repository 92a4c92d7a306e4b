"""Small hostile servers on loopback: each connection gets a scripted misbehaviour.

`LoopbackServer(serve)` runs `serve(conn, stopping)` in a thread per connection until the
server is closed, which also shuts every connection (so a client blocked on one returns).
The HTTP behaviours answer any request; `flooding_proxy` sits in front of a real Electrum
server and pushes extra lines between the real ones.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from types import TracebackType

__all__ = [
    "HOSTILE_HTTP",
    "LoopbackServer",
    "bomb_answer",
    "flooding_proxy",
    "gzip_of_zeros",
    "nested_gzip_bomb",
    "read_request",
]

Serve = Callable[[socket.socket, threading.Event], None]
_STEP = 0.02  # seconds between two drips


class LoopbackServer:
    """A TCP server on 127.0.0.1 serving each connection with `serve` in its own thread."""

    def __init__(self, serve: Serve) -> None:
        self._serve = serve
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.stopping = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            self._serve(conn, self.stopping)

    def close(self) -> None:
        self.stopping.set()
        self._listener.close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_request(conn: socket.socket) -> bool:
    """Read one HTTP request head (requests here have no body); False at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        data += chunk
    return True


def _drip(conn: socket.socket, stopping: threading.Event, head: bytes, unit: bytes) -> None:
    """Send `head`, then `unit` again and again, a little at a time, until stopped."""
    if not read_request(conn):
        return
    conn.sendall(head)
    while not stopping.wait(_STEP):
        conn.sendall(unit)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


_GZIP_HEADER = gzip.compress(b"")[:10]
_EMPTY_STORED_BLOCK = b"\x00\x00\x00\xff\xff"  # BFINAL=0, stored, LEN=0, NLEN=0xffff

HOSTILE_HTTP: dict[str, Serve] = {
    "status line dripped": lambda c, s: _drip(c, s, b"HTTP/1.1 200 ", b"O"),
    "headers dripped": lambda c, s: _drip(c, s, b"HTTP/1.1 200 OK\r\nX-Drip: ", b"a"),
    "endless 1xx": lambda c, s: _drip(c, s, b"", b"HTTP/1.1 102 Processing\r\n\r\n"),
    "gzip of empty deflate blocks": lambda c, s: _drip(
        c,
        s,
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        + _chunk(_GZIP_HEADER),
        _chunk(_EMPTY_STORED_BLOCK * 4),
    ),
}
"""Servers that answer every request with a never-ending trickle."""


def gzip_of_zeros(size: int) -> bytes:
    """A gzip stream of `size` zero bytes, built without compressing them all: after a
    full flush deflate starts afresh, so every MiB of zeros compresses to the same bytes."""
    mib = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(size, len(mib))
    tail = deflate.compress(bytes(rest)) + deflate.flush()
    crc = functools.reduce(lambda c, _: zlib.crc32(mib, c), range(count), 0)
    crc = zlib.crc32(bytes(rest), crc)
    # RFC 1952: header (no name, no time), deflate data, CRC-32 and size mod 2^32.
    return _GZIP_HEADER + segment * count + tail + struct.pack("<II", crc, size & 0xFFFFFFFF)


def nested_gzip_bomb(size: int) -> bytes:
    """gzip(gzip(`size` zero bytes)): a few kB for a GB."""
    return gzip.compress(gzip_of_zeros(size), 9)


def bomb_answer(body: bytes, encoding: str) -> Serve:
    """A server answering every request 200 with `body` under `Content-Encoding: encoding`."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (encoding.encode(), len(body))
    )

    def serve(conn: socket.socket, stopping: threading.Event) -> None:
        while not stopping.is_set() and read_request(conn):
            conn.sendall(head + body)

    return serve


@contextlib.contextmanager
def flooding_proxy(
    upstream: tuple[str, int], line: bytes
) -> Iterator[tuple[LoopbackServer, threading.Event]]:
    """A proxy to an Electrum server that, once the event yielded is set, also sends `line`
    (a JSON-RPC notification) as fast as the client takes it, between the server's own
    lines, to every client."""
    flooding = threading.Event()
    burst = line * 1024

    def serve(conn: socket.socket, stopping: threading.Event) -> None:
        lock = threading.Lock()
        ended = threading.Event()

        def pipe(source: socket.socket, sink: socket.socket, whole_lines: bool) -> None:
            buf = b""
            with contextlib.suppress(OSError):
                while data := source.recv(65536):
                    complete, buf = (buf + data, b"")
                    if whole_lines:  # never cut a line with a flood burst
                        complete, _, buf = complete.rpartition(b"\n")
                        complete += b"\n" if complete else b""
                    with lock:
                        sink.sendall(complete)
            ended.set()

        with socket.create_connection(upstream) as up:
            threading.Thread(target=pipe, args=(conn, up, False), daemon=True).start()
            threading.Thread(target=pipe, args=(up, conn, True), daemon=True).start()
            while not (stopping.is_set() or ended.is_set()):
                if flooding.wait(0.05):
                    with lock:
                        conn.sendall(burst)

    with LoopbackServer(serve) as server:
        yield server, flooding
