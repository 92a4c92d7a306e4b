"""An Electrum server over a RegtestChain, speaking the protocol as electrs serves it.

Newline-delimited JSON-RPC on TCP (or TLS): every complete line of a read is answered, in
order, and the replies of one read go out in a single write (TCP_NODELAY). JSON-array
batches of up to 20 requests get an array back (more closes the connection, as newer
electrs does). Errors use newer electrs' `{"code", "message"}` objects (PROTOCOL 1.2).
Subscriptions (`blockchain.headers.subscribe`, `blockchain.scripthash.subscribe`) get push
notifications as soon as the chain changes; `max_subscriptions` caps the scripts a connection
may subscribe, as electrs' --electrum-subscription-limit does (see _electrum_methods).
`blockchain.scripthash.listunspent` and `get_balance` are not served (LWK never asks; their
Liquid JSON is build-dependent).

A control command that changes the chain (`Regtest.faucet`, `mine`, `reorg` ...) returns once
the pushes it caused went out (`settle`), so a client that relies on pushes, as the protocol
intends, sees the change at its next call, as on a server that pushed a moment earlier.

Faults (lwk_regtest._faults) apply per request; `wrong_tx`, `lying_tip` and `unsigned_tip`
are only consumed by the method they falsify (`unsigned_tip` also strips the signatures of
the tip headers pushed while it is set). `latency` delays each reply and push by that long after
the server produced it, as a network delays packets in flight: replies go out in order, and
later requests are read and answered meanwhile (a pipelined burst pays it once, not per read).
Round trips are counted (`Faults.round_trips`): the requests of one read arrive in the round
trip after the last one whose reply had gone out; with `quiet`, replies wait until no
request has arrived for that long, so a burst counts once however slowly it is written.

With a `TokenIssuer` (`auth`) the server behaves as Blockstream's authenticating Electrum
proxy (Blockstream/lwk, lwk_wollet/src/clients/blocking/electrum_client.rs): the first
request of a connection must carry a valid bearer token in its `authorization` member,
else it is answered with JSON-RPC error -32004 (authentication required) and the
connection is closed; each request then spends a credit, -32000 (insufficient credits)
once they are spent.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import json
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from typing import Any

from lwk_core.primitives import electrum_status

from ._auth import TokenIssuer
from ._chain import RegtestChain
from ._electrum_methods import MAX_HEADERS, ElectrumMethods, RpcError, Session
from ._faults import Faults
from ._signing import without_proof

__all__ = [
    "AUTHENTICATION_REQUIRED",
    "INSUFFICIENT_CREDITS",
    "MAX_ARRAY_BATCH",
    "MAX_HEADERS",
    "MAX_LINE",
    "ElectrumServer",
]

MAX_ARRAY_BATCH = 20
MAX_LINE = 4 * 1024 * 1024  # bytes; a request line longer than this closes the connection
TXS_LIMIT = 500  # electrs' --electrum-txs-limit default
_OVERSIZED_BYTES = 32 * 1024 * 1024
_GARBAGE = b"\x00\xffHTTP/1.1 502 Bad Gateway\xfe\n"
_METHOD_FAULTS = {
    "wrong_tx": "blockchain.transaction.get",
    "lying_tip": "blockchain.headers.subscribe",
    "unsigned_tip": "blockchain.headers.subscribe",
}
_LYING_TIP_AHEAD = 1000
_LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: closing sends a TCP RST
_MAX_QUEUED = 64  # writes in flight per connection before the server stops reading it
AUTHENTICATION_REQUIRED = -32004  # the JSON-RPC codes of Blockstream's Electrum proxy
INSUFFICIENT_CREDITS = -32000


def _unsigned_tip(tip: dict[str, Any]) -> dict[str, Any]:
    """A headers.subscribe result whose header lost its block signatures."""
    return {**tip, "hex": without_proof(bytes.fromhex(tip["hex"])).hex()}


def _encode(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def _error(request_id: object, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


_TOO_LARGE = _encode(_error(None, -32600, "request too large"))


class _Close(Exception):
    """End the connection after writing `data`; `reset` sends a TCP RST instead of a FIN."""

    def __init__(self, data: bytes = b"", *, reset: bool = False) -> None:
        super().__init__("close")
        self.data = data
        self.reset = reset


def _unacked(sock: socket.socket) -> int:
    """Bytes sent on `sock` that the peer has not acknowledged yet (Linux's SIOCOUTQ, see
    tcp(7)); 0 where the system cannot tell."""
    try:
        import fcntl
        import termios

        queued = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except (ImportError, OSError, ValueError):
        return 0
    return int(struct.unpack("i", queued)[0])


class _Outbox:
    """The writes of one connection, each sent `faults.latency` after it was queued, in order
    (and, with `faults.quiet`, once no request has arrived for that long).

    A task of its own sends them, so the connection's reader goes on reading (up to
    `_MAX_QUEUED` writes in flight, then it waits: the backpressure a full TCP window gives).
    Replies mark their round trip as answered (`Faults.replying`) as they go out.
    """

    def __init__(
        self, writer: asyncio.StreamWriter, sock: socket.socket | None, faults: Faults
    ) -> None:
        self._faults = faults
        self._writer = writer
        self._sock = sock
        self._queue: asyncio.Queue[tuple[float, bytes, _Close | None, int] | None] = asyncio.Queue()
        self._room = asyncio.Event()
        self._room.set()
        self._queued = self._handled = 0  # writes queued, and gone out (or dropped) so far
        self._progress = asyncio.Event()  # set whenever `_handled` grows
        self.task = asyncio.get_running_loop().create_task(self._send())

    def put(self, data: bytes, close: _Close | None = None, trip: int = 0) -> None:
        """Queue `data`; `trip`: the round trip it answers (`Faults.arrived`; 0: a push,
        never held for `quiet`)."""
        due = asyncio.get_running_loop().time() + self._faults.latency
        self._queued += 1
        self._queue.put_nowait((due, data, close, trip))
        if self._queue.qsize() >= _MAX_QUEUED:
            self._room.clear()

    async def wait_for_room(self) -> None:
        await self._room.wait()

    async def sent(self) -> None:
        """Return once the writes queued so far reached the client (written, and acknowledged
        by its TCP stack, so they wait in its socket), or the connection ended."""
        target = self._queued
        while self._handled < target and not self.task.done():
            self._progress.clear()
            await asyncio.wait(
                [asyncio.ensure_future(self._progress.wait()), self.task],
                return_when=asyncio.FIRST_COMPLETED,
            )
        while self._sock is not None and not self.task.done() and _unacked(self._sock):
            await asyncio.sleep(0.001)

    async def finish(self) -> None:
        """Send what is queued, then return (the connection is closed by the caller)."""
        self._queue.put_nowait(None)
        await self.task

    async def _send(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while (item := await self._queue.get()) is not None:
                if self._queue.qsize() < _MAX_QUEUED:
                    self._room.set()
                due, data, close, trip = item
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                while (quiet := self._faults.until_quiet(trip)) > 0:
                    await asyncio.sleep(quiet)
                if trip:
                    self._faults.replying(trip)
                if data:
                    self._writer.write(data)
                    await self._writer.drain()
                self._handled += 1
                self._progress.set()
                if close is not None:
                    if close.reset and self._sock is not None:
                        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                        self._writer.transport.abort()
                    return
        except (ConnectionError, OSError, ssl.SSLError):
            pass
        finally:
            self._room.set()  # a reader waiting for room must not wait forever


class ElectrumServer:
    """Serve `chain` over the Electrum protocol from a background thread."""

    def __init__(
        self,
        chain: RegtestChain,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        faults: Faults | None = None,
        max_line: int = MAX_LINE,
        txs_limit: int = TXS_LIMIT,
        max_subscriptions: int | None = None,
        auth: TokenIssuer | None = None,
    ) -> None:
        self.chain = chain
        self.auth = auth
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.faults = faults if faults is not None else Faults()
        self.max_line = max_line
        self.requests: collections.Counter[str] = collections.Counter()
        self._sessions: dict[Session, _Outbox] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._notify_pending = False
        self._methods = ElectrumMethods(chain, txs_limit)
        self.max_subscriptions = max_subscriptions

    @property
    def max_subscriptions(self) -> int | None:
        """Script subscriptions a connection may hold (None: no cap), as electrs'
        --electrum-subscription-limit; changing it applies to the next subscribe."""
        return self._methods.max_subscriptions

    @max_subscriptions.setter
    def max_subscriptions(self, cap: int | None) -> None:
        if cap is not None and cap < 0:
            raise ValueError("max_subscriptions must be >= 0 or None")
        self._methods.max_subscriptions = cap

    @property
    def peak_subscriptions(self) -> int:
        """The most script subscriptions any connection held at once so far."""
        return self._methods.peak_subscriptions

    @property
    def url(self) -> str:
        if self.ssl_context is not None:
            return f"ssl://localhost:{self.port}"
        return f"tcp://{self.host}:{self.port}"

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> ElectrumServer:
        """Bind and serve from a daemon thread; returns once the port is open."""
        self._thread = threading.Thread(target=self._run, name="regtest-electrum", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            raise self._start_error
        return self

    def stop(self) -> None:
        """Close every connection and the listening socket; idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        thread.join(timeout=10)

    def settle(self, timeout: float = 5.0) -> None:
        """From another thread: return once the pushes of the chain's changes so far went
        out to every subscriber (at most `timeout` seconds plus the latency: a client that
        stopped reading cannot block the caller)."""
        loop = self._loop
        if loop is None or not loop.is_running() or threading.current_thread() is self._thread:
            return
        # `_on_chain_change` scheduled `_notify_all` before this: it runs first (FIFO).
        future = asyncio.run_coroutine_threadsafe(self._sent(), loop)
        try:
            future.result(timeout + self.faults.latency)
        except (concurrent.futures.TimeoutError, RuntimeError):
            future.cancel()

    async def _sent(self) -> None:
        outboxes = [asyncio.ensure_future(o.sent()) for o in self._sessions.values()]
        if outboxes:
            await asyncio.wait(outboxes)

    def __enter__(self) -> ElectrumServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._serve, self.host, self.port, ssl=self.ssl_context)
            )
        except OSError as exc:
            self._start_error = exc
            self._ready.set()
            loop.close()
            return
        self.port = self._server.sockets[0].getsockname()[1]
        self._unsubscribe = self.chain.subscribe(self._on_chain_change)
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def disconnect_all(self) -> None:
        """Close every client connection (as a restarting proxy would); keep listening."""
        loop = self._loop
        if loop is None:
            return

        async def close() -> None:
            for session in list(self._sessions):
                session.writer.transport.abort()

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=10)

    async def _shutdown(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        assert self._server is not None
        self._server.close()
        tasks = [s.task for s in self._sessions if s.task is not None]
        tasks += [outbox.task for outbox in self._sessions.values()]
        for session in list(self._sessions):
            session.writer.transport.abort()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=5)
            for task in pending:
                task.cancel()
        asyncio.get_running_loop().call_soon(asyncio.get_running_loop().stop)

    # -------------------------------------------------------------- connections
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = Session(writer)
        outbox = self._sessions[session] = _Outbox(writer, sock, self.faults)
        buffer = bytearray()
        try:
            while data := await reader.read(65536):
                await outbox.wait_for_room()
                if self.ssl_context is None and not buffer and data.startswith(b"\x16\x03"):
                    break  # a TLS handshake on the plain port (electrs drops it too)
                scan_from = len(buffer)
                buffer += data
                end = buffer.rfind(b"\n", scan_from) + 1
                lines = bytes(buffer[:end]).split(b"\n")[:-1] if end else []
                del buffer[:end]
                trip = self.faults.arrived() if lines else 0
                payload, close = self._answer(session, lines, len(buffer))
                if session.hung:
                    continue
                if payload or close is not None:
                    outbox.put(payload, close, trip)
                if close is not None:
                    break
        except (ConnectionError, OSError, ssl.SSLError):
            pass
        finally:
            await outbox.finish()
            self._sessions.pop(session, None)
            writer.close()

    def _answer(
        self, session: Session, lines: list[bytes], pending: int
    ) -> tuple[bytes, _Close | None]:
        """The replies to the complete lines of one read, and whether to close afterwards.

        `pending` is the length of the incomplete line still buffered.
        """
        out: list[bytes] = []
        try:
            for line in lines:
                if len(line) > self.max_line:
                    raise _Close(_TOO_LARGE)
                if line.strip():
                    out.append(self._handle_line(session, line))
            if pending > self.max_line:
                raise _Close(_TOO_LARGE)
        except _Close as close:
            out.append(close.data)
            return b"".join(out), close
        return b"".join(out), None

    def _handle_line(self, session: Session, line: bytes) -> bytes:
        """The reply bytes for one request line (raises _Close to end the connection)."""
        try:
            message = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            raise _Close() from None  # electrs drops connections sending invalid UTF-8
        except ValueError:
            return _encode(_error(None, -32700, "parse error"))
        if isinstance(message, list):
            if len(message) > MAX_ARRAY_BATCH:
                raise _Close()
            replies = [self._handle_request(session, item) for item in message]
            return _encode([reply for reply, _ in replies]) if replies else b"[]\n"
        reply, raw = self._handle_request(session, message)
        return raw if raw is not None else _encode(reply)

    def _handle_request(self, session: Session, request: object) -> tuple[object, bytes | None]:
        """(reply object, or raw bytes replacing its line when a fault falsifies it)."""
        if not isinstance(request, dict):
            return _error(None, -32600, "invalid request"), None
        method, params, request_id = (
            request.get("method"),
            request.get("params", []),
            request.get("id"),
        )
        if not isinstance(method, str) or not isinstance(params, list) or "id" not in request:
            return _error(request_id, -32600, "invalid request"), None
        self.requests[method] += 1
        denied = self._authorize(session, request)
        if denied is not None:
            return denied, None
        fault = self._take_fault(method)
        if fault == "refuse":
            raise _Close(reset=True)
        if fault == "hang":
            session.hung = True
            return None, b""
        handler = self._methods.table.get(method)
        if handler is None:
            reply: dict[str, Any] = _error(request_id, -32601, f"unknown method {method}")
        else:
            try:
                with self.chain.lock:
                    result = self._falsify(fault, method, handler(session, params))
                reply = {"jsonrpc": "2.0", "id": request_id, "result": result}
            except RpcError as exc:
                reply = _error(request_id, exc.code, exc.message)
        if fault in ("reset", "truncate"):
            data = _encode(reply)
            raise _Close(data[: len(data) // 2], reset=fault == "reset")
        if fault == "garbage":
            return reply, _GARBAGE
        if fault == "oversized":  # built as bytes: json.dumps of it took 0.4 s a reply
            head = b'{"jsonrpc":"2.0","id":' + json.dumps(request_id).encode()
            return reply, head + b',"result":"' + b"0" * _OVERSIZED_BYTES + b'"}\n'

        return reply, None

    def _authorize(self, session: Session, request: dict[str, Any]) -> dict[str, Any] | None:
        """The error reply of a request the proxy refuses (None: serve it); a connection
        whose token is refused is closed after the reply."""
        auth, request_id = self.auth, request.get("id")
        if auth is None:
            return None
        if session.authenticated:
            verdict = auth.charge()
        else:
            authorization = request.get("authorization")
            verdict = auth.check(authorization if isinstance(authorization, str) else None)
            if verdict == "unauthorized":
                error = _error(request_id, AUTHENTICATION_REQUIRED, "authentication required")
                raise _Close(_encode(error))
            session.authenticated = True
        if verdict == "no_credits":
            return _error(request_id, INSUFFICIENT_CREDITS, "insufficient credits")
        return None

    def _take_fault(self, method: str) -> str | None:
        mode = self.faults.mode
        target = _METHOD_FAULTS.get(mode) if mode is not None else None
        if target is not None and target != method:
            # count the request without consuming a fault aimed at another method
            self.faults.requests += 1
            return None
        return self.faults.take()

    def _falsify(self, fault: str | None, method: str, result: object) -> object:
        if fault == "lying_tip" and isinstance(result, dict):
            return {**result, "height": result["height"] + _LYING_TIP_AHEAD}
        if fault == "unsigned_tip" and isinstance(result, dict):
            return _unsigned_tip(result)
        if fault == "wrong_tx" and isinstance(result, str):
            for txid in (self.chain.genesis_txid, *self.chain.mempool_txids()):
                raw = self.chain.tx_raw(txid)
                if raw is not None and raw.hex() != result:
                    return raw.hex()
        return result

    # ------------------------------------------------------------ notifications
    def _on_chain_change(self) -> None:
        """Chain callback (any thread): schedule one notification pass on the loop."""
        loop = self._loop
        if loop is None or self._notify_pending:
            return
        self._notify_pending = True
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._notify_all)

    def _notify_all(self) -> None:
        self._notify_pending = False
        with self.chain.lock:
            tip_hash = self.chain.tip_hash()
            tip = self._methods.tip()
            if self.faults.mode == "unsigned_tip":
                tip = _unsigned_tip(tip)
            for session, outbox in list(self._sessions.items()):
                if session.hung:
                    continue
                out: list[bytes] = []
                if session.tip is not None and session.tip != tip_hash:
                    session.tip = tip_hash
                    out.append(_encode(self._notification("blockchain.headers.subscribe", [tip])))
                for scripthash, last in session.scripthashes.items():
                    try:
                        status = electrum_status(self._methods.history(scripthash))
                    except RpcError:
                        continue  # too many entries: electrs skips it as well
                    if status != last:
                        session.scripthashes[scripthash] = status
                        params = [scripthash, status]
                        out.append(
                            _encode(self._notification("blockchain.scripthash.subscribe", params))
                        )
                if out:
                    outbox.put(b"".join(out))

    @staticmethod
    def _notification(method: str, params: list[Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "method": method, "params": params}
