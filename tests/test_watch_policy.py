"""The watch's policy and steps as pure logic: a fake clock, no backend, no I/O.

Ground truth: the rules the policy states (wait for a push where the serving client has
them, else poll every `interval`; back off 0.5 s doubling on failures; with `timeout`, end
after that long without a change and raise a failure lasting longer).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from shared_data import DATA

from lwk_core import BackendConnectError, InvalidArgument, Network, NewTip, Tip, Update, Wollet
from lwk_core._watch_policy import Sleep, SyncNow, Wait, WaitForPush, WatchPolicy, watch_steps

DESCRIPTOR = json.loads((DATA / "liquid-testnet-wallet.json").read_text())["descriptor"]


TIP = Tip(5, "ab" * 32, 1_700_000_000)


def down() -> BackendConnectError:
    return BackendConnectError("refused", backend="tcp://a:1")


def test_polls_every_interval_and_waits_for_pushes_without_end() -> None:
    policy = WatchPolicy(interval=5.0, timeout=None, now=0.0)
    assert policy.synced(1.0, changed=False, pushes=False) == Wait(5.0, push=False)
    assert policy.synced(2.0, changed=True, pushes=True) == Wait(None, push=True)


def test_a_quiet_timeout_ends_the_watch_and_changes_restart_it() -> None:
    policy = WatchPolicy(interval=5.0, timeout=10.0, now=0.0)
    assert policy.synced(8.0, changed=False, pushes=False) == Wait(2.0, push=False)
    assert policy.synced(9.0, changed=True, pushes=True) == Wait(10.0, push=True)
    assert policy.synced(18.5, changed=False, pushes=True) == Wait(0.5, push=True)
    assert policy.synced(19.0, changed=False, pushes=True) is None


def test_failures_back_off_doubling_and_a_long_failure_is_raised() -> None:
    policy = WatchPolicy(interval=1.0, timeout=5.0, now=0.0)
    waits = [policy.failed(t, down()).seconds for t in (0.0, 0.5, 1.5)]
    assert waits == [0.5, 1.0, 2.0]
    assert policy.synced(3.5, changed=False, pushes=False) == Wait(1.0, push=False)
    assert policy.failed(4.0, down()).seconds == 0.5  # a success reset the backoff
    error = down()
    with pytest.raises(BackendConnectError) as raised:
        for now in (4.5, 5.5, 7.5):  # 4.0 + 4.0 more would outlast the timeout
            policy.failed(now, error)
    assert raised.value is error


def test_the_backoff_stops_growing() -> None:
    policy = WatchPolicy(interval=1.0, timeout=None, now=0.0)
    waits = [policy.failed(float(i), down()).seconds for i in range(10)]
    assert waits[-1] == waits[-2] == 30.0


@pytest.mark.parametrize(("interval", "timeout"), [(0.0, None), (-1.0, None), (1.0, 0.0)])
def test_bad_periods_are_refused(interval: float, timeout: float | None) -> None:
    with pytest.raises(InvalidArgument):
        WatchPolicy(interval=interval, timeout=timeout, now=0.0)


class Pusher:
    """A client that pushes: `notifications` counts what its server sent."""

    def __init__(self) -> None:
        self.notifications = 0

    def wait_for_notification(self, seen: int, timeout: float | None) -> bool:
        raise AssertionError("the steps never wait themselves")

    def _push_clients(self) -> Sequence[object]:
        return [self]

    def _served_last(self) -> object | None:
        return self


class Poller(Pusher):
    wait_for_notification = None  # type: ignore[assignment]


def test_steps_wait_on_the_pushing_client_with_the_count_seen_before_the_sync() -> None:
    client = Pusher()
    wollet = Wollet(Network.LIQUID_TESTNET, DESCRIPTOR)
    steps = watch_steps(client, wollet, interval=3.0, timeout=None, clock=lambda: 0.0)
    assert next(steps) == SyncNow()
    client.notifications = 4  # a push arrived during the sync
    assert steps.send(None) == WaitForPush(client, 0, None)  # so the wait ends at once
    assert steps.send(None) == SyncNow()
    assert steps.send(down()) == Sleep(0.5)  # a failed sync: the backoff, then again
    assert steps.send(None) == SyncNow()


def test_steps_poll_a_client_that_cannot_push_and_end_on_the_quiet_timeout() -> None:
    now = [0.0]
    steps = watch_steps(
        Poller(),
        Wollet(Network.LIQUID_TESTNET, DESCRIPTOR),
        interval=3.0,
        timeout=5.0,
        clock=lambda: now[0],
    )
    seen: list[Any] = [next(steps)]
    for t in (1.0, 4.0):
        now[0] = t
        seen.append(steps.send(None))  # the sync found nothing: wait (at most what is left)
        seen.append(steps.send(None))  # the wait is over: sync
    assert seen == [SyncNow(), Sleep(3.0), SyncNow(), Sleep(1.0), SyncNow()]
    now[0] = 5.0  # 5 s without a change
    with pytest.raises(StopIteration):
        steps.send(None)


def test_a_client_whose_pushes_turn_false_is_polled_from_the_next_sync_on() -> None:
    """`pushes` is read before each sync: a server found to have no push route (lwk_waterfalls
    after a 404) is polled every `interval` from then on."""
    client = Pusher()
    steps = watch_steps(
        client,
        Wollet(Network.LIQUID_TESTNET, DESCRIPTOR),
        interval=3.0,
        timeout=None,
        clock=lambda: 0.0,
    )
    assert next(steps) == SyncNow()
    assert steps.send(None) == WaitForPush(client, 0, None)
    client.pushes = False  # type: ignore[attr-defined]
    assert steps.send(False) == SyncNow()  # the wait found nothing to wait on
    assert steps.send(None) == Sleep(3.0)
    client.pushes = True  # type: ignore[attr-defined]
    assert steps.send(None) == SyncNow()  # read before this sync: the wait is on pushes
    assert steps.send(None) == WaitForPush(client, 0, None)


def test_an_update_overtaken_by_another_sync_is_dropped_and_the_wallet_synced_again() -> None:
    """The wallet changed while the watch's sync ran (the application synced it too): the
    watch's update, computed from the older state, is not applied; it syncs again."""
    wollet = Wollet(Network.LIQUID_TESTNET, DESCRIPTOR)
    stale = Update(wallet_id=wollet.descriptor.wallet_id, base_status="0" * 64, tip=TIP)
    steps = watch_steps(Poller(), wollet, interval=3.0, timeout=None, clock=lambda: 0.0)
    assert next(steps) == SyncNow()
    assert steps.send(stale) == SyncNow()
    assert wollet.tip() is None
    fresh = Update(wallet_id=wollet.descriptor.wallet_id, base_status=wollet.state.status, tip=TIP)
    assert steps.send(fresh) == NewTip(TIP.height, TIP.hash)
