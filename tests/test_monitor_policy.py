"""The monitor's rounds as pure logic: fake wallets, a fake clock, no backend, no I/O.

Ground truth: the rules `monitor_steps` states: the first round syncs every wallet in the
order added; later rounds the wallets whose poll period (interval x [0.75, 1.25)) elapsed,
or every wallet after a push; a failing wallet backs off 0.5 s doubling, alone; an update
refused as stale is retried at once; a wallet removed mid-round gets nothing applied;
with a client that tells which scripts changed, a wallet is synced again only when one of
its scripts changed (or anything may have), its state is not the one its last sync left,
that sync failed, or another client serves now.
"""

from __future__ import annotations

import random
from collections.abc import Generator, Sequence
from typing import Any

import attrs
import pytest

from lwk_core import BackendConnectError, InvalidArgument, NewTip, UpdateError
from lwk_core._monitor_policy import MonitorStep, Receive, SyncRound, Wallets, monitor_steps
from lwk_core._watch_policy import Sleep, WaitForPush


@attrs.frozen
class FakeUpdate:
    base_status: int
    height: int


@attrs.define
class FakeState:
    status: int = 0


@attrs.define(eq=False)
class FakeWollet:
    """A wallet whose update at height h yields NewTip(h); `refuse` makes it refuse all."""

    name: str
    refuse: bool = False
    state: FakeState = attrs.field(factory=FakeState)
    applied: list[int] = attrs.field(factory=list)

    def dwid(self) -> str:
        return self.name

    def apply_update(self, update: FakeUpdate) -> list[NewTip]:
        if self.refuse or update.base_status != self.state.status:
            raise UpdateError("refused")
        self.applied.append(update.height)
        self.state.status += 1
        return [NewTip(update.height, self.name)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Polled:
    """A backend that cannot push."""

    def _push_clients(self) -> Sequence[object]:
        return [self]

    def _served_last(self) -> object | None:
        return self


class Pushing(Polled):
    notifications = 7

    def wait_for_notification(self, seen: int, timeout: float | None) -> bool:
        raise AssertionError("the steps only yield the wait")


Steps = Generator[MonitorStep, Any, None]


def start(
    wollets: list[FakeWollet], backend: object | None = None, **kw: Any
) -> tuple[Steps, Wallets, Clock]:
    wallets = Wallets(10.0, random.Random(1))
    for wollet in wollets:
        wallets.add(wollet)  # type: ignore[arg-type]
    clock = Clock()
    steps = monitor_steps(backend or Polled(), wallets, clock=clock, **kw)  # type: ignore[arg-type]
    return steps, wallets, clock


def results(step: MonitorStep, height: int) -> list[Any]:
    """Each synced wallet's next update (at `height`), as a backend would answer."""
    assert isinstance(step, SyncRound)
    return [FakeUpdate(w.state.status, height) for w in step.wollets]  # type: ignore[attr-defined]


def run_round(
    steps: Steps, replies: list[Any], served: object | None = None
) -> tuple[list[Any], Any]:
    """Send a round's replies (each served by `served`, none for an error); the pairs
    yielded, and the step after them."""
    pairs = []
    item = steps.send([(r, None if isinstance(r, Exception) else served) for r in replies])
    while isinstance(item, tuple):
        pairs.append(item)
        item = next(steps)
    return pairs, item


def test_the_first_round_syncs_everyone_in_order_then_each_at_its_jittered_period() -> None:
    a, b, c = FakeWollet("a"), FakeWollet("b"), FakeWollet("c")
    steps, _, clock = start([a, b, c])
    first = next(steps)
    assert first == SyncRound((a, b, c))  # type: ignore[arg-type]
    pairs, wait = run_round(steps, results(first, 1))
    assert pairs == [(w, NewTip(1, w.name)) for w in (a, b, c)]
    assert isinstance(wait, Sleep) and 7.5 <= wait.seconds < 12.5  # the earliest period
    due = []
    for _ in range(20):  # time passes in steps of a second: each is polled in [7.5, 12.5)
        clock.now += 1.0
        step = steps.send(None)
        if isinstance(step, SyncRound):
            due += [(w.name, clock.now) for w in step.wollets]  # type: ignore[attr-defined]
            _, step = run_round(steps, [None] * len(step.wollets))
        assert isinstance(step, Sleep)
    firsts = {name: min(t for n, t in due if n == name) for name in "abc"}
    assert all(7.5 <= t < 13.5 for t in firsts.values())  # within a second of the period


def test_a_failing_wallet_backs_off_alone() -> None:
    good, bad = FakeWollet("good"), FakeWollet("bad")
    steps, _, clock = start([good, bad])
    step = next(steps)
    error = BackendConnectError("refused", backend="tcp://a:1")
    pairs, wait = run_round(steps, [FakeUpdate(0, 1), error])
    assert pairs == [(good, NewTip(1, "good"))] and bad.applied == []
    assert wait == Sleep(0.5)  # the bad wallet's first backoff
    clock.now = 0.5
    step = steps.send(None)
    assert step == SyncRound((bad,))  # type: ignore[arg-type]
    _, wait = run_round(steps, [error])
    assert wait == Sleep(1.0)  # doubled
    clock.now = 1.5
    step = steps.send(None)
    pairs, _ = run_round(steps, [FakeUpdate(0, 2)])
    assert pairs == [(bad, NewTip(2, "bad"))]


def test_a_refused_update_backs_off_and_a_stale_one_is_retried_at_once() -> None:
    refusing, raced = FakeWollet("refusing", refuse=True), FakeWollet("raced")
    steps, _, _ = start([refusing, raced])
    step = next(steps)
    pairs, wait = run_round(steps, [FakeUpdate(0, 1), FakeUpdate(5, 1)])
    assert pairs == [] and raced.applied == []
    assert wait == Sleep(0.0)  # the stale update's wallet is due now
    step = steps.send(None)
    assert step == SyncRound((raced,))  # type: ignore[arg-type]


def test_a_wallet_removed_during_a_round_gets_nothing_applied() -> None:
    a, b = FakeWollet("a"), FakeWollet("b")
    steps, wallets, _ = start([a, b])
    step = next(steps)
    assert wallets.remove("a") and not wallets.remove("a")
    pairs, _ = run_round(steps, results(step, 1))
    assert pairs == [(b, NewTip(1, "b"))] and a.applied == []
    assert wallets.wollets() == [b]  # type: ignore[comparison-overlap]


def test_a_push_wakes_every_wallet_and_a_failed_wait_backs_off() -> None:
    a, b = FakeWollet("a"), FakeWollet("b")
    backend = Pushing()
    steps, wallets, clock = start([a, b], backend)
    step = next(steps)
    _, wait = run_round(steps, results(step, 1))
    assert isinstance(wait, WaitForPush) and wait.client is backend and wait.seen == 7
    assert wait.seconds is not None and 7.5 <= wait.seconds < 12.5
    clock.now = 1.0
    assert steps.send(True) == SyncRound((a, b))  # type: ignore[arg-type]
    _, wait = run_round(steps, [None, None])
    assert isinstance(wait, WaitForPush)
    clock.now = 2.0
    wallets.add(c := FakeWollet("c"))  # type: ignore[arg-type]
    assert steps.send(False) == SyncRound((c,))  # type: ignore[arg-type]
    _, wait = run_round(steps, [None])
    assert steps.send(BackendConnectError("gone", backend="tcp://a:1")) == Sleep(0.5)


def test_once_is_one_round_of_everyone() -> None:
    a = FakeWollet("a")
    steps, _, _ = start([a], once=True)
    assert next(steps) == SyncRound((a,))  # type: ignore[arg-type]
    with pytest.raises(StopIteration):
        run_round(steps, [FakeUpdate(0, 3)])
    assert a.applied == [3]


@pytest.mark.parametrize("interval", [0.0, -1.0, float("nan")])
def test_bad_intervals_are_refused(interval: float) -> None:
    with pytest.raises(InvalidArgument):
        Wallets(interval, random.Random())


# -- skipping wallets nothing changed (a backend that tells which scripts changed) -------


@attrs.frozen(eq=False)
class ScriptsState:
    """A wallet state: its scripts (replaced whole by each update, as WolletState is)."""

    scripts: dict[bytes, object]
    status: int = 0


@attrs.define(eq=False)
class ScriptsWollet:
    name: str
    state: ScriptsState
    applied: list[int] = attrs.field(factory=list)

    def dwid(self) -> str:
        return self.name

    def apply_update(self, update: FakeUpdate | None) -> list[NewTip]:
        if update is None:
            return []
        self.applied.append(update.height)
        self.state = attrs.evolve(self.state, status=self.state.status + 1)
        return [NewTip(update.height, self.name)]


class Feeding(Pushing):
    """A pushing client that tells which scripts changed since a mark: its marks count
    the changes logged; a logged None stands for anything (a new tip, a reconnect)."""

    def __init__(self) -> None:
        self.log: list[bytes | None] = []

    def receive(self) -> None:
        raise AssertionError("the steps only yield the read")

    def change_mark(self) -> int:
        return len(self.log)

    def changed_since(self, mark: int) -> set[bytes] | None:
        changed = self.log[mark:]
        return None if None in changed else {s for s in changed if s is not None}


class Chained(Polled):
    """A chain whose backends are `clients`; `served` is its `_served_last()`."""

    def __init__(self, *clients: Feeding) -> None:
        self.clients = clients
        self.served: object | None = clients[0]

    def _push_clients(self) -> Sequence[object]:
        return self.clients

    def _served_last(self) -> object | None:
        return self.served


def scripts_wallets(n: int) -> list[ScriptsWollet]:
    """`n` wallets of 3 scripts each: wallet i's are bytes([i, k])."""
    return [
        ScriptsWollet(f"w{i}", ScriptsState({bytes([i, k]): None for k in range(3)}))
        for i in range(n)
    ]


def received(steps: Steps, step: MonitorStep, feed: object) -> MonitorStep:
    """The step after `step`, a read of what `feed` received, which each round starts with."""
    assert step == Receive(feed)
    return steps.send(None)


def first_round(steps: Steps, served: object) -> Any:
    step = received(steps, next(steps), served)
    assert isinstance(step, SyncRound)
    _, wait = run_round(steps, [None] * len(step.wollets), served)
    return wait


def test_after_a_push_only_the_wallets_whose_scripts_changed_are_synced() -> None:
    a, b, c = wollets = scripts_wallets(3)
    feed = Feeding()
    steps, _, clock = start(wollets, feed)  # type: ignore[arg-type]
    assert isinstance(first_round(steps, feed), WaitForPush)
    feed.log.append(bytes([1, 2]))  # b's third script got a new status
    clock.now = 1.0
    step = received(steps, steps.send(True), feed)
    assert step == SyncRound((b,))  # type: ignore[arg-type]
    pairs, wait = run_round(steps, [FakeUpdate(0, 5)], feed)
    assert pairs == [(b, NewTip(5, "w1"))]
    assert isinstance(wait, WaitForPush)
    feed.log.append(bytes([9, 9]))  # a script of no wallet: nobody is synced
    clock.now = 2.0
    assert isinstance(received(steps, steps.send(True), feed), WaitForPush)
    clock.now = 100.0  # every poll period elapsed: still nothing changed
    assert isinstance(received(steps, steps.send(False), feed), WaitForPush)
    feed.log.append(None)  # a new tip (or a reconnect): anything may have changed
    clock.now = 101.0
    assert received(steps, steps.send(True), feed) == SyncRound((a, b, c))  # type: ignore[arg-type]


def test_a_chain_that_switched_backend_syncs_everyone() -> None:
    wollets = scripts_wallets(2)
    first, second = Feeding(), Feeding()
    chain = Chained(first, second)
    steps, _, _ = start(wollets, chain)  # type: ignore[arg-type]
    first_round(steps, first)
    chain.served = second  # a call failed over: what `first` tells is not the chain's
    step = received(steps, steps.send(True), second)
    assert step == SyncRound(tuple(wollets))  # type: ignore[arg-type]
    run_round(steps, [None, None], second)
    step = received(steps, steps.send(True), second)
    assert isinstance(step, WaitForPush)  # now `second` tells: nothing changed


def test_a_wallet_changed_elsewhere_or_whose_sync_failed_is_synced() -> None:
    a, b, _ = wollets = scripts_wallets(3)
    feed = Feeding()
    steps, _, _ = start(wollets, feed)  # type: ignore[arg-type]
    received(steps, next(steps), feed)
    error = BackendConnectError("refused", backend="tcp://a:1")
    run_round(steps, [None, error, None], feed)
    a.state = attrs.evolve(a.state, status=7)  # the application applied an update of its own
    assert received(steps, steps.send(True), feed) == SyncRound((a, b))  # type: ignore[arg-type]
