"""One persistent Electrum connection over blocking sockets: a thin driver of the protocol.

The protocol logic (framing, pipelined bursts, id matching, subscriptions, notifications,
deadlines) is `ElectrumProtocol`'s; this module opens the socket (TCP or TLS, validated or
pinned), performs the protocol's send and receive events within their deadlines, and drops
the socket on any failure other than an error reply. Only the thread holding the lock
touches the socket, so there is one reader and no background thread; reading
notifications never outlasts the deadline of the call.

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
import threading
import time
from collections.abc import Sequence
from typing import Any, Final, TypeVar

from lwk_core.plugin import AuthenticationFailed, BackendError, Tip

from ._burst import Chunk
from ._connection_base import BATCH_SIZE, MAX_LINE, ConnectionBase
from ._errors import ElectrumError
from ._framing import Call
from ._plan import run
from ._protocol import IOPlan, Receive, Send
from ._subscriptions import Listener
from ._tls import (
    closed_error,
    connect_error,
    handshake_error,
    nothing_came,
    recv_error,
    send_error,
)

__all__ = ["BATCH_SIZE", "MAX_LINE", "ElectrumConnection"]

log = logging.getLogger("lwk_electrum")

T = TypeVar("T")

_RECV: Final = 1 << 16


class ElectrumConnection(ConnectionBase):
    """A thread-safe JSON-RPC connection; constructing it does no network I/O."""

    def _init_io(self) -> None:
        self._lock = threading.RLock()  # whoever holds it owns the socket
        self._sock: socket.socket | None = None

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            super().add_listener(listener)

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
        self, scripthashes: Sequence[str], then: Sequence[Call] = (), used: Sequence[str] = ()
    ) -> tuple[list[str | None], list[Any], dict[str, Any]]:
        """See `ElectrumProtocol.subscribe`."""
        if not scripthashes and not then:
            return [], [], {}
        result: tuple[list[str | None], list[Any], dict[str, Any]] = self._run(
            self.protocol.subscribe(scripthashes, then, used)
        )
        return result

    def tip(self, min_height: int = 0) -> Tip:
        """See `ElectrumProtocol.tip`; the notifications already received are read first."""
        tip: Tip = self._run(self.protocol.tip(min_height))
        return tip

    def features(self) -> Any:
        """See `ElectrumProtocol.features`."""
        return self._run(self.protocol.features())

    def refresh(self) -> None:
        """See `ElectrumProtocol.refresh` (no request)."""
        self._run(self.protocol.refresh())

    def wait_for_notification(self, seen: int, timeout: float | None) -> bool:
        """Block until `self.notifications` exceeds `seen`; False when `timeout` elapses.

        Reconnects (restoring the subscriptions) if the connection was dropped, and pings the
        server after a minute of silence so idle proxies keep the connection open.
        """
        end = None if timeout is None else time.monotonic() + timeout
        while self.notifications <= seen:
            if end is not None and time.monotonic() >= end:
                return False
            self._run(self.protocol.wait_step(seen, end))
        return True

    def close(self) -> None:
        """Drop the socket and forget the subscriptions; a later call connects afresh."""
        with self._lock:
            self._drop()
            self.protocol.subscriptions.clear()

    # -- connection --------------------------------------------------------------------

    def _run(self, plan: IOPlan) -> Any:
        with self._lock:
            self._ensure_connected()
            self._token()
            return self._guarded(plan)

    def _token(self) -> str | None:
        return self._use_token(None if self.auth is None else self.auth.token())

    def _ensure_connected(self) -> None:
        if self._sock is not None:
            try:
                # Read what arrived while idle: notifications, or the EOF of a server that
                # went away, in which case reconnect now rather than fail the request.
                self._guarded(self.protocol.poll(0.0))
                return
            except BackendError as e:
                log.info("%s: connection lost while idle (%s); reconnecting", self.name, e.reason)
        renewed = False
        while True:
            token = self._token()
            self._sock = self._open()
            self.protocol.reset()
            try:
                run(self.protocol.handshake(), self._perform)
            except AuthenticationFailed:
                self._drop()
                if renewed or not self._renew(token):
                    raise
                log.info("%s: token refused, reconnecting with a renewed one", self.name)
                renewed = True
                continue
            except BaseException:
                self._drop()
                raise
            break
        self.connects += 1
        log.debug("%s: connected (server %r)", self.name, self.server_version)

    def _open(self) -> socket.socket:
        host, port = self.endpoint.host, self.endpoint.port
        if self.proxy is not None:
            raw = self.proxy.connect(host, port, self.connect_timeout, backend=self.name)
        else:
            try:
                raw = socket.create_connection((host, port), timeout=self.connect_timeout)
            except OSError as e:
                raise connect_error(e, self.connect_timeout, backend=self.name) from e
        raw.settimeout(self.connect_timeout)  # the TLS handshake's
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
            self._check_certificate(sock.getpeercert(binary_form=True))
        except BaseException:
            _close(sock)
            raise
        return sock

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        self.protocol.reset()
        if sock is not None:
            _close(sock)

    def _guarded(self, plan: IOPlan) -> Any:
        """Run a plan; anything but an error reply leaves the stream unusable: drop it."""
        try:
            return run(plan, self._perform)
        except ElectrumError:
            raise
        except BaseException:
            self._drop()
            raise

    # -- wire --------------------------------------------------------------------------

    def _perform(self, event: Send | Receive) -> bool | None:
        if isinstance(event, Send):
            self._write(event.chunk)
            return None
        return self._recv(event.deadline, event.idle_ok)

    def _write(self, chunk: Chunk) -> None:
        sock = self._sock
        assert sock is not None
        try:
            sock.settimeout(max(chunk.deadline - time.monotonic(), 0.001))
            sock.sendall(chunk.payload)
        except OSError as e:
            raise send_error(e, self.timeout, backend=self.name) from e

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
        except OSError as e:
            if idle_ok and nothing_came(e):
                return False
            raise recv_error(e, self.timeout, backend=self.name) from e
        if not data:
            raise closed_error(backend=self.name)
        self.protocol.feed(data)
        return True


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        # socket.socket.shutdown, not SSLSocket's, which would first discard the TLS state.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
