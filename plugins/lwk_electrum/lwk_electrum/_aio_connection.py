"""One persistent Electrum connection on asyncio streams: the async driver of the protocol.

The twin of `_connection.ElectrumConnection` (same protocol core, same TLS policy, same
timeouts), for one event loop. Tasks take turns on the stream (an asyncio lock), so many
concurrent scans share one connection and each burst stays pipelined; no background task
runs: notifications are read by whoever holds the stream. A failure other than an error
reply, or a cancellation while the stream is in use, aborts the transport (its stream can
no longer be trusted), so a cancelled task leaves neither a socket nor a half-read reply
behind; the next call reconnects and restores the subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any, Final

from lwk_core.plugin import BackendError, Tip

from ._burst import Chunk
from ._connection_base import ConnectionBase
from ._errors import ElectrumError
from ._framing import Call
from ._plan import run_async
from ._protocol import IOPlan, Receive, Send
from ._tls import (
    check_pin,
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

    _lock: asyncio.Lock  # binds to the event loop of its first use
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None

    def _make_lock(self) -> asyncio.Lock:
        return asyncio.Lock()

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
        self, scripthashes: Sequence[str], then: Sequence[Call] = ()
    ) -> tuple[list[str | None], list[Any]]:
        """See `ElectrumProtocol.subscribe`."""
        if not scripthashes and not then:
            return [], []
        result: tuple[list[str | None], list[Any]] = await self._run(
            self.protocol.subscribe(scripthashes, then)
        )
        return result

    async def tip(self, min_height: int = 0) -> Tip:
        """See `ElectrumProtocol.tip`; the notifications already received are read first."""
        tip: Tip = await self._run(self.protocol.tip(min_height))
        return tip

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
            writer, self._reader, self._writer = self._writer, None, None
            self.protocol.reader.clear()
            self.protocol.subscriptions.clear()
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError, TimeoutError):
                    async with asyncio.timeout(_CLOSE_WAIT):
                        await writer.wait_closed()
                writer.transport.abort()  # no-op once closed; else do not wait any longer

    # -- connection --------------------------------------------------------------------

    async def _run(self, plan: IOPlan) -> Any:
        async with self._lock:
            await self._ensure_connected()
            return await self._guarded(plan)

    async def _ensure_connected(self) -> None:
        if self._writer is not None:
            try:
                # Read what arrived while idle: notifications, or the EOF of a server that
                # went away, in which case reconnect now rather than fail the request.
                await self._guarded(self.protocol.poll(0.0))
                return
            except BackendError as e:
                log.info("%s: connection lost while idle (%s); reconnecting", self.name, e.reason)
        self._reader, self._writer = await self._open()
        self.protocol.reader.clear()
        try:
            await run_async(self.protocol.handshake(), self._perform)
        except BaseException:
            self._drop()
            raise
        self.connects += 1
        log.debug("%s: connected (server %r)", self.name, self.server_version)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, port = self.endpoint.host, self.endpoint.port
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(host, port)
        except OSError as e:
            raise connect_error(e, self.connect_timeout, backend=self.name) from e
        if not self.endpoint.tls:
            return reader, writer
        try:
            async with asyncio.timeout(self.connect_timeout):
                await writer.start_tls(self._tls_context(), server_hostname=host)
            ssl_object = writer.get_extra_info("ssl_object")
            check_pin(ssl_object.getpeercert(binary_form=True), self._pin, backend=self.name)
        except BaseException as e:
            writer.transport.abort()
            error = handshake_error(e, backend=self.name)
            if error is None:
                raise
            raise error from e
        return reader, writer

    def _drop(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        self.protocol.reader.clear()
        if writer is not None:
            writer.transport.abort()

    async def _guarded(self, plan: IOPlan) -> Any:
        """Run a plan; anything but an error reply (or a cancellation while the stream is in
        use) leaves the stream unusable: drop it."""
        try:
            return await run_async(plan, self._perform)
        except ElectrumError:
            raise
        except BaseException:
            self._drop()
            raise

    # -- wire --------------------------------------------------------------------------

    async def _perform(self, event: Send | Receive) -> bool | None:
        if isinstance(event, Send):
            await self._write(event.chunk)
            return None
        return await self._recv(event.deadline, event.idle_ok)

    async def _write(self, chunk: Chunk) -> None:
        writer = self._writer
        assert writer is not None
        try:
            writer.write(chunk.payload)
            async with asyncio.timeout(max(chunk.deadline - time.monotonic(), 0.001)):
                await writer.drain()
        except OSError as e:
            raise send_error(e, self.timeout, backend=self.name) from e

    async def _recv(self, deadline: float, idle_ok: bool) -> bool:
        """Feed what arrives before `deadline` to the reader; False if idle and allowed."""
        reader = self._reader
        assert reader is not None
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0 and not idle_ok:
                raise TimeoutError
            # 0: just take what the transport already buffered (read returns at once then)
            async with asyncio.timeout(max(remaining, 0.0)):
                data = await reader.read(_RECV)
        except OSError as e:
            if idle_ok and nothing_came(e):
                return False
            raise recv_error(e, self.timeout, backend=self.name) from e
        if not data:
            raise closed_error(backend=self.name)
        self.protocol.reader.feed(data)
        return True
