"""The retry policy of the Esplora backend: how long to wait, and how often to try again."""

from __future__ import annotations

import email.utils
import math
import random
import time

__all__ = [
    "BACKOFF_BASE",
    "MAX_RETRY_WAIT",
    "RATE_STATUSES",
    "TIMEOUT_RETRIES",
    "UNREACHABLE_RETRIES",
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
