"""The failover policy alone: no sockets, no clock (the times are given)."""

from __future__ import annotations

import pytest

from lwk_core._failover import FailoverPolicy, relayed_before


def test_backends_are_tried_in_the_callers_order() -> None:
    policy = FailoverPolicy(3)
    assert policy.order(0.0, reveals_wallet=True) == [0, 1, 2]


def test_a_failed_backend_goes_last_for_the_cooldown_then_comes_back() -> None:
    policy = FailoverPolicy(3, cooldown=30.0)
    policy.failed(0, now=100.0)
    assert policy.order(100.0, reveals_wallet=True) == [1, 2, 0]
    assert policy.order(129.9, reveals_wallet=True) == [1, 2, 0]
    assert policy.order(130.0, reveals_wallet=True) == [0, 1, 2]  # cooled down


def test_success_ends_the_cooldown_at_once() -> None:
    policy = FailoverPolicy(2, cooldown=30.0)
    policy.failed(0, now=0.0)
    policy.succeeded(0)
    assert policy.order(1.0, reveals_wallet=False) == [0, 1]


def test_every_backend_cooling_down_is_still_tried_in_order() -> None:
    policy = FailoverPolicy(2, cooldown=30.0)
    policy.failed(1, now=0.0)
    policy.failed(0, now=1.0)
    assert policy.order(2.0, reveals_wallet=False) == [0, 1]


def test_private_backends_are_the_only_ones_for_calls_revealing_the_wallet() -> None:
    policy = FailoverPolicy(3, private=2)
    policy.failed(0, now=0.0)
    assert policy.order(1.0, reveals_wallet=True) == [1, 0]
    assert policy.order(1.0, reveals_wallet=False) == [1, 2, 0]


@pytest.mark.parametrize(
    ("count", "options", "message"),
    [
        (0, {}, "at least one backend"),
        (2, {"private": 3}, "private must be between"),
        (2, {"private": -1}, "private must be between"),
        (1, {"cooldown": -1.0}, "cooldown"),
    ],
)
def test_bad_settings_are_refused(count: int, options: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FailoverPolicy(count, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reason", "attempt", "success"),
    [
        ("txn-already-in-mempool", 2, True),  # an earlier backend relayed it before failing
        ("txn-already-known", 3, True),
        ("Transaction already in block chain", 2, True),
        ("txn-already-in-mempool", 1, False),  # the first attempt: a real rejection
        ("bad-txns-inputs-missingorspent", 2, False),
    ],
)
def test_already_known_counts_as_sent_only_after_a_failed_attempt(
    reason: str, attempt: int, success: bool
) -> None:
    assert relayed_before(reason, attempt) is success
