"""One persistent Electrum connection: newline-delimited JSON-RPC over TCP or TLS.

Requests are pipelined: a batch is written as request lines (never a JSON array, which
electrs builds answer differently or not at all), in chunks of at most `batch_size` lines a
`sendall`, with up to `_WINDOW` chunks unanswered at once, and replies are matched by id in
any order. Lines without an id are server notifications, handed to the listeners; those that
tell nothing new (a script not subscribed, a status or tip already known, an unknown method)
are not counted, so a server flooding them cannot make a watcher believe something changed,
and reading them never outlasts the deadline of the call. Only the thread holding the lock
touches the socket, so there is one reader and no background thread.

Every failure other than an error reply drops the socket (its stream can no longer be
trusted); the next call reconnects, redoes the `server.version` handshake and restores the
subscriptions, whose current values are dispatched to the listeners like notifications.

The tip comes from the `blockchain.headers.subscribe` subscription: asked once, then kept
up to date by the headers the server pushes, so asking for it is not a round trip (unless
nothing came for `TIP_MAX_AGE` seconds: a server that stopped pushing cannot freeze it).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Final, NoReturn

from lwk_core.plugin import (
    BackendConnectError,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    Tip,
)

from ._endpoint import Endpoint
from ._errors import ElectrumError
from ._headers import parse_tip

__all__ = ["Call", "ElectrumConnection", "Listener"]

log = logging.getLogger("lwk_electrum")

Call = tuple[str, Sequence[Any]]
Listener = Callable[[str, list[Any]], None]
"""Called with (method, params) for each notification, while the connection lock is held."""

MAX_LINE: Final = 8 * 1024 * 1024
BATCH_SIZE: Final = 100
KEEPALIVE: Final = 60.0  # seconds of silence before a server.ping while waiting
TIP_MAX_AGE: Final = 30.0  # seconds a tip answered or pushed is used without asking again
CLIENT_NAME: Final = "lwk-electrum 0.1"
PROTOCOL_VERSION: Final = "1.4"
_POLL: Final = 0.25  # longest time a waiting watcher holds the lock
_RECV: Final = 1 << 16
_WINDOW: Final = 4  # chunks of `batch_size` requests unanswered at once
_MISSING: Final = object()  # no reply yet
_NO_LINE: Final = object()  # no complete line buffered
_PENDING: Final = ""  # the status of a script whose subscription is not answered yet
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
SCRIPTHASH_SUBSCRIBE: Final = "blockchain.scripthash.subscribe"
HEADERS_SUBSCRIBE: Final = "blockchain.headers.subscribe"


class ElectrumConnection:
    """A thread-safe JSON-RPC connection; constructing it does no network I/O."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        validate_domain: bool = True,
        cert_fingerprint: bytes | None = None,
        max_line: int = MAX_LINE,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        if not (timeout > 0 and connect_timeout > 0):
            raise ValueError("timeouts must be positive numbers of seconds")
        if max_line < 1024 or batch_size < 1:
            raise ValueError("max_line must be >= 1024 and batch_size >= 1")
        self.endpoint = endpoint
        self.name = endpoint.url
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.validate_domain = validate_domain
        self.max_line = max_line
        self.batch_size = batch_size
        self._pin = cert_fingerprint
        self._ssl_context: ssl.SSLContext | None = None
        self._lock = threading.RLock()
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self._searched = 0  # bytes of _buf already searched for a newline
        self._ids = itertools.count(1)
        self._listeners: list[Listener] = []
        self._scripthashes: dict[str, str | None] = {}  # subscribed -> last status, in order
        self._headers_subscribed = False
        self._tip: Tip | None = None  # the latest header answered or pushed, while trusted
        self._tip_time = 0.0  # when it came
        self._last_send = 0.0
        self.server_version: Any = None
        self.connects = 0
        self.notifications = 0
        self.requests: Counter[str] = Counter()  # requests written, by method

    def __repr__(self) -> str:
        return f"<ElectrumConnection {self.name} {'open' if self.connected else 'closed'}>"

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    # -- requests ----------------------------------------------------------------------

    def call(self, method: str, *params: Any) -> Any:
        """One request; raises ElectrumError if the server answers with an error."""
        return self.batch([(method, params)])[0]

    def batch(self, calls: Sequence[Call]) -> list[Any]:
        """Pipelined requests; results in order. The first error reply raises ElectrumError."""
        if not calls:
            return []
        with self._lock:
            self._ensure_connected()
            results: list[Any] = self._guarded(self._batch, calls)
            return results

    def subscribe_scripthashes(
        self, scripthashes: Sequence[str], then: Sequence[Call] = ()
    ) -> tuple[list[str | None], list[Any]]:
        """Subscribe (again): each script's current status hash (None: no history), and the
        results of the `then` calls, sent in the same burst. The first error reply is raised
        once the subscriptions that succeeded are recorded."""
        calls = [(SCRIPTHASH_SUBSCRIBE, [sh]) for sh in scripthashes] + list(then)
        if not calls:
            return [], []
        with self._lock:
            self._ensure_connected()
            # A notification may come before the reply: listen to the new scripts already.
            new = [sh for sh in dict.fromkeys(scripthashes) if sh not in self._scripthashes]
            self._scripthashes.update((sh, _PENDING) for sh in new)
            try:
                replies: list[Any] = self._guarded(self._exchange, calls)
            except BaseException:
                for sh in new:
                    del self._scripthashes[sh]
                raise
            statuses = replies[: len(scripthashes)]
            for sh, status in zip(scripthashes, statuses, strict=True):
                if isinstance(status, ElectrumError):
                    if self._scripthashes.get(sh) == _PENDING:
                        del self._scripthashes[sh]
                    continue
                if not _is_status(status):
                    self._fail(BackendProtocolError, "a script status is not a hash or null")
                self._scripthashes[sh] = status.lower() if status else None
            _raise_first_error(replies)
            return statuses, replies[len(scripthashes) :]

    def tip(self, min_height: int = 0) -> Tip:
        """The current tip: asked (subscribing to new blocks) the first time, when the kept
        one is below `min_height` (a history showed a block whose notification is still on
        its way) and once `TIP_MAX_AGE` passed (a reconnect asks it as it restores the
        subscription); otherwise the latest header the server pushed, the notifications
        already received being read first."""
        with self._lock:
            self._ensure_connected()
            tip = self._tip
            if (
                tip is None
                or tip.height < min_height
                or not self._headers_subscribed
                or time.monotonic() - self._tip_time > TIP_MAX_AGE
            ):
                tip = parse_tip(self.call(HEADERS_SUBSCRIBE), backend=self.name)
                self._headers_subscribed = True
                self._keep_tip(tip)
            return tip

    def wait_for_notification(self, seen: int, timeout: float | None) -> bool:
        """Block until `self.notifications` exceeds `seen`; False when `timeout` elapses.

        Reconnects (restoring the subscriptions) if the connection was dropped, and pings the
        server after a minute of silence so idle proxies keep the connection open.
        """
        end = None if timeout is None else time.monotonic() + timeout
        while self.notifications <= seen:
            now = time.monotonic()
            if end is not None and now >= end:
                return False
            until = now + _POLL if end is None else min(now + _POLL, end)
            with self._lock:
                self._ensure_connected()
                if self.notifications > seen:
                    break
                if now - self._last_send > KEEPALIVE:
                    self._guarded(self._batch, [("server.ping", [])])
                self._guarded(self._poll, until)
        return True

    def close(self) -> None:
        """Drop the socket and forget the subscriptions; a later call connects afresh."""
        with self._lock:
            self._drop()
            self._scripthashes.clear()
            self._headers_subscribed = False

    # -- connection --------------------------------------------------------------------

    def _ensure_connected(self) -> None:
        if self._sock is not None:
            try:
                # Read what arrived while idle: notifications, or the EOF of a server that
                # went away, in which case reconnect now rather than fail the request.
                self._guarded(self._poll, 0.0)
                return
            except BackendError as e:
                log.info("%s: connection lost while idle (%s); reconnecting", self.name, e.reason)
        self._sock = self._open()
        self._buf.clear()
        self._searched = 0
        try:
            hello = ("server.version", [CLIENT_NAME, PROTOCOL_VERSION])
            self.server_version = self._batch([hello])[0]
            self._restore_subscriptions()
        except BaseException:
            self._drop()
            raise
        self.connects += 1
        log.debug("%s: connected (server %r)", self.name, self.server_version)

    def _restore_subscriptions(self) -> None:
        if self._headers_subscribed:
            tip = self._batch([(HEADERS_SUBSCRIBE, [])])[0]
            self._dispatch({"method": HEADERS_SUBSCRIBE, "params": [tip]})
        shs = list(self._scripthashes)
        statuses = self._batch([(SCRIPTHASH_SUBSCRIBE, [sh]) for sh in shs])
        for sh, status in zip(shs, statuses, strict=True):
            self._dispatch({"method": SCRIPTHASH_SUBSCRIBE, "params": [sh, status]})

    def _open(self) -> socket.socket:
        host, port = self.endpoint.host, self.endpoint.port
        try:
            raw = socket.create_connection((host, port), timeout=self.connect_timeout)
        except TimeoutError as e:
            raise BackendTimeout(
                f"connect timed out after {self.connect_timeout:g}s", backend=self.name
            ) from e
        except OSError as e:
            raise BackendConnectError(f"cannot connect: {_os_text(e)}", backend=self.name) from e
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.endpoint.tls:
            return raw
        try:
            sock = self._tls_context().wrap_socket(raw, server_hostname=host)
        except BaseException as e:
            raw.close()
            if isinstance(e, ssl.SSLCertVerificationError):
                raise BackendConnectError(
                    f"TLS certificate rejected: {e.verify_message}", backend=self.name
                ) from e
            if isinstance(e, TimeoutError):
                raise BackendTimeout("TLS handshake timed out", backend=self.name) from e
            if isinstance(e, OSError):
                raise BackendConnectError(
                    f"TLS handshake failed: {_os_text(e)}", backend=self.name
                ) from e
            raise
        if self._pin is not None:
            der = sock.getpeercert(binary_form=True) or b""
            if not hmac.compare_digest(hashlib.sha256(der).digest(), self._pin):
                _close(sock)
                raise BackendConnectError(
                    "server certificate does not match the pinned fingerprint", backend=self.name
                )
        return sock

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            if self.validate_domain and self._pin is None:
                ctx = ssl.create_default_context()
            else:  # no CA validation: either the pin replaces it or the caller opted out
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            self._ssl_context = ctx
        return self._ssl_context

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        self._buf.clear()
        self._searched = 0
        if sock is not None:
            _close(sock)

    def _guarded(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run an exchange; anything but an error reply leaves the stream unusable: drop it."""
        try:
            return fn(*args)
        except ElectrumError:
            raise
        except BaseException:
            self._drop()
            raise

    def _fail(self, kind: type[BackendError], message: str) -> NoReturn:
        self._drop()
        raise kind(message, backend=self.name)

    # -- wire --------------------------------------------------------------------------

    def _batch(self, calls: Sequence[Call]) -> list[Any]:
        replies = self._exchange(calls)
        _raise_first_error(replies)
        return replies

    def _exchange(self, calls: Sequence[Call]) -> list[Any]:
        """The replies to `calls` in order, error replies as ElectrumError values (raised by
        the caller once every reply is read, so the stream stays in step).

        Chunks of `batch_size` lines are sent while at most `_WINDOW` chunks are unanswered:
        one round trip for most batches, and a bounded amount of unread data either way.
        Each chunk must be answered within `timeout`, counted from when it was sent and the
        chunk before it answered (a server answering in order works on it from then on).
        """
        size, total = self.batch_size, len(calls)
        replies: list[Any] = [_MISSING] * total
        pending: dict[int, int] = {}  # request id -> position, for requests sent, unanswered
        sent, deadline = 0, 0.0
        for n in range(total):
            while sent < total and min(sent + size, total) - n <= _WINDOW * size:
                end = min(sent + size, total)
                self._write(calls[sent:end], sent, pending, time.monotonic() + self.timeout)
                sent = end
            if n % size == 0:  # the first reply of a chunk: its clock starts
                deadline = time.monotonic() + self.timeout
            while replies[n] is _MISSING:
                self._read_reply(pending, replies, deadline)
        return replies

    def _write(
        self, calls: Sequence[Call], first: int, pending: dict[int, int], deadline: float
    ) -> None:
        """Send `calls` (positions `first`... of the batch) as one burst of request lines."""
        ids = [next(self._ids) for _ in calls]
        payload = b"".join(
            json.dumps(
                {"jsonrpc": "2.0", "id": i, "method": method, "params": list(params)},
                separators=(",", ":"),
            ).encode()
            + b"\n"
            for i, (method, params) in zip(ids, calls, strict=True)
        )
        pending.update((i, first + k) for k, i in enumerate(ids))
        self._send(payload, deadline)
        self.requests.update(method for method, _ in calls)

    def _read_reply(self, pending: dict[int, int], replies: list[Any], deadline: float) -> None:
        """Read one message: a notification is dispatched, a reply stored at its position."""
        msg = self._read_message(deadline)
        if msg is None:
            return
        if "id" not in msg:
            self._dispatch(msg)
            return
        msg_id = msg["id"]
        index = pending.pop(msg_id, None) if type(msg_id) is int else None
        if index is None:
            error = msg.get("error")
            detail = f" ({ElectrumError.from_reply(error, backend=None)})" if error else ""
            self._fail(BackendProtocolError, f"reply to an unknown request id{detail}")
        if msg.get("error") is not None:
            replies[index] = ElectrumError.from_reply(msg["error"], backend=self.name)
        elif "result" in msg:
            replies[index] = msg["result"]
        else:
            self._fail(BackendProtocolError, "reply has neither result nor error")

    def _poll(self, until: float) -> None:
        """Read and dispatch notifications until `until`; once it passed, only what is
        buffered and one more read of what already arrived (a server sending without pause
        cannot hold it). An unasked-for reply is an error."""
        late = False
        while True:
            msg = self._buffered_message()
            if msg is _NO_LINE:
                if late:
                    return
                late = time.monotonic() >= until
                if not self._recv(until, idle_ok=True):
                    return
                continue
            if msg is None:
                continue
            if "id" in msg:
                self._fail(BackendProtocolError, "reply while no request was pending")
            self._dispatch(msg)

    def _dispatch(self, msg: dict[str, Any]) -> None:
        method, params = msg.get("method"), msg.get("params")
        if not isinstance(method, str) or not isinstance(params, list):
            self._fail(BackendProtocolError, "message has no id and is not a notification")
        if method == SCRIPTHASH_SUBSCRIBE:
            if not (
                len(params) == 2
                and isinstance(params[0], str)
                and _HEX64.fullmatch(params[0])
                and _is_status(params[1])
            ):
                self._fail(BackendProtocolError, "malformed script status notification")
            scripthash, status = params[0].lower(), params[1]
            if status is not None:
                status = status.lower()
            if self._scripthashes.get(scripthash, status) == status:
                return  # not subscribed, or nothing new
            self._scripthashes[scripthash] = status
            params = [scripthash, status]
        elif method == HEADERS_SUBSCRIBE:
            try:
                tip = parse_tip(params[0] if params else None, backend=self.name)
            except BackendProtocolError as e:
                self._fail(BackendProtocolError, f"malformed header notification: {e.reason}")
            new = self._tip is None or self._tip.block_hash != tip.block_hash
            self._keep_tip(tip)
            if not new:
                return
        else:
            log.debug("%s: ignoring notification %s", self.name, method[:64])
            return
        self.notifications += 1
        for listener in self._listeners:
            listener(method, params)

    def _keep_tip(self, tip: Tip) -> None:
        self._tip, self._tip_time = tip, time.monotonic()

    def _send(self, payload: bytes, deadline: float) -> None:
        sock = self._sock
        assert sock is not None
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.sendall(payload)
        except TimeoutError as e:
            self._drop()
            raise BackendTimeout(
                f"request not sent within {self.timeout:g}s", backend=self.name
            ) from e
        except OSError as e:
            self._drop()
            raise BackendConnectError(
                f"connection lost while sending: {_os_text(e)}", backend=self.name
            ) from e
        self._last_send = time.monotonic()

    def _read_message(self, deadline: float) -> dict[str, Any] | None:
        """The next message (None for a blank line); BackendTimeout past the deadline."""
        while True:
            msg = self._buffered_message()
            if msg is not _NO_LINE:
                return msg  # type: ignore[no-any-return]
            self._recv(deadline, idle_ok=False)

    def _buffered_message(self) -> Any:
        """The next complete message in the buffer, None for a blank line, else _NO_LINE."""
        newline = self._buf.find(b"\n", self._searched)
        if newline < 0:
            self._searched = len(self._buf)
            if len(self._buf) > self.max_line:
                self._fail(BackendProtocolError, f"a reply line exceeds {self.max_line} bytes")
            return _NO_LINE
        line = bytes(self._buf[:newline])
        del self._buf[: newline + 1]
        self._searched = 0
        if len(line) > self.max_line:
            self._fail(BackendProtocolError, f"a reply line exceeds {self.max_line} bytes")
        if not line.strip():
            return None
        try:
            msg = json.loads(line)
        except (ValueError, RecursionError):
            self._fail(BackendProtocolError, "reply is not valid JSON")
        if not isinstance(msg, dict):
            self._fail(BackendProtocolError, "reply is not a JSON object")
        return msg

    def _recv(self, deadline: float, idle_ok: bool) -> bool:
        """Append what arrives before `deadline` to the buffer; False if idle and allowed."""
        sock = self._sock
        assert sock is not None
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0 and not idle_ok:
                raise TimeoutError
            sock.settimeout(max(remaining, 0.0))  # 0: just take what is already there
            data = sock.recv(_RECV)
        except (TimeoutError, BlockingIOError, ssl.SSLWantReadError) as e:
            if idle_ok:
                return False
            self._drop()
            raise BackendTimeout(
                f"no complete reply within {self.timeout:g}s", backend=self.name
            ) from e
        except OSError as e:
            self._drop()
            raise BackendConnectError(f"connection lost: {_os_text(e)}", backend=self.name) from e
        if not data:
            self._fail(BackendConnectError, "server closed the connection")
        self._buf += data
        return True


def _raise_first_error(replies: Sequence[Any]) -> None:
    for reply in replies:
        if isinstance(reply, ElectrumError):
            raise reply


def _is_status(value: Any) -> bool:
    return value is None or (isinstance(value, str) and _HEX64.fullmatch(value) is not None)


def _os_text(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        # socket.socket.shutdown, not SSLSocket's, which would first discard the TLS state.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
