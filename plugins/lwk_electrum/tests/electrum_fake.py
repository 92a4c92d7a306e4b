"""A scriptable Electrum server for protocol-level tests (framing, errors, faults, TLS).

Each connection is served by a thread: it reads request lines and answers each through
`handlers[method](params)`. A handler may return a value (the result), raise `Reply` to
send a custom message (error shapes, raw bytes), or the server may be told to misbehave
with `fault`. `gate=n` holds replies until n requests have arrived on the connection
after the handshake: a client that does not pipeline n requests in one burst then never
gets an answer, which is how the tests prove pipelining (`reverse` then answers the burst
backwards, and `between` puts notification lines between its replies, to prove replies are
matched by id). `delay` seconds pass before each reply (a slow server).

`RoundTrips` counts the round trips a client connection makes, and `wait_for_tip` awaits a
pushed header, against any server.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from lwk_electrum import ElectrumClient
from lwk_electrum._connection import ElectrumConnection

from lwk_core import Tip

Handler = Callable[[list[Any]], Any]


class Reply(Exception):
    """Raised by a handler: send `raw` bytes (a full line), or an error reply to the request."""

    def __init__(self, raw: bytes = b"", *, error: Any = None) -> None:
        super().__init__()
        self.raw = raw
        self.error = error

    def line(self, req_id: Any) -> bytes:
        if self.error is None:
            return self.raw
        return json.dumps({"jsonrpc": "2.0", "id": req_id, "error": self.error}).encode() + b"\n"


def fail(error: Any) -> Handler:
    """A handler answering every request with this JSON-RPC error."""

    def handler(params: list[Any]) -> Any:
        raise Reply(error=error)

    return handler


def notification(method: str, params: list[Any]) -> bytes:
    """A server notification line."""
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode() + b"\n"


class FakeElectrum:
    def __init__(self, ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.ssl_context = ssl_context
        self.listener = socket.create_server((host, 0))
        self.host, self.port = host, self.listener.getsockname()[1]
        self.handlers: dict[str, Handler] = {
            "server.version": lambda params: ["fake-electrs 0.1", "1.4"],
            "server.ping": lambda params: None,
        }
        self.requests: list[tuple[int, str, list[Any]]] = []  # (connection no, method, params)
        self.fault: str | None = None
        self.gate = 0
        self.reverse = False  # answer a gated burst in reverse order
        self.between: list[bytes] = []  # lines sent after each reply of a gated burst, in turn
        self.delay = 0.0
        self.accepted = 0
        self.tls_failures = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def methods(self) -> list[str]:
        with self._lock:
            return [m for _, m, _ in self.requests]

    def notify(self, method: str, params: list[Any]) -> None:
        line = notification(method, params)
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.sendall(line)

    def drop_all(self) -> None:
        """Close every client connection (the server keeps listening)."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def stop(self) -> None:
        self._stopped = True
        self.listener.close()
        self.drop_all()

    def __enter__(self) -> FakeElectrum:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -----------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            try:
                conn = self.ssl_context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                self.tls_failures += 1
                conn.close()
                return
        with self._lock:
            self.accepted += 1
            number = self.accepted
            self._conns.append(conn)
        held: list[bytes] = []
        try:
            for line in conn.makefile("rb"):
                req = json.loads(line)
                method, params = req["method"], req.get("params", [])
                with self._lock:
                    self.requests.append((number, method, params))
                out = self._answer(conn, req)
                if out is None:
                    continue
                if self.gate and method != "server.version":
                    held.append(out)
                    if len(held) < self.gate:
                        continue
                    burst = held[::-1] if self.reverse else held
                    extra = itertools.cycle(self.between or [b""])
                    out, held = b"".join(reply + next(extra) for reply in burst), []
                if self.delay:
                    time.sleep(self.delay)
                conn.sendall(out)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def _answer(self, conn: socket.socket, req: dict[str, Any]) -> bytes | None:
        fault = self.fault if req["method"] != "server.version" else None
        if fault == "close":
            conn.shutdown(socket.SHUT_RDWR)
            raise OSError("closed on purpose")
        if fault == "hang":
            return None
        if fault == "garbage":
            return b"\x00\xff this is not json\n"
        if fault == "oversized":
            conn.sendall(b'{"jsonrpc":"2.0","id":%d,"result":"' % req["id"])
            chunk = b"a" * (1 << 20)
            for _ in range(12):
                conn.sendall(chunk)
            return b'"}\n'
        try:
            result = self.handlers[req["method"]](req.get("params", []))
        except Reply as r:
            return r.line(req["id"])
        except KeyError:
            return Reply(error={"code": -32601, "message": "unknown method"}).line(req["id"])
        out = json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": result}).encode() + b"\n"
        if fault == "reset":
            conn.sendall(out[: len(out) // 2])
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raise OSError("reset on purpose")
        if fault == "duplicate":  # the second copy answers a request already answered
            return out + out
        return out


class RoundTrips:
    """Counts a connection's round trips: bursts it writes after having read something (the
    first burst counts too), i.e. the times it waits for the server before sending more."""

    def __init__(self, conn: ElectrumConnection, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self._read = True
        write, recv = conn._write, conn._recv

        def counting_write(*args: Any) -> None:
            if self._read:
                self.count, self._read = self.count + 1, False
            write(*args)

        def noting_recv(deadline: float, idle_ok: bool) -> bool:
            got = recv(deadline, idle_ok)
            self._read = self._read or got
            return got

        monkeypatch.setattr(conn, "_write", counting_write)
        monkeypatch.setattr(conn, "_recv", noting_recv)


def wait_for_tip(client: ElectrumClient, height: int, timeout: float = 5.0) -> Tip:
    """Read notifications until `client.tip()` is at `height` or above (the header the server
    pushes for a new block), then return it; fails after `timeout` seconds without news."""
    rpc = client.connection.rpc
    while True:
        seen = rpc.notifications
        tip = client.tip()
        if tip.height >= height:
            return tip
        assert rpc.wait_for_notification(seen, timeout), f"no notification in {timeout:g}s"
