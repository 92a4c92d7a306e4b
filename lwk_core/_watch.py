"""The blocking watch driver: performs `watch_steps` (`_watch_policy.py`), one call each."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ._errors import BackendError
from ._events import WalletEvent
from ._watch_policy import Sleep, SyncNow, Watched, WatchRequest, watch_steps

if TYPE_CHECKING:
    from ._update import Update
    from ._wollet import Wollet

__all__ = ["SyncWatched", "next_step", "watch_events"]

T = TypeVar("T")


class SyncWatched(Watched, Protocol):
    def sync(self, wollet: Wollet, gap_limit: int = 20) -> Update | None: ...


def watch_events(
    watched: SyncWatched,
    wollet: Wollet,
    *,
    gap_limit: int,
    interval: float,
    timeout: float | None,
) -> Iterator[WalletEvent]:
    """Sync `wollet` through `watched`, apply each Update and yield its events (see
    `watch_steps`)."""
    steps = watch_steps(watched, wollet, interval=interval, timeout=timeout, clock=time.monotonic)
    with contextlib.closing(steps):
        reply: Any = None
        while (step := next_step(steps, reply)) is not None:
            if isinstance(step, WalletEvent):
                yield step
                reply = None
            else:
                reply = _perform(watched, wollet, gap_limit, step)


def _perform(watched: SyncWatched, wollet: Wollet, gap_limit: int, step: WatchRequest) -> Any:
    """One step's result; a BackendError is a result too (the steps decide)."""
    try:
        if isinstance(step, SyncNow):
            return watched.sync(wollet, gap_limit)
        if isinstance(step, Sleep):
            _pause(step.seconds)
            return None
        return step.client.wait_for_notification(step.seen, step.seconds)
    except BackendError as exc:
        return exc


def next_step(steps: Generator[T, Any, None], reply: Any) -> T | None:
    """The next step, None once the steps ended."""
    try:
        return steps.send(reply)
    except StopIteration:
        return None


def _pause(seconds: float) -> None:
    """The wait between two polls or tries (a period, not a synchronisation)."""
    time.sleep(seconds)
