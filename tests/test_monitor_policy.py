"""The monitor's rounds as pure logic: fake wallets, a fake clock, no backend, no I/O.

Ground truth: the rules `monitor_steps` states: the first round syncs every wallet in the
order added; later rounds the wallets whose poll period (interval x [0.75, 1.25)) elapsed,
or every wallet after a push; a failing wallet backs off 0.5 s doubling, alone; an update
refused as stale is retried at once; a wallet removed mid-round gets nothing applied.
"""

from __future__ import annotations

import random
from collections.abc import Generator, Sequence
from typing import Any

import attrs
import pytest

from lwk_core import BackendConnectError, InvalidArgument, NewTip, UpdateError
from lwk_core._monitor_policy import MonitorStep, SyncRound, Wallets, monitor_steps
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


def run_round(steps: Steps, replies: list[Any]) -> tuple[list[Any], Any]:
    """Send a round's replies; the pairs yielded, and the step after them."""
    pairs = []
    item = steps.send(replies)
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
