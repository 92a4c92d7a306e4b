"""One persistent Electrum connection over blocking sockets: a thin driver of the protocol.

The protocol logic (framing, pipelined bursts, id matching, subscriptions, notifications,
deadlines) is `ElectrumProtocol`'s; this module opens the socket (TCP or TLS, validated or
pinned), sends and receives within the deadlines the protocol sets, and drops the socket on
any failure other than an error reply. Only the thread holding the lock touches the socket,
so there is one reader and no background thread; reading notifications never outlasts the
deadline of the call.

The next call after a drop reconnects, redoes the `server.version` handshake and restores
the subscriptions, whose current values are dispatched to the listeners like notifications.
The tip comes from the `blockchain.headers.subscribe` subscription: asked once, then kept
up to date by the headers the server pushes, so asking for it is not a round trip (unless
nothing came for `TIP_MAX_AGE` seconds: a server that stopped pushing cannot freeze it).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final, TypeVar

from lwk_core.plugin import BackendConnectError, BackendError, BackendTimeout, Tip

from ._burst import Chunk
from ._endpoint import Endpoint
from ._errors import ElectrumError
from ._framing import MAX_LINE, Call
from ._plan import Plan, run
from ._protocol import ElectrumProtocol
from ._subscriptions import Listener
from ._tls import check_pin, connect_error, handshake_error, os_text, tls_context

__all__ = ["BATCH_SIZE", "MAX_LINE", "ElectrumConnection", "check_settings"]

log = logging.getLogger("lwk_electrum")

T = TypeVar("T")

BATCH_SIZE: Final = 100
_POLL: Final = 0.25  # longest time a waiting watcher holds the lock
_RECV: Final = 1 << 16


def check_settings(timeout: float, connect_timeout: float, max_line: int, batch_size: int) -> None:
    if not (timeout > 0 and connect_timeout > 0):
        raise ValueError("timeouts must be positive numbers of seconds")
    if max_line < 1024 or batch_size < 1:
        raise ValueError("max_line must be >= 1024 and batch_size >= 1")


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
        check_settings(timeout, connect_timeout, max_line, batch_size)
        self.endpoint = endpoint
        self.name = endpoint.url
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.validate_domain = validate_domain
        self.protocol = ElectrumProtocol(
            backend=self.name, timeout=self.timeout, batch_size=batch_size, max_line=max_line
        )
        self._pin = cert_fingerprint
        self._ssl_context: ssl.SSLContext | None = None
        self._lock = threading.RLock()
        self._sock: socket.socket | None = None
        self.connects = 0

    def __repr__(self) -> str:
        return f"<ElectrumConnection {self.name} {'open' if self.connected else 'closed'}>"

    @property
    def connected(self) -> bool:
        return self._sock is not None

    @property
    def notifications(self) -> int:
        return self.protocol.subscriptions.notifications

    @property
    def requests(self) -> Counter[str]:
        return self.protocol.requests

    @property
    def server_version(self) -> Any:
        return self.protocol.server_version

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self.protocol.subscriptions.listeners.append(listener)

    # -- requests ----------------------------------------------------------------------

    def call(self, method: str, *params: Any) -> Any:
        """One request; raises ElectrumError if the server answers with an error."""
        return self.batch([(method, params)])[0]

    def batch(self, calls: Sequence[Call]) -> list[Any]:
        """Pipelined requests; results in order. The first error reply raises ElectrumError."""
        if not calls:
            return []
        result: list[Any] = self._run(self.protocol.batch(calls))
        return result

    def subscribe_scripthashes(
        self, scripthashes: Sequence[str], then: Sequence[Call] = ()
    ) -> tuple[list[str | None], list[Any]]:
        """See `ElectrumProtocol.subscribe`."""
        if not scripthashes and not then:
            return [], []
        result: tuple[list[str | None], list[Any]] = self._run(
            self.protocol.subscribe(scripthashes, then)
        )
        return result

    def tip(self, min_height: int = 0) -> Tip:
        """See `ElectrumProtocol.tip`; the notifications already received are read first."""
        tip: Tip = self._run(self.protocol.tip(min_height, time.monotonic))
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
                if self.protocol.keepalive_due(now):
                    self._guarded(self.protocol.batch([("server.ping", [])]))
                self._guarded_poll(until)
        return True

    def close(self) -> None:
        """Drop the socket and forget the subscriptions; a later call connects afresh."""
        with self._lock:
            self._drop()
            self.protocol.subscriptions.clear()

    # -- connection --------------------------------------------------------------------

    def _run(self, plan: Plan[Sequence[Call], T]) -> T:
        with self._lock:
            self._ensure_connected()
            return self._guarded(plan)

    def _ensure_connected(self) -> None:
        if self._sock is not None:
            try:
                # Read what arrived while idle: notifications, or the EOF of a server that
                # went away, in which case reconnect now rather than fail the request.
                self._guarded_poll(0.0)
                return
            except BackendError as e:
                log.info("%s: connection lost while idle (%s); reconnecting", self.name, e.reason)
        self._sock = self._open()
        self.protocol.reader.clear()
        try:
            run(self.protocol.handshake(time.monotonic), self._exchange)
        except BaseException:
            self._drop()
            raise
        self.connects += 1
        log.debug("%s: connected (server %r)", self.name, self.server_version)

    def _open(self) -> socket.socket:
        host, port = self.endpoint.host, self.endpoint.port
        try:
            raw = socket.create_connection((host, port), timeout=self.connect_timeout)
        except OSError as e:
            raise connect_error(e, self.connect_timeout, backend=self.name) from e
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.endpoint.tls:
            return raw
        try:
            sock = self._tls_context().wrap_socket(raw, server_hostname=host)
        except BaseException as e:
            raw.close()
            error = handshake_error(e, backend=self.name)
            if error is None:
                raise
            raise error from e
        try:
            check_pin(sock.getpeercert(binary_form=True), self._pin, backend=self.name)
        except BackendError:
            _close(sock)
            raise
        return sock

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = tls_context(self.validate_domain, self._pin)
        return self._ssl_context

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        self.protocol.reader.clear()
        if sock is not None:
            _close(sock)

    def _guarded(self, plan: Plan[Sequence[Call], T]) -> T:
        """Run a plan; anything but an error reply leaves the stream unusable: drop it."""
        try:
            return run(plan, self._exchange)
        except ElectrumError:
            raise
        except BaseException:
            self._drop()
            raise

    def _guarded_poll(self, until: float) -> None:
        try:
            self._poll(until)
        except BaseException:
            self._drop()
            raise

    # -- wire --------------------------------------------------------------------------

    def _exchange(self, calls: Sequence[Call]) -> list[Any]:
        burst = self.protocol.burst(calls)
        while not burst.done:
            for chunk in burst.chunks(time.monotonic()):
                self._write(chunk)
            deadline = burst.read_deadline(time.monotonic())
            msg = self._read_message(deadline)
            self.protocol.receive(msg, burst, time.monotonic())
        return burst.replies

    def _write(self, chunk: Chunk) -> None:
        sock = self._sock
        assert sock is not None
        try:
            sock.settimeout(max(chunk.deadline - time.monotonic(), 0.001))
            sock.sendall(chunk.payload)
        except TimeoutError as e:
            raise BackendTimeout(
                f"request not sent within {self.timeout:g}s", backend=self.name
            ) from e
        except OSError as e:
            raise BackendConnectError(
                f"connection lost while sending: {os_text(e)}", backend=self.name
            ) from e
        self.protocol.sent(chunk, time.monotonic())

    def _poll(self, until: float) -> None:
        """Read and dispatch notifications until `until`; once it passed, only what is
        buffered and one more read of what already arrived (a server sending without pause
        cannot hold it). An unasked-for reply is an error."""
        late = False
        while True:
            msg = self.protocol.reader.next_message()
            if msg is not None:
                self.protocol.receive(msg, None, time.monotonic())
                continue
            if late:
                return
            late = time.monotonic() >= until
            if not self._recv(until, idle_ok=True):
                return

    def _read_message(self, deadline: float) -> dict[str, Any]:
        """The next message; BackendTimeout past the deadline."""
        while True:
            msg = self.protocol.reader.next_message()
            if msg is not None:
                return msg
            self._recv(deadline, idle_ok=False)

    def _recv(self, deadline: float, idle_ok: bool) -> bool:
        """Feed what arrives before `deadline` to the reader; False if idle and allowed."""
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
            raise BackendTimeout(
                f"no complete reply within {self.timeout:g}s", backend=self.name
            ) from e
        except OSError as e:
            raise BackendConnectError(f"connection lost: {os_text(e)}", backend=self.name) from e
        if not data:
            raise BackendConnectError("server closed the connection", backend=self.name)
        self.protocol.reader.feed(data)
        return True


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        # socket.socket.shutdown, not SSLSocket's, which would first discard the TLS state.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
