"""One persistent Electrum connection on asyncio streams: the async driver of the protocol.

The twin of `_connection.ElectrumConnection` (same protocol core, same TLS policy, same
timeouts), for one event loop. Many tasks share the connection at once: each writes its
bursts whole, and the tasks waiting for replies take turns reading (whoever reads hands
every reply to its burst by id, then wakes only the tasks whose bursts got replies and the
next reader), so concurrent scans overlap their round trips. No background task runs. A
cancelled task's late replies are discarded and the stream goes on; any other failure but
an error reply aborts the transport (its stream can no longer be trusted), failing the
other exchanges on it, and the next call reconnects and restores the subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from lwk_core.plugin import AuthenticationFailed, BackendConnectError, BackendError, Tip

from ._burst import Chunk
from ._connection_base import ConnectionBase
from ._errors import ElectrumError
from ._framing import Call
from ._plan import run_async
from ._protocol import IOPlan, Receive, Send
from ._tls import (
    closed_error,
    connect_error,
    handshake_error,
    nothing_came,
    recv_error,
    send_error,
)

__all__ = ["AsyncElectrumConnection"]

log = logging.getLogger("lwk_electrum")

_RECV: Final = 1 << 16
_CLOSE_WAIT: Final = 1.0  # seconds a polite close may take before the transport is aborted


class AsyncElectrumConnection(ConnectionBase):
    """An asyncio JSON-RPC connection; constructing it does no network I/O."""

    def _init_io(self) -> None:
        # asyncio locks bind to the event loop of their first use
        self._lock = asyncio.Lock()  # connecting, closing
        self._reading = False  # a task is reading the stream (one at a time)
        # tasks waiting for a read, each with the test of whether a read brought it news
        self._parked: dict[asyncio.Future[None], Callable[[], bool]] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._stream_no = 0  # which stream: bumped by every drop
        self._fed = 0  # reads fed to the protocol, to see that another task read meanwhile

    @property
    def connected(self) -> bool:
        return self._writer is not None

    # -- requests ----------------------------------------------------------------------

    async def call(self, method: str, *params: Any) -> Any:
        """One request; raises ElectrumError if the server answers with an error."""
        return (await self.batch([(method, params)]))[0]

    async def batch(self, calls: Sequence[Call]) -> list[Any]:
        """Pipelined requests; results in order. The first error reply raises ElectrumError."""
        if not calls:
            return []
        result: list[Any] = await self._run(self.protocol.batch(calls))
        return result

    async def subscribe_scripthashes(
        self, scripthashes: Sequence[str], then: Sequence[Call] = (), used: Sequence[str] = ()
    ) -> tuple[list[str | None], list[Any], dict[str, Any]]:
        """See `ElectrumProtocol.subscribe`."""
        if not scripthashes and not then:
            return [], [], {}
        result: tuple[list[str | None], list[Any], dict[str, Any]] = await self._run(
            self.protocol.subscribe(scripthashes, then, used)
        )
        return result

    async def tip(self, min_height: int = 0) -> Tip:
        """See `ElectrumProtocol.tip`; the notifications already received are read first."""
        tip: Tip = await self._run(self.protocol.tip(min_height))
        return tip

    async def features(self) -> Any:
        """See `ElectrumProtocol.features`."""
        return await self._run(self.protocol.features())

    async def refresh(self) -> None:
        """See `ElectrumProtocol.refresh` (no request). Two turns of the event loop first:
        the transport's read callback runs after the task that was ready when the selector
        saw the data, so only then does what the socket holds reach the stream."""
        for _ in range(2):
            await asyncio.sleep(0)
        await self._run(self.protocol.refresh())

    async def wait_for_notification(self, seen: int, timeout: float | None) -> bool:
        """Wait until `self.notifications` exceeds `seen`; False when `timeout` elapses.

        Reconnects (restoring the subscriptions) if the connection was dropped, and pings the
        server after a minute of silence so idle proxies keep the connection open. Holds the
        stream a quarter of a second at a time, so other tasks' calls go between.
        """
        end = None if timeout is None else time.monotonic() + timeout
        while self.notifications <= seen:
            if end is not None and time.monotonic() >= end:
                return False
            await self._run(self.protocol.wait_step(seen, end))
        return True

    async def close(self) -> None:
        """Close the stream and forget the subscriptions; a later call connects afresh."""
        async with self._lock:
            writer = self._writer
            self._drop()
            self.protocol.subscriptions.clear()
            if writer is not None:
                with contextlib.suppress(OSError, TimeoutError):
                    async with asyncio.timeout(_CLOSE_WAIT):
                        await writer.wait_closed()

    # -- connection --------------------------------------------------------------------

    async def _run(self, plan: IOPlan) -> Any:
        stream = await self._ensure_connected()
        await self._token()
        return await self._guarded(plan, stream)

    async def _token(self) -> str | None:
        return self._use_token(None if self.auth is None else await self.auth.atoken())

    async def _guarded(self, plan: IOPlan, stream: int) -> Any:
        """Run a plan on `stream`; anything but an error reply or a cancellation (whose
        late replies are discarded) leaves the stream unusable: drop it."""
        try:
            return await run_async(plan, lambda event: self._perform(event, stream))
        except (ElectrumError, asyncio.CancelledError):
            raise
        except BaseException:
            self._drop(stream)
            raise

    async def _ensure_connected(self) -> int:
        """The number of the open stream, once connected (and the handshake done)."""
        async with self._lock:
            if self._reader is not None and not self.protocol.busy:
                try:
                    # Read what arrived while idle (with calls in flight, their readers do):
                    # notifications, or the EOF of a server that went away, in which case
                    # reconnect now rather than fail a call.
                    await self._guarded(self.protocol.poll(0.0), self._stream_no)
                except BackendError as e:
                    log.info(
                        "%s: connection lost while idle (%s); reconnecting", self.name, e.reason
                    )
            if self._reader is not None and not self._reader.at_eof():
                return self._stream_no
            renewed = False
            while True:
                token = await self._token()
                try:
                    stream = await self._connect()
                except AuthenticationFailed:
                    if renewed or not self._renew(token):
                        raise
                    log.info("%s: token refused, reconnecting with a renewed one", self.name)
                    renewed = True
                    continue
                break
            self.connects += 1
            log.debug("%s: connected (server %r)", self.name, self.server_version)
            return stream

    async def _connect(self) -> int:
        """Open a stream and do the handshake on it; the stream's number."""
        self._drop()
        self._reader, self._writer = await self._open()
        stream = self._stream_no
        try:
            await run_async(self.protocol.handshake(), lambda e: self._perform(e, stream))
        except BaseException:
            self._drop(stream)
            raise
        return stream

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, port = self.endpoint.host, self.endpoint.port
        try:
            async with asyncio.timeout(self.connect_timeout):
                if self.proxy is not None:
                    sock = await self.proxy.connect_async(
                        host, port, self.connect_timeout, backend=self.name
                    )
                    reader, writer = await asyncio.open_connection(sock=sock)
                else:
                    reader, writer = await asyncio.open_connection(host, port)
        except OSError as e:
            raise connect_error(e, self.connect_timeout, backend=self.name) from e
        if not self.endpoint.tls:
            return reader, writer
        try:
            async with asyncio.timeout(self.connect_timeout):
                await writer.start_tls(self._tls_context(), server_hostname=host)
            ssl_object = writer.get_extra_info("ssl_object")
            self._check_certificate(ssl_object.getpeercert(binary_form=True))
        except BaseException as e:
            writer.transport.abort()
            error = handshake_error(e, backend=self.name)
            if error is None:
                raise
            raise error from e
        return reader, writer

    def _drop(self, stream: int | None = None) -> None:
        """Abort the stream (`stream`: only if that one is still open)."""
        if stream is not None and stream != self._stream_no:
            return
        writer, self._reader, self._writer = self._writer, None, None
        self._stream_no += 1
        self.protocol.reset()
        if writer is not None:
            writer.transport.abort()
        self._wake(everyone=True)  # the parked tasks see the stream gone

    def _check(self, stream: int) -> None:
        if stream != self._stream_no:
            raise BackendConnectError(
                "connection lost (dropped by another call)", backend=self.name
            )

    # -- wire --------------------------------------------------------------------------

    async def _perform(self, event: Send | Receive, stream: int) -> bool | None:
        if isinstance(event, Send):
            self._check(stream)
            await self._write(event.chunk)
            return None
        return await self._recv(event, stream)

    async def _write(self, chunk: Chunk) -> None:
        writer = self._writer
        assert writer is not None
        try:
            writer.write(chunk.payload)
            async with asyncio.timeout(max(chunk.deadline - time.monotonic(), 0.001)):
                await writer.drain()
        except OSError as e:
            raise send_error(e, self.timeout, backend=self.name) from e

    async def _recv(self, event: Receive, stream: int) -> bool:
        """Feed what arrives before the event's deadline to the protocol; True at once if
        another task's read brought news (replies to the event's burst; for a plan waiting
        on no burst, any bytes); False if idle and allowed.

        One task reads at a time; the others park until a read brings them news or it is
        their turn to read, so a read wakes a few tasks, not every one in flight."""
        news = self._news_test(event)
        remaining = event.deadline - time.monotonic()
        try:
            if remaining <= 0 and not event.idle_ok:
                raise TimeoutError
            # 0: just take what the transport already buffered (read returns at once then)
            async with asyncio.timeout(max(remaining, 0.0)):
                while True:
                    self._check(stream)
                    if news():
                        return True
                    if not self._reading:
                        break
                    await self._park(news)
                data = await self._read()
        except OSError as e:
            if event.idle_ok and nothing_came(e):
                return False
            raise recv_error(e, self.timeout, backend=self.name) from e
        if not data:
            raise closed_error(backend=self.name)
        return True

    def _news_test(self, event: Receive) -> Callable[[], bool]:
        burst = event.burst
        if burst is None:
            fed = self._fed
            return lambda: self._fed != fed
        answered = burst.answered
        return lambda: burst.answered != answered

    async def _park(self, news: Callable[[], bool]) -> None:
        future = asyncio.get_running_loop().create_future()
        self._parked[future] = news
        try:
            await future
        except BaseException:
            if not self._reading:  # it may have been woken to read next: pass the turn on
                self._wake()
            raise
        finally:
            del self._parked[future]

    async def _read(self) -> bytes:
        """One read, its complete replies handed to their bursts; then the parked tasks it
        brought news to are woken, and one more to read next."""
        reader = self._reader
        assert reader is not None
        self._reading = True
        try:
            data = await reader.read(_RECV)
            if data:
                self._fed += 1
                self.protocol.feed(data)
                self.protocol.dispatch()
        finally:
            self._reading = False
            self._wake()
        return data

    def _wake(self, *, everyone: bool = False) -> None:
        next_reader = True
        for future, news in self._parked.items():
            if future.done():
                continue
            if everyone or news():
                future.set_result(None)
            elif next_reader:
                future.set_result(None)
                next_reader = False
