"""`AsyncMonitor`: many wallets followed through one async backend (an async client or
an AsyncBackendChain).

It performs `monitor_steps` (`_monitor_policy.py`), one await each: a round syncs its
wallets concurrently (at most `concurrency` at once) through the one backend, sharing the
transactions fetched, even those still in flight (`SharedTxs`). It starts no task that
outlives a step: cancelling the consumer's task ends the monitor with nothing left
behind, and nothing half-applied (only `apply_update` changes a wallet, after the round).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol

from ._async_driver import SharedTxs
from ._errors import BackendError, InvalidArgument, LwkError
from ._events import WalletEvent
from ._monitor import MonitorBase
from ._monitor_policy import Receive, Synced, SyncRound, monitor_steps
from ._watch import next_step
from ._watch_policy import Sleep, Watched

if TYPE_CHECKING:
    from ._transaction import Transaction
    from ._update import Update
    from ._wollet import Wollet

__all__ = ["AsyncMonitor"]


class AsyncMonitoredBackend(Watched, Protocol):
    async def scan_wallet(
        self,
        wollet: Wollet,
        *,
        gap_limit: int,
        to_index: int,
        tx_cache: MutableMapping[str, Transaction] | None = None,
    ) -> Update | None: ...


class AsyncMonitor(MonitorBase):
    """`Monitor` for asyncio: the same rounds, with each round's wallets synced
    concurrently (at most `concurrency` at once) through the one async client or chain.
    Call `add` and `remove` from the event loop's thread."""

    def __init__(
        self,
        backend: AsyncMonitoredBackend,
        wollets: Iterable[Wollet] = (),
        *,
        gap_limit: int = 20,
        interval: float = 10.0,
        concurrency: int = 16,
        rng: random.Random | None = None,
    ) -> None:
        if concurrency < 1:
            raise InvalidArgument("concurrency must be at least 1")
        self._wake = asyncio.Event()
        self.backend = backend
        self.concurrency = concurrency
        super().__init__(wollets, gap_limit=gap_limit, interval=interval, rng=rng)

    def _woken(self) -> None:
        self._wake.set()

    def events(self) -> AsyncIterator[tuple[Wollet, WalletEvent]]:
        """Follow the wallets forever (see `Monitor`); building the iterator does no I/O."""
        return self._run(once=False)

    async def round(self) -> list[tuple[Wollet, WalletEvent]]:
        """Sync every wallet once (but those nothing changed), apply the updates and
        return their events."""
        return [pair async for pair in self._run(once=True)]

    async def _run(self, *, once: bool) -> AsyncIterator[tuple[Wollet, WalletEvent]]:
        steps = monitor_steps(self.backend, self._wallets, clock=time.monotonic, once=once)
        with contextlib.closing(steps):
            reply: Any = None
            while (step := next_step(steps, reply)) is not None:
                if isinstance(step, tuple):
                    yield step
                    reply = None
                elif isinstance(step, SyncRound):
                    reply = await self._sync_round(step.wollets)
                elif isinstance(step, Receive):
                    with contextlib.suppress(BackendError):  # its statuses are void then
                        await step.client.receive()
                    reply = None
                elif isinstance(step, Sleep):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), step.seconds)
                    self._wake.clear()
                    reply = None
                else:
                    try:
                        reply = await step.client.wait_for_notification(step.seen, step.seconds)
                    except BackendError as exc:
                        reply = exc

    async def _sync_round(self, wollets: tuple[Wollet, ...]) -> list[Synced]:
        tx_cache = SharedTxs()
        slots = asyncio.Semaphore(self.concurrency)

        async def sync(wollet: Wollet) -> Synced:
            async with slots:
                try:
                    update = await self.backend.scan_wallet(
                        wollet, gap_limit=self.gap_limit, to_index=0, tx_cache=tx_cache
                    )
                except LwkError as exc:
                    return exc, None
                # Read before any other task runs: a chain sets it as its call returns.
                return update, self.backend._served_last()

        return list(await asyncio.gather(*(sync(wollet) for wollet in wollets)))
