"""Pushes of a Waterfalls server for lwk_core's watch: an event stream per descriptor the
client scanned (`GET /v1/subscribe?descriptor=<as scanned>`, RCasatta/waterfalls
`docs/API.md`, "Descriptor Subscription"), each hint counted as a notification.

lwk_core's watch reads a pushing client's `notifications` before each sync and then calls
`wait_for_notification(seen, timeout)`; it polls instead while `pushes` is False. Here:

- the streams open on the first wait (only a watched client keeps connections open), one
  per descriptor scanned; each opening counts as a notification, since a scan must cover
  what changed before the stream began ("On reconnect, run a Waterfalls scan before relying
  on subscription events");
- a stream that fails or ends is a BackendError of the next wait (the watch backs off and
  scans again, the next wait opens it again);
- `pushes` is False without send_descriptor, once the server answered 404 (a server without
  subscriptions: the watch polls), or when scans sent no descriptor (ELIP-151 wallets).

`Streams` holds this state and the reading of the events, for the blocking driver
(`ThreadStreams`: a thread per stream) and the async one (`TaskStreams`: a task per stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
import urllib.parse
from collections.abc import Callable

from lwk_esplora.steps import AsyncEsploraBackend, EsploraBackend

from lwk_core.plugin import BackendConnectError, BackendError, BackendProtocolError

from ._sse import HINTS, EventStream, Malformed
from ._steps import WaterfallsSteps

__all__ = ["ROUTE", "Streams", "TaskStreams", "ThreadStreams"]

ROUTE = "v1/subscribe"


class Streams:
    """The count, the descriptors with a stream and their failures (guarded by the
    driver's lock: a threading.Condition, or one event loop)."""

    def __init__(self, steps: WaterfallsSteps) -> None:
        self.steps = steps
        self.count = 0
        self.no_route = False  # the server answered 404
        self.running: set[str] = set()  # encrypted descriptors with a stream
        self._error: BackendError | None = None

    @property
    def pushes(self) -> bool:
        return self.steps.send_descriptor and not self.no_route and self.steps.may_subscribe()

    def to_open(self) -> list[str]:
        """The scanned descriptors (encrypted) without a stream; marked as running. None
        while a stream's failure waits to be raised: the wait that raises it opens no new
        stream (the wait after it does), so each failure costs one subscription."""
        if self._error is not None:
            return []
        missing = [d for d in self.steps.subscribable() if d not in self.running]
        self.running.update(missing)
        return missing

    def opened(self, status: int, body: bytes) -> bool:
        """A stream's answer: True to read its events (counted as a notification)."""
        if status == 404:
            self.no_route = True
            return False
        if status != 200:
            text = body[:200].decode("utf-8", "replace").strip()
            raise BackendProtocolError(f"HTTP {status} on GET {ROUTE}: {text}", backend=self.name)
        self.count += 1
        return True

    def read(self, events: EventStream, chunk: bytes) -> bool:
        """Take a chunk of a stream; whether it brought a hint (counted)."""
        try:
            hints = sum(kind in HINTS for kind, _ in events.feed(chunk))
        except Malformed as exc:
            raise BackendProtocolError(f"GET {ROUTE}: {exc}", backend=self.name) from exc
        self.count += hints
        return hints > 0

    def ended(self, descriptor: str, error: BackendError | None, *, closed: bool) -> None:
        """A stream is over: its failure (or its end) is the next wait's, unless the
        client closed it."""
        self.running.discard(descriptor)
        if not (self.no_route or closed):
            self._error = error or BackendConnectError(
                f"GET {ROUTE}: the event stream ended", backend=self.name
            )

    def outcome(self, seen: int) -> bool | None:
        """What a wait returns now (None: keep waiting): True once a notification came,
        else a stream's failure, raised once."""
        if self.count > seen:
            return True  # a failure after it is the next wait's: this one's sync comes first
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if not self.running:
            return False  # nothing to wait on: the watch syncs and sees `pushes` False
        return None

    @property
    def name(self) -> str:
        return self.steps.name


def _path(descriptor: str) -> str:
    return f"/{ROUTE}?{urllib.parse.urlencode({'descriptor': descriptor})}"


class ThreadStreams:
    """The blocking driver: a daemon thread reads each stream; waits use a Condition."""

    def __init__(self, esplora: EsploraBackend, steps: WaterfallsSteps) -> None:
        self.state = Streams(steps)
        self._esplora = esplora
        self._changed = threading.Condition()
        self._generation = 0  # one more at each close: older readers only end

    def wait(self, seen: int, timeout: float | None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            for descriptor in self.state.to_open():
                threading.Thread(
                    target=self._read,
                    args=(descriptor, self._generation),
                    name=f"{ROUTE} reader",
                    daemon=True,
                ).start()
            while (outcome := self.state.outcome(seen)) is None:
                left = None if end is None else end - time.monotonic()
                if (left is not None and left <= 0) or not self._changed.wait(left):
                    return False
            return outcome

    def _read(self, descriptor: str, generation: int) -> None:
        error: BackendError | None = None
        try:
            with self._esplora.stream(_path(descriptor), route=ROUTE) as streamed:
                body = b"" if streamed.status == 200 else next(streamed.chunks, b"")
                opened = functools.partial(self.state.opened, streamed.status, body)
                if self._locked(generation, opened):
                    events = EventStream()
                    for chunk in streamed.chunks:
                        if generation != self._generation:
                            return  # the client closed this stream
                        self._locked(generation, functools.partial(self.state.read, events, chunk))
        except BackendError as exc:
            error = exc
        finally:
            with self._changed:
                if generation == self._generation:
                    self.state.ended(descriptor, error, closed=False)
                    self._changed.notify_all()

    def _locked(self, generation: int, step: Callable[[], bool]) -> bool:
        """`step()` under the lock, waking the waits; False, not run, for a reader of a
        stream the client closed since."""
        with self._changed:
            if generation != self._generation:
                return False
            done = step()
            self._changed.notify_all()
            return done

    def close(self) -> None:
        """Forget the streams; their readers end as the backend closes the connections
        (next), and whatever they still read counts for nothing."""
        with self._changed:
            self._generation += 1
            self.state.running.clear()


class TaskStreams:
    """The async driver: a task reads each stream; waits use an asyncio.Condition (made
    in the loop of the first wait)."""

    def __init__(self, esplora: AsyncEsploraBackend, steps: WaterfallsSteps) -> None:
        self.state = Streams(steps)
        self._esplora = esplora
        self._changed: asyncio.Condition | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    async def wait(self, seen: int, timeout: float | None) -> bool:
        if self._changed is None:
            self._changed = asyncio.Condition()
        changed = self._changed
        for descriptor in self.state.to_open():
            task = asyncio.create_task(self._read(descriptor, changed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        async with changed:
            try:
                async with asyncio.timeout(timeout):
                    while (outcome := self.state.outcome(seen)) is None:
                        await changed.wait()
            except TimeoutError:
                return False
        return outcome

    async def _read(self, descriptor: str, changed: asyncio.Condition) -> None:
        error: BackendError | None = None
        try:
            async with self._esplora.stream(_path(descriptor), route=ROUTE) as streamed:
                body = b"" if streamed.status == 200 else await anext(streamed.chunks, b"")
                opened = functools.partial(self.state.opened, streamed.status, body)
                if await _notify(changed, opened):
                    events = EventStream()
                    async for chunk in streamed.chunks:
                        await _notify(changed, functools.partial(self.state.read, events, chunk))
        except BackendError as exc:
            error = exc
        finally:
            async with changed:
                self.state.ended(descriptor, error, closed=self._closing)
                changed.notify_all()

    async def close(self) -> None:
        tasks, self._tasks = list(self._tasks), set()
        self._closing = True
        try:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        finally:
            self._closing = False
        self._changed = None


async def _notify(changed: asyncio.Condition, step: Callable[[], bool]) -> bool:
    async with changed:
        done = step()
        changed.notify_all()
        return done
