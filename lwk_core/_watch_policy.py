"""A watch as steps: when a watcher syncs, hands over events, waits and gives up (no I/O).

`watch_steps` yields what to do (`SyncNow`, `Sleep`, `WaitForPush`) and the events to hand
over; the blocking and the async `watch()` drivers (`_watch.py`, `_async_watch.py`) only
perform each step, called or awaited, and send back its result (a BackendError as a
value). A backend pushes when it has `notifications` (a count of the server's
notifications so far) and `wait_for_notification(seen, timeout) -> bool` (lwk_electrum's
clients: header and script subscriptions; lwk_waterfalls': event streams), unless its
`pushes` is False (read before each sync: a server found to have no push route); the
watch waits on the client that served the last sync (one client, or a chain's backend)
and polls every `interval` seconds when that one cannot push. A server that dies fails
the sync or the wait: the policy backs off, and the next sync goes through the chain's
next backend (or reconnects a single client).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs

from ._errors import BackendError, InvalidArgument, UpdateError
from ._events import WalletEvent

if TYPE_CHECKING:
    from ._wollet import Wollet

__all__ = [
    "BACKOFF_MAX",
    "BACKOFF_MIN",
    "Pushes",
    "Sleep",
    "SyncNow",
    "Wait",
    "WaitForPush",
    "WatchPolicy",
    "WatchRequest",
    "WatchStep",
    "Watched",
    "watch_steps",
]

log = logging.getLogger("lwk_core.watch")

BACKOFF_MIN: Final = 0.5
BACKOFF_MAX: Final = 30.0


@attrs.frozen
class Wait:
    """Wait up to `seconds` (None: without end) before syncing again; with `push`, a
    notification of the backend that served the last sync ends the wait early."""

    seconds: float | None
    push: bool


class WatchPolicy:
    """A watch syncs, hands over what changed, then waits: for a push where the backend
    serving it sends them, else `interval` seconds. A failure (of a sync or of a wait) is
    retried after an exponential backoff, from 0.5 s up to 30 s (or `interval`, if
    longer). With `timeout`, the watch ends once that many seconds of watching brought
    no change (the consumer's time between events not counted), and a failure lasting
    longer than `timeout` is raised.
    """

    def __init__(self, *, interval: float, timeout: float | None, now: float) -> None:
        if not interval > 0:  # NaN too
            raise InvalidArgument("interval must be a positive number of seconds")
        if timeout is not None and not timeout > 0:
            raise InvalidArgument("timeout must be a positive number of seconds, or None")
        self.interval = interval
        self.timeout = timeout
        self._quiet_since = now  # since the last change was handed over
        self._failing_since: float | None = None
        self._backoff = BACKOFF_MIN

    def synced(self, now: float, *, changed: bool, pushes: bool) -> Wait | None:
        """After a sync that worked (`changed`: it brought events, all handed over): how
        to wait before the next, or None when the watch ends (quiet for `timeout`)."""
        self._failing_since, self._backoff = None, BACKOFF_MIN
        if changed:
            self._quiet_since = now
        left = self._quiet_left(now)
        if left is not None and left <= 0:
            return None
        if pushes:
            return Wait(left, push=True)
        return Wait(self.interval if left is None else min(self.interval, left), push=False)

    def quiet_over(self, now: float) -> bool:
        """Whether the watch ends now, `timeout` seconds without a change being over (a
        wait that ran out then ends it without another sync)."""
        left = self._quiet_left(now)
        return left is not None and left <= 0

    def _quiet_left(self, now: float) -> float | None:
        return None if self.timeout is None else self._quiet_since + self.timeout - now

    def failed(self, now: float, error: BackendError) -> Wait:
        """After a failed sync or wait: the backoff before the next sync. Raises `error`
        once failures have lasted longer than `timeout`."""
        if self._failing_since is None:
            self._failing_since = now
        backoff = self._backoff
        if self.timeout is not None and now + backoff - self._failing_since > self.timeout:
            raise error
        self._backoff = min(backoff * 2, max(self.interval, BACKOFF_MAX))
        return Wait(backoff, push=False)


class Watched(Protocol):
    """What a watch follows: a client or a chain, blocking or async."""

    def _push_clients(self) -> Sequence[object]:
        """The clients that may serve a sync."""
        ...

    def _served_last(self) -> object | None:
        """The client that served the last sync that worked."""
        ...


@attrs.frozen
class SyncNow:
    """Sync the wallet; send back the Update (or None), or the BackendError raised."""


@attrs.frozen
class Sleep:
    """Wait `seconds` (a poll period or a backoff); send back None."""

    seconds: float


@attrs.frozen
class WaitForPush:
    """`client.wait_for_notification(seen, seconds)`; send back what it returns (True: a
    push came), or the BackendError raised."""

    client: Any
    seen: int
    seconds: float | None


WatchRequest = SyncNow | Sleep | WaitForPush
WatchStep = WatchRequest | WalletEvent


class Pushes:
    """The notification counts of `watched`'s pushing clients, read before each sync, so
    that a push arriving during the sync ends the next wait at once."""

    def __init__(self, watched: Watched) -> None:
        self._watched = watched
        self._seen: dict[int, int] = {}

    def mark(self) -> None:
        self._seen = {
            id(c): c.notifications  # type: ignore[attr-defined]
            for c in self._watched._push_clients()
            if callable(getattr(c, "wait_for_notification", None))
            and getattr(c, "pushes", True) is not False
        }

    def waiter(self) -> tuple[Any, int] | None:
        """The client to wait on (the last sync's, if it pushes) and its count before it."""
        served = self._watched._served_last()
        if served is None or id(served) not in self._seen:
            return None
        return served, self._seen[id(served)]


def watch_steps(
    watched: Watched,
    wollet: Wollet,
    *,
    interval: float,
    timeout: float | None,
    clock: Callable[[], float],
) -> Generator[WatchStep, Any, None]:
    """The steps of watching `wollet` through `watched`: each Update is applied and its
    events yielded, forever (or until `timeout` seconds bring none: see WatchPolicy).
    Raises the BackendError of a failure that lasted longer than `timeout`."""
    policy = WatchPolicy(interval=interval, timeout=timeout, now=clock())
    pushes = Pushes(watched)
    while True:
        pushes.mark()
        update = yield SyncNow()
        if isinstance(update, BackendError):
            wait: Wait | None = _failed(policy, clock(), update)
        else:
            try:
                events = wollet.apply_update(update) if update is not None else []
            except UpdateError:
                if update is None or update.base_status == wollet.state.status:
                    raise
                continue  # another sync of this wallet applied its update first: sync again
            yield from events
            waiter = pushes.waiter()
            wait = policy.synced(clock(), changed=bool(events), pushes=waiter is not None)
        if wait is None:
            return
        waiter = pushes.waiter() if wait.push else None
        if waiter is None:
            outcome = yield Sleep(wait.seconds or 0.0)
        else:
            outcome = yield WaitForPush(waiter[0], waiter[1], wait.seconds)
        if isinstance(outcome, BackendError):
            yield Sleep(_failed(policy, clock(), outcome).seconds or 0.0)
        elif outcome is not True and policy.quiet_over(clock()):
            return  # no push came (or none can): the quiet time is over


def _failed(policy: WatchPolicy, now: float, error: BackendError) -> Wait:
    wait = policy.failed(now, error)
    log.warning("%s; retrying in %gs", error, wait.seconds)
    return wait
