"""A monitor as steps: which of many wallets sync in each round, and when (no I/O).

`monitor_steps` yields what to do (`SyncRound`, and the watch's `Sleep` and `WaitForPush`)
and the `(wollet, event)` pairs to hand over; the blocking and the async monitors
(`_monitor.py`, `_async_monitor.py`) only perform each step and send back its result.
The first round syncs every wallet; later rounds sync the wallets due: those whose
jittered poll period elapsed, or all of them after a push of the backend that served the
last round (an Electrum client: a rescan of an unchanged wallet sends no request, its
scripts' statuses being pushed to the client). A wallet whose sync or update fails is
retried after its own exponential backoff; the others go on.

A due wallet is not synced at all when nothing could have changed it since its last sync
(`Changes`): the backend that served that sync tells which scripts changed since
(lwk_electrum's `changed_since`: statuses its server pushed; lwk_esplora's: the chain
state's moves), it still serves the monitor (a chain did not fail over), the wallet's
state is the one that sync left, and none of its scripts changed, nor the tip. Where the
backend cannot tell (Waterfalls, a new connection, a new block), the wallet is synced as
always.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Collection, Generator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ._errors import BackendError, InvalidArgument, LwkError, UpdateError
from ._events import WalletEvent
from ._watch_policy import BACKOFF_MAX, BACKOFF_MIN, Pushes, Sleep, WaitForPush, Watched

if TYPE_CHECKING:
    from ._state import WolletState
    from ._update import Update
    from ._wollet import Wollet

__all__ = [
    "ChangeFeed",
    "Changes",
    "MonitorStep",
    "Receive",
    "SyncRound",
    "Synced",
    "Wallets",
    "monitor_steps",
]

log = logging.getLogger("lwk_core.monitor")

_JITTER = 0.25  # a poll period is drawn from interval * [0.75, 1.25): wallets spread out


@attrs.frozen
class SyncRound:
    """Sync each of `wollets` (sharing fetched transactions); send back one `Synced` per
    wallet, in order."""

    wollets: tuple[Wollet, ...]


Synced = tuple["Update | LwkError | None", object | None]
"""A wallet's sync: its Update (or None), or the LwkError it raised; and the client that
served it (the backend's `_served_last()` right after it), None if it failed."""


@attrs.frozen
class Receive:
    """`client.receive()`: read what its server sent (pushes, or the connection's end);
    send back None (a BackendError raised is ignored: the client's statuses are void)."""

    client: Any


MonitorStep = SyncRound | Receive | Sleep | WaitForPush | tuple["Wollet", WalletEvent]


class ChangeFeed(Protocol):
    """A client that tells which scripts changed since a moment: lwk_electrum's. Only
    `receive` does I/O (called or awaited)."""

    def receive(self) -> object:
        """Read what the server sent meanwhile."""
        ...

    def change_mark(self) -> object:
        """Now (a hashable mark)."""
        ...

    def changed_since(self, mark: Any) -> Collection[bytes] | None:
        """The scripts that may have changed since `mark`; None: any may have, or the tip."""
        ...


@attrs.frozen(eq=False)
class _Clean:
    """A wallet's last sync: the client that served it, that client's mark before it, and
    the state the sync left."""

    client: ChangeFeed
    mark: object
    state: WolletState


class Changes:
    """The marks of `watched`'s clients that tell what changed, taken at a round's start,
    and which wallets nothing changed since their last sync."""

    def __init__(self, watched: Watched) -> None:
        self.served = watched._served_last()
        self._marks = {
            id(c): c.change_mark()  # type: ignore[attr-defined]
            for c in watched._push_clients()
            if callable(getattr(c, "changed_since", None))
        }
        self._changed: dict[tuple[int, object], Collection[bytes] | None] = {}

    @staticmethod
    def feed(watched: Watched) -> ChangeFeed | None:
        """The client whose changes decide which wallets to skip: the one serving."""
        served = watched._served_last()
        return served if callable(getattr(served, "changed_since", None)) else None  # type: ignore[return-value]

    def clean(self, served: object | None, state: WolletState) -> _Clean | None:
        """The record of a sync `served` made this round, leaving `state`; None when that
        client cannot tell changes."""
        if served is None or (mark := self._marks.get(id(served))) is None:
            return None
        return _Clean(served, mark, state)  # type: ignore[arg-type]

    def unchanged(self, clean: _Clean, state: WolletState) -> bool:
        """Whether a wallet now in `state`, last synced as `clean` says, would sync to
        nothing: the same client serves, the state is that sync's, and no script of it
        (nor the tip) changed since."""
        if clean.client is not self.served or state is not clean.state:
            return False
        key = (id(clean.client), clean.mark)
        if key not in self._changed:
            self._changed[key] = clean.client.changed_since(clean.mark)
        changed = self._changed[key]
        return changed is not None and state.scripts.keys().isdisjoint(changed)


@attrs.define
class _Entry:
    wollet: Wollet
    due: float  # when it syncs next, unless a push comes first
    backoff: float = BACKOFF_MIN
    clean: _Clean | None = None  # its last sync, while it worked


class Wallets:
    """The monitored wallets by dwid, with when each is due. `add` and `remove` may be
    called from any thread while the steps run (a lock guards the table)."""

    def __init__(self, interval: float, rng: random.Random) -> None:
        if not interval > 0:  # NaN too
            raise InvalidArgument("interval must be a positive number of seconds")
        self.interval = interval
        self._rng = rng
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._dwids: dict[int, str] = {}  # id(wollet) -> its dwid (costly: an EC derivation)

    def add(self, wollet: Wollet) -> None:
        """Follow `wollet` (synced in the next round); a wallet with the same dwid is
        replaced."""
        dwid = wollet.dwid()
        with self._lock:
            if (old := self._entries.get(dwid)) is not None:
                del self._dwids[id(old.wollet)]
            self._entries[dwid] = _Entry(wollet, float("-inf"))
            self._dwids[id(wollet)] = dwid

    def remove(self, dwid: str) -> bool:
        """Stop following the wallet `dwid`; whether it was followed. An update of it still
        in flight is dropped."""
        with self._lock:
            if (entry := self._entries.pop(dwid, None)) is None:
                return False
            del self._dwids[id(entry.wollet)]
            return True

    def wollets(self) -> list[Wollet]:
        with self._lock:
            return [e.wollet for e in self._entries.values()]

    def due(self, now: float, *, everyone: bool, changes: Changes) -> tuple[Wollet, ...]:
        """The wallets to sync now: those due (all with `everyone`) but the ones `changes`
        shows unchanged since their last sync, which are rescheduled as if synced."""
        due = []
        with self._lock:
            for entry in self._entries.values():
                if not (everyone or entry.due <= now):
                    continue
                clean = entry.clean
                if clean is not None and changes.unchanged(clean, entry.wollet.state):
                    entry.due = self._next_poll(now)
                else:
                    due.append(entry.wollet)
        return tuple(due)

    def next_due(self) -> float | None:
        with self._lock:
            return min((e.due for e in self._entries.values()), default=None)

    def holds(self, wollet: Wollet) -> bool:
        with self._lock:
            return self._entry(wollet) is not None

    def _entry(self, wollet: Wollet) -> _Entry | None:
        """The entry of `wollet` itself (not of a wallet that replaced it)."""
        entry = self._entries.get(self._dwids.get(id(wollet), ""))
        return entry if entry is not None and entry.wollet is wollet else None

    def synced(self, wollet: Wollet, now: float, clean: _Clean | None) -> None:
        """Schedule the next poll of `wollet` (a jittered period from now); `clean`: the
        sync, if its client can tell what changed since."""
        with self._lock:
            if (entry := self._entry(wollet)) is not None:
                entry.backoff = BACKOFF_MIN
                entry.due = self._next_poll(now)
                entry.clean = clean

    def _next_poll(self, now: float) -> float:
        return now + self.interval * self._rng.uniform(1 - _JITTER, 1 + _JITTER)

    def failed(self, wollet: Wollet, now: float, error: LwkError) -> None:
        """Retry `wollet` after its backoff (0.5 s doubling up to 30 s or `interval`)."""
        with self._lock:
            if (entry := self._entry(wollet)) is None:
                return
            dwid = self._dwids[id(wollet)]
            entry.clean = None
            log.warning("wallet %s: %s; retrying in %gs", dwid, error, entry.backoff)
            entry.due = now + entry.backoff
            entry.backoff = min(entry.backoff * 2, max(self.interval, BACKOFF_MAX))

    def retry_now(self, wollet: Wollet) -> None:
        with self._lock:
            if (entry := self._entry(wollet)) is not None:
                entry.due = float("-inf")


def monitor_steps(
    watched: Watched,
    wallets: Wallets,
    *,
    clock: Callable[[], float],
    once: bool = False,
) -> Generator[MonitorStep, Any, None]:
    """The steps of following `wallets` through `watched`, forever; with `once`, one round
    of every wallet, then the end. Each round's updates are applied in the round's order
    (the order wallets were added) and their events yielded, each as `(wollet, event)`."""
    pushes = Pushes(watched)
    everyone = True  # the first round, and after a push
    wait_backoff = BACKOFF_MIN
    while True:
        if (feed := Changes.feed(watched)) is not None:
            yield Receive(feed)  # what its server told up to now, before the marks
        pushes.mark()
        changes = Changes(watched)
        due = wallets.due(clock(), everyone=everyone, changes=changes)
        if due:
            results: list[Synced] = yield SyncRound(due)
            for wollet, (result, served) in zip(due, results, strict=True):
                yield from _apply(wallets, wollet, result, clock(), changes, served)
        if once:
            return
        next_due = wallets.next_due()
        seconds = wallets.interval if next_due is None else max(0.0, next_due - clock())
        waiter = pushes.waiter()
        if waiter is None:
            yield Sleep(seconds)
            everyone = False
            continue
        outcome = yield WaitForPush(waiter[0], waiter[1], seconds)
        everyone = outcome is True
        if isinstance(outcome, BackendError):  # the pushing server went away: the next
            yield Sleep(wait_backoff)  # round fails over or reconnects
            wait_backoff = min(wait_backoff * 2, BACKOFF_MAX)
        else:
            wait_backoff = BACKOFF_MIN


def _apply(
    wallets: Wallets,
    wollet: Wollet,
    result: Update | LwkError | None,
    now: float,
    changes: Changes,
    served: object | None,
) -> Generator[tuple[Wollet, WalletEvent], Any, None]:
    if not wallets.holds(wollet):
        return  # removed during the round: its update is dropped
    if isinstance(result, LwkError):
        wallets.failed(wollet, now, result)
        return
    try:
        events: Sequence[WalletEvent] = wollet.apply_update(result) if result is not None else []
    except UpdateError as exc:
        if result is not None and result.base_status != wollet.state.status:
            wallets.retry_now(wollet)  # the application applied an update of its own first
        else:
            wallets.failed(wollet, now, exc)
        return
    wallets.synced(wollet, now, changes.clean(served, wollet.state))
    for event in events:
        yield wollet, event
