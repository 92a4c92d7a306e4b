"""The retry policy of one Esplora request, without I/O: both transports drive it.

`RetryState` holds the decisions alone (whether and when to try again); `Retrying` is what a
transport drives: it makes an attempt, reports its outcome (`after_failure`,
`after_reply`) and gets back how long to wait before the next attempt, or the error to
raise (raised by the policy itself), or None: the reply is final. The rules:

- 429/503 are retried `max_retries` times with exponential backoff and jitter, honouring
  `Retry-After` (capped), at most `MAX_RETRY_WAIT` seconds of waits per request; they
  pause every request of the session (`Pause`);
- dropped connections and 502/504 up to `max_retries` times, a refused connection (or DNS,
  TLS failure) and a timeout once, and only for idempotent requests;
- the server gets at most `2 * timeout` per request over all its attempts (`budget`);
- a 401 renews the token (if the provider can) and retries once, then is
  AuthenticationFailed; a 402 is InsufficientCredits (both as Blockstream's enterprise
  Esplora answers them: Blockstream/lwk, lwk_wollet/src/clients/asyncr/esplora.rs).
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import threading
import time

import attrs
import httpcore
import httpx

from lwk_core.plugin import (
    AuthenticationFailed,
    BackendConnectError,
    BackendTimeout,
    CertificatePinMismatch,
    CertificateRejected,
    InsufficientCredits,
    ProxyRefused,
    ProxyUnreachable,
    RateLimited,
)

from ._response import DEADLINE_FACTOR, Reply, Settings

__all__ = [
    "BACKOFF_BASE",
    "MAX_RETRY_WAIT",
    "RATE_STATUSES",
    "TIMEOUT_RETRIES",
    "UNREACHABLE_RETRIES",
    "Pause",
    "RetryState",
    "Retrying",
    "backoff",
    "parse_retry_after",
]

log = logging.getLogger("lwk_esplora")

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
    renewed: bool = False  # the token was renewed after a 401 (once per request)

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


class Pause:
    """A session-wide pause after a 429/503: every request waits it out (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resume_at = 0.0  # monotonic time before which nobody sends

    def extend(self, delay: float) -> None:
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + delay)

    def remaining(self) -> float:
        """Seconds to wait before sending (0: go), with a little jitter of one's own so
        that the waiting requests do not all resume at once."""
        with self._lock:
            remaining = self._resume_at - time.monotonic()
        if remaining <= 0:
            return 0.0
        return remaining + random.uniform(0, min(1.0, remaining / 10))


@attrs.define
class Retrying:
    """One request as a transport drives it (`route` names it in logs, without
    parameters): the `RetryState` decisions, the server's time budget, logs and errors."""

    settings: Settings = attrs.field(repr=False)
    method: str
    route: str
    idempotent: bool = attrs.field(kw_only=True)
    state: RetryState = attrs.field(init=False)
    budget: float = attrs.field(init=False)  # the server's time left, for all attempts

    def __attrs_post_init__(self) -> None:
        self.state = RetryState(self.settings.max_retries, self.idempotent)
        self.budget = self.settings.timeout * DEADLINE_FACTOR

    def spent(self, seconds: float) -> None:
        """An attempt took `seconds` of the server's budget."""
        self.budget -= seconds

    def after_failure(self, exc: BackendTimeout | BackendConnectError) -> float:
        """The wait before the next attempt after `exc`, or `exc` raised: no retry."""
        if isinstance(exc, BackendTimeout):
            if not self.state.retry_timeout(self.budget):
                raise exc
            log.info("%s: %s %s timed out, retrying", self.settings.name, self.method, self.route)
            return 0.0
        if isinstance(exc, CertificateRejected | CertificatePinMismatch | ProxyRefused):
            raise exc  # a verdict: the same server or proxy answers the same again
        unreachable = isinstance(
            exc.__cause__, httpx.ConnectError | httpcore.ConnectError
        ) or isinstance(exc, ProxyUnreachable)
        delay = self.state.connect_retry_delay(unreachable, self.budget)
        if delay is None:
            raise exc
        log.info(
            "%s: %s %s failed (%s), retry %d in %.2fs",
            self.settings.name,
            self.method,
            self.route,
            exc.reason,
            self.state.retries,
            delay,
        )
        return delay

    def after_reply(self, reply: Reply, token: str | None = None) -> float | None:
        """None: `reply` is the answer; else the session pauses that long, then retries.

        `token` is the one the attempt sent (None: no token provider)."""
        if reply.status == 401:
            return self._unauthorized(token)
        if reply.status == 402:
            raise InsufficientCredits(
                f"HTTP 402 on {self.method} {self.route}: {reply.message()}",
                backend=self.settings.name,
            )
        if reply.status not in RATE_STATUSES:
            return None
        wait = parse_retry_after(reply.retry_after)
        delay = self.state.rate_limit_delay(wait)
        if delay is None:
            raise RateLimited(
                f"HTTP {reply.status} on {self.method} {self.route} "
                f"after {self.state.retries} retries",
                backend=self.settings.name,
                retry_after=wait,
            )
        log.warning(
            "%s: HTTP %d on %s %s, waiting %.2fs (retry %d/%d)",
            self.settings.name,
            reply.status,
            self.method,
            self.route,
            delay,
            self.state.retries,
            self.settings.max_retries,
        )
        return delay

    def _unauthorized(self, token: str | None) -> float:
        """After a 401: retry at once with a renewed token, or AuthenticationFailed."""
        auth = self.settings.auth
        if (
            token is not None
            and auth is not None
            and not self.state.renewed
            and auth.refused(token)
        ):
            self.state.renewed = True
            log.info(
                "%s: HTTP 401 on %s %s, renewing the token and retrying",
                self.settings.name,
                self.method,
                self.route,
            )
            return 0.0
        why = "no token was sent" if token is None else "the server refuses the token"
        raise AuthenticationFailed(
            f"HTTP 401 on {self.method} {self.route}: {why}", backend=self.settings.name
        )
