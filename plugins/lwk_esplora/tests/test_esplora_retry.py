"""The retry policy alone (`_retry.RetryState`), with no server: which failures are retried,
how often, and how long the waits may add up to."""

from __future__ import annotations

import pytest
from lwk_esplora import _retry
from lwk_esplora._retry import RetryState


def test_a_timeout_is_retried_once_and_only_when_idempotent() -> None:
    state = RetryState(max_retries=5, idempotent=True)
    assert state.retry_timeout(budget=1.0)
    assert not state.retry_timeout(budget=1.0)  # the second timeout ends the request
    assert not RetryState(max_retries=5, idempotent=False).retry_timeout(budget=1.0)
    assert not RetryState(max_retries=0, idempotent=True).retry_timeout(budget=1.0)
    assert not RetryState(max_retries=5, idempotent=True).retry_timeout(budget=0.0)


def test_an_unreachable_server_is_retried_once_a_dropped_connection_up_to_max() -> None:
    unreachable = RetryState(max_retries=3, idempotent=True)
    assert unreachable.connect_retry_delay(unreachable=True, budget=1.0) == 0.0
    assert unreachable.connect_retry_delay(unreachable=True, budget=1.0) is None
    dropped = RetryState(max_retries=3, idempotent=True)
    delays = [dropped.connect_retry_delay(unreachable=False, budget=1.0) for _ in range(4)]
    assert delays[0] == 0.0  # the first retry is immediate
    assert all(d is not None and d > 0 for d in delays[1:3])
    assert delays[3] is None
    assert RetryState(3, idempotent=False).connect_retry_delay(False, budget=1.0) is None


def test_rate_limit_waits_follow_retry_after_and_stop_at_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_retry, "MAX_RETRY_WAIT", 1.0)
    state = RetryState(max_retries=10, idempotent=False)  # 429/503: not processed
    assert state.rate_limit_delay(0.4) == 0.4
    assert state.rate_limit_delay(0.4) == 0.4
    assert state.rate_limit_delay(0.4) is None  # 1.2 s in all would pass the 1 s cap
    assert (state.retries, state.waited) == (2, 0.8)


def test_backoff_without_retry_after_doubles_with_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "BACKOFF_BASE", 0.5)
    state = RetryState(max_retries=3, idempotent=True)
    first, second = state.rate_limit_delay(None), state.rate_limit_delay(None)
    assert first is not None and 0.25 <= first <= 0.5  # half fixed, half random
    assert second is not None and 0.5 <= second <= 1.0
    assert RetryState(max_retries=0, idempotent=True).rate_limit_delay(None) is None
