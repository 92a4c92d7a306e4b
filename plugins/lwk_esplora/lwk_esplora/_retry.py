"""The retry policy of the Esplora backend: how long to wait, and how often to try again."""

from __future__ import annotations

import email.utils
import math
import random
import time

import attrs

__all__ = [
    "BACKOFF_BASE",
    "MAX_RETRY_WAIT",
    "RATE_STATUSES",
    "TIMEOUT_RETRIES",
    "UNREACHABLE_RETRIES",
    "RetryState",
    "backoff",
    "parse_retry_after",
]

MAX_RETRY_WAIT = 60.0  # cap on one Retry-After or backoff wait, and on their sum per request
BACKOFF_BASE = 0.5  # first backoff in seconds when the server gives no Retry-After
TIMEOUT_RETRIES = 1  # a hanging server costs at most (1 + this) timeouts per request
UNREACHABLE_RETRIES = 1  # connection refused, DNS or TLS failure
RATE_STATUSES = frozenset({429, 503})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date), capped.

    None when absent or unparseable; negative or past dates give 0.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # "-0000" dates parse naive; RFC 9110 dates are GMT
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_WAIT)


def backoff(retry: int) -> float:
    """Exponential backoff with equal jitter: half fixed, half random."""
    delay = min(MAX_RETRY_WAIT, BACKOFF_BASE * 2.0**retry)
    return delay / 2 + random.uniform(0, delay / 2)


@attrs.define
class RetryState:
    """The retries of one request: after each failed attempt, whether and when to try again.

    Only idempotent requests are retried after a timeout or a failed connection; every
    request is retried after 429/503 ("not processed").
    """

    max_retries: int
    idempotent: bool
    retries: int = 0
    timeouts: int = 0
    waited: float = 0.0  # rate-limit waits so far: a chain fails over after ~a minute

    def retry_timeout(self, budget: float) -> bool:
        """After a timeout, with `budget` seconds of the server's time left."""
        if (
            not self.idempotent
            or self.timeouts >= TIMEOUT_RETRIES
            or self.retries >= self.max_retries
            or budget <= 0
        ):
            return False
        self.timeouts += 1
        self.retries += 1
        return True

    def connect_retry_delay(self, unreachable: bool, budget: float) -> float | None:
        """The wait before retrying a failed connection, or None to give up.

        A refused connection (or DNS/TLS failure: `unreachable`) rarely heals in seconds: it
        is retried once, so a chain fails over fast; a dropped one up to max_retries.
        """
        limit = min(UNREACHABLE_RETRIES, self.max_retries) if unreachable else self.max_retries
        if not self.idempotent or self.retries >= limit or budget <= 0:
            return None
        self.retries += 1
        return 0.0 if self.retries == 1 else backoff(self.retries - 2)

    def rate_limit_delay(self, retry_after: float | None) -> float | None:
        """The wait after a 429/503 (the server's `retry_after`, else a backoff), or None to
        give up: out of retries, or the waits of this request would pass MAX_RETRY_WAIT."""
        delay = backoff(self.retries) if retry_after is None else retry_after
        if self.retries >= self.max_retries or self.waited + delay > MAX_RETRY_WAIT:
            return None
        self.retries += 1
        self.waited += delay
        return delay
