"""The async watch driver: performs `watch_steps` (`_watch_policy.py`), one await each.

It starts no task: each sync and wait is awaited in the consumer's task, so cancelling
that task (or leaving `async for`, then `aclose()`) ends the watch with nothing left
behind; a sync cancelled midway changed nothing (only `apply_update` changes a wallet,
after the sync).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import BackendError
from ._events import WalletEvent
from ._watch import next_step
from ._watch_policy import Sleep, SyncNow, Watched, WatchRequest, watch_steps

if TYPE_CHECKING:
    from ._update import Update
    from ._wollet import Wollet

__all__ = ["watch_events_async"]


class AsyncWatched(Watched, Protocol):
    async def sync(self, wollet: Wollet, gap_limit: int = 20) -> Update | None: ...


async def watch_events_async(
    watched: AsyncWatched,
    wollet: Wollet,
    *,
    gap_limit: int,
    interval: float,
    timeout: float | None,
) -> AsyncIterator[WalletEvent]:
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
                reply = await _perform(watched, wollet, gap_limit, step)


async def _perform(
    watched: AsyncWatched, wollet: Wollet, gap_limit: int, step: WatchRequest
) -> Any:
    """One step's result; a BackendError is a result too (the steps decide)."""
    try:
        if isinstance(step, SyncNow):
            return await watched.sync(wollet, gap_limit)
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        return await step.client.wait_for_notification(step.seen, step.seconds)
    except BackendError as exc:
        return exc
