"""`Monitor`: many wallets followed through one blocking backend (a client or a chain).

It performs `monitor_steps` (`_monitor_policy.py`), one call each: a round syncs its
wallets in turn, sharing the transactions fetched (a transaction paying several wallets
is fetched once per round).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Generator, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import BackendError, LwkError
from ._events import WalletEvent
from ._monitor_policy import Receive, Synced, SyncRound, Wallets, monitor_steps
from ._watch import next_step
from ._watch_policy import Sleep, Watched

if TYPE_CHECKING:
    from ._transaction import Transaction
    from ._update import Update
    from ._wollet import Wollet

__all__ = ["Monitor", "MonitorBase", "MonitoredBackend"]


class MonitoredBackend(Watched, Protocol):
    def scan_wallet(
        self,
        wollet: Wollet,
        *,
        gap_limit: int,
        to_index: int,
        tx_cache: MutableMapping[str, Transaction] | None = None,
    ) -> Update | None: ...


class MonitorBase:
    """The wallets of a monitor, whatever drives it; `_woken` ends a wait between rounds
    (a wallet was added)."""

    def __init__(
        self,
        wollets: Iterable[Wollet],
        *,
        gap_limit: int,
        interval: float,
        rng: random.Random | None,
    ) -> None:
        self.gap_limit = gap_limit
        self._wallets = Wallets(interval, rng if rng is not None else random.Random())
        for wollet in wollets:
            self._wallets.add(wollet)

    def add(self, wollet: Wollet) -> None:
        """Follow `wollet` too (synced in the next round; a wait between rounds ends)."""
        self._wallets.add(wollet)
        self._woken()

    def remove(self, wollet: Wollet | str) -> bool:
        """Stop following a wallet (given itself or its dwid); whether it was followed."""
        return self._wallets.remove(wollet if isinstance(wollet, str) else wollet.dwid())

    def wollets(self) -> list[Wollet]:
        """The wallets followed, in the order they were added."""
        return self._wallets.wollets()

    def _woken(self) -> None:
        raise NotImplementedError


class Monitor(MonitorBase):
    """Many wallets followed through one backend: a client or a `BackendChain`.

    `events()` syncs every wallet, then each wallet again when its server pushes a change
    (Electrum) or its poll period (`interval` seconds, jittered by a quarter either way)
    elapsed, applies each Update and yields `(wollet, event)` for every event, in the
    order of the rounds and, within a round, of the wallets. A wallet whose sync or update
    fails is retried after its own backoff (0.5 s doubling, up to 30 s) and the others go
    on; a chain fails over to its next backend, a single client reconnects. A wallet
    nothing changed since its last sync is not synced again: its Electrum client tells
    (no new status for any of its scripts, no new tip, the same connection; see
    `_monitor_policy`). `add` and `remove` may be called from another thread while
    `events()` runs; `round()` syncs every wallet once (but those) and returns the
    events. Drive it from one thread at a time.
    """

    def __init__(
        self,
        backend: MonitoredBackend,
        wollets: Iterable[Wollet] = (),
        *,
        gap_limit: int = 20,
        interval: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self._wake = threading.Event()
        self.backend = backend
        super().__init__(wollets, gap_limit=gap_limit, interval=interval, rng=rng)

    def _woken(self) -> None:
        self._wake.set()

    def events(self) -> Generator[tuple[Wollet, WalletEvent], None, None]:
        """Follow the wallets forever (see the class); building the iterator does no I/O."""
        return self._run(once=False)

    def round(self) -> list[tuple[Wollet, WalletEvent]]:
        """Sync every wallet once (but those nothing changed), apply the updates and
        return their events."""
        return list(self._run(once=True))

    def _run(self, *, once: bool) -> Generator[tuple[Wollet, WalletEvent], None, None]:
        steps = monitor_steps(self.backend, self._wallets, clock=time.monotonic, once=once)
        with contextlib.closing(steps):
            reply: Any = None
            while (step := next_step(steps, reply)) is not None:
                if isinstance(step, tuple):
                    yield step
                    reply = None
                elif isinstance(step, SyncRound):
                    reply = self._sync_round(step.wollets)
                elif isinstance(step, Receive):
                    with contextlib.suppress(BackendError):  # its statuses are void then
                        step.client.receive()
                    reply = None
                elif isinstance(step, Sleep):
                    self._wake.wait(step.seconds)
                    self._wake.clear()
                    reply = None
                else:
                    try:
                        reply = step.client.wait_for_notification(step.seen, step.seconds)
                    except BackendError as exc:
                        reply = exc

    def _sync_round(self, wollets: tuple[Wollet, ...]) -> list[Synced]:
        tx_cache: dict[str, Transaction] = {}
        results: list[Synced] = []
        for wollet in wollets:
            try:
                update = self.backend.scan_wallet(
                    wollet, gap_limit=self.gap_limit, to_index=0, tx_cache=tx_cache
                )
            except LwkError as exc:
                results.append((exc, None))
            else:
                results.append((update, self.backend._served_last()))
        return results
