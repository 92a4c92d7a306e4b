"""HTTP transport of the Esplora backend: one pooled httpx.Client, retries, caps, a worker pool.

Every request goes through `HttpSession.request`, which

- waits while the server asked everyone to back off (429/503 pause all workers at once);
- retries 429/503 with exponential backoff and jitter, honouring `Retry-After` (capped), and
  retries dropped connections, 502/504 and (once) timeouts, only for idempotent requests
  (the policy's numbers: `_retry`);
- gives the server at most `2 * timeout` per request, over all its attempts: every connect,
  read and write obeys that deadline (`_deadline`), so no drip, `1xx` run or empty gzip
  blocks can stretch it (waits between attempts, bounded below, come on top);
- decodes the body as it streams and aborts above a size cap on the decoded bytes
  (`_reply`, `_decode`: gzip only, never inflating more than the cap at once);
- turns httpx exceptions into the lwk_core error tree, naming the server but never the
  path (it holds script hashes) or the headers (they may hold tokens).
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import logging
import math
import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import httpx

from lwk_core.plugin import BackendConnectError, BackendProtocolError, BackendTimeout, RateLimited

from . import _deadline, _retry
from ._decode import ACCEPT_ENCODING, EncodingRefused
from ._reply import Reply, TooSlow, describe, read_body
from ._retry import parse_retry_after

__all__ = ["MAX_BODY", "HttpSession", "Reply", "parse_retry_after"]

log = logging.getLogger("lwk_esplora")

T = TypeVar("T")
R = TypeVar("R")

MAX_BODY = 4 * 1024 * 1024
"""Largest body accepted: above any JSON page or text answer, and any valid Elements tx
(a block weighs at most 4,000,000 units, so no transaction serializes to more bytes)."""

_ERROR_BODY_CAP = 16 * 1024  # error texts are short; longer ones are truncated, not fatal
_DEADLINE_FACTOR = 2.0  # the server's time per request, all attempts together, in timeouts
_HTTP2 = importlib.util.find_spec("h2") is not None
_USER_AGENT = "lwk-esplora/0.1"


class _NotStarted(Exception):
    """A call `HttpSession.map` skipped because another one had failed."""


class HttpSession:
    """The HTTP side of one Esplora backend (thread-safe).

    Constructing it does no I/O: the httpx.Client and the worker pool are created on
    first use and released by `close()` (a later request opens them again).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        concurrency: int,
        headers: Mapping[str, str] | None,
        proxy: str | None,
        max_retries: int,
        verify: ssl.SSLContext | bool,
        transport: httpx.BaseTransport | None,
    ) -> None:
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise ValueError("timeout must be a finite number of seconds > 0")
        if not (isinstance(concurrency, int) and concurrency >= 1):
            raise ValueError("concurrency must be an integer >= 1")
        if not (isinstance(max_retries, int) and max_retries >= 0):
            raise ValueError("max_retries must be an integer >= 0")
        base = _parse_base_url(url)
        port = base.port or (443 if base.scheme == "https" else 80)
        host = f"[{base.host}]" if ":" in base.host else base.host
        self.name = f"{base.scheme}://{host}:{port}"
        self.timeout = float(timeout)
        self.concurrency = concurrency
        self.max_retries = max_retries
        self._base = base
        self._headers = {
            "User-Agent": _USER_AGENT,
            **dict(headers or {}),
            "Accept-Encoding": ACCEPT_ENCODING,  # the only encoding `_decode` inflates
        }
        self._proxy = proxy
        self._verify = verify
        self._transport = transport
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._resume_at = 0.0  # monotonic time before which nobody sends (rate limit)
        # At most `concurrency` requests reach httpx at once, so its pool (as many
        # connections, all kept alive) never queues a request: a queued request can get a
        # connection that another thread then closes under it (httpcore issue #1110).
        self._slots = threading.BoundedSemaphore(concurrency)

    # -- lifecycle ---------------------------------------------------------------------

    def _httpx(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    base_url=self._base,
                    headers=self._headers,
                    timeout=httpx.Timeout(self.timeout),
                    limits=httpx.Limits(
                        max_connections=self.concurrency,
                        max_keepalive_connections=self.concurrency,
                    ),
                    http2=_HTTP2,
                    proxy=self._proxy,
                    verify=self._verify,
                    transport=self._transport,
                    follow_redirects=False,
                )
                _deadline.install_deadlines(self._client)
            return self._client

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self.concurrency, thread_name_prefix="lwk-esplora"
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if client is not None:
            client.close()

    # -- parallelism -------------------------------------------------------------------

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """`[fn(x) for x in items]` with up to `concurrency` calls at once, order kept.

        The first failure stops the calls not started yet (a worker freed by a failing call
        would otherwise start the next one, and a hanging server would cost its timeouts
        again), waits for the running ones (nothing is left running after a call returns)
        and is raised. `fn` must not call `map` itself: the workers would wait for each other.
        """
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(item) for item in items]
        failed = threading.Event()

        def guarded(item: T) -> R:
            if failed.is_set():
                raise _NotStarted
            try:
                return fn(item)
            except BaseException:
                failed.set()
                raise

        pool = self._executor()
        futures = [pool.submit(guarded, item) for item in items]
        concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
        if failed.is_set():
            for future in futures:
                future.cancel()
            concurrent.futures.wait(futures)  # let running calls end before failing over
            errors = [f.exception() for f in futures if not f.cancelled()]
            raise next(e for e in errors if e is not None and not isinstance(e, _NotStarted))
        return [f.result() for f in futures]

    # -- requests ----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        route: str,
        content: bytes | None = None,
        idempotent: bool = True,
    ) -> Reply:
        """Send one request, retrying what is safe to retry; return the final answer.

        `route` names the endpoint in logs and errors without its parameters. Answers
        other than 429/503/502/504 are returned whatever their status. Non-idempotent
        requests (broadcast) are retried only on 429/503, which mean "not processed".
        """
        state = _retry.RetryState(self.max_retries, idempotent)
        budget = self.timeout * _DEADLINE_FACTOR  # the server's time left, for all attempts
        while True:
            self._wait_if_paused()
            try:
                with self._slots:
                    start = time.monotonic()
                    try:
                        reply = self._attempt(method, path, route, content, start + budget)
                    finally:
                        budget -= time.monotonic() - start
            except BackendTimeout:
                if not state.retry_timeout(budget):
                    raise
                log.info("%s: %s %s timed out, retrying", self.name, method, route)
                continue
            except BackendConnectError as exc:
                unreachable = isinstance(exc.__cause__, httpx.ConnectError)
                delay = state.connect_retry_delay(unreachable, budget)
                if delay is None:
                    raise
                log.info(
                    "%s: %s %s failed (%s), retry %d in %.2fs",
                    self.name,
                    method,
                    route,
                    exc.reason,
                    state.retries,
                    delay,
                )
                time.sleep(delay)
                continue
            if reply.status not in _retry.RATE_STATUSES:
                return reply
            wait = parse_retry_after(reply.retry_after)
            delay = state.rate_limit_delay(wait)
            if delay is None:
                raise RateLimited(
                    f"HTTP {reply.status} on {method} {route} after {state.retries} retries",
                    backend=self.name,
                    retry_after=wait,
                )
            log.warning(
                "%s: HTTP %d on %s %s, waiting %.2fs (retry %d/%d)",
                self.name,
                reply.status,
                method,
                route,
                delay,
                state.retries,
                self.max_retries,
            )
            self._pause(delay)

    def _pause(self, delay: float) -> None:
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + delay)

    def _wait_if_paused(self) -> None:
        with self._lock:
            remaining = self._resume_at - time.monotonic()
        if remaining > 0:
            # Each worker adds its own small jitter so they do not all resume at once.
            time.sleep(remaining + random.uniform(0, min(1.0, remaining / 10)))

    def _attempt(
        self, method: str, path: str, route: str, content: bytes | None, deadline: float
    ) -> Reply:
        what = f"{method} {route}"
        client = self._httpx()
        try:
            with (
                _deadline.until(deadline),
                client.stream(method, path.lstrip("/"), content=content) as resp,
            ):
                status = resp.status_code
                if status in (502, 504):
                    error = BackendTimeout if status == 504 else BackendConnectError
                    raise error(f"HTTP {status} from a gateway on {what}", backend=self.name)
                if 300 <= status < 400:
                    raise BackendProtocolError(
                        f"HTTP {status} redirect on {what}: configure the final URL",
                        backend=self.name,
                    )
                if status != 200:
                    text = read_body(resp, _ERROR_BODY_CAP, deadline, truncate=True) or b""
                    return Reply(status, text, resp.headers.get("retry-after"))
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_BODY:
                    raise BackendProtocolError(
                        f"{what}: answer of {declared} bytes exceeds the {MAX_BODY} byte cap",
                        backend=self.name,
                    )
                body = read_body(resp, MAX_BODY, deadline, truncate=False)
                if body is None:
                    raise BackendProtocolError(
                        f"{what}: answer exceeds the {MAX_BODY} byte cap (decoded)",
                        backend=self.name,
                    )
                return Reply(status, body)
        except TooSlow:
            raise BackendTimeout(f"{what}: {self._too_slow()}", backend=self.name) from None
        except EncodingRefused as exc:
            raise BackendProtocolError(f"{what}: {exc}", backend=self.name) from None
        except httpx.TimeoutException as exc:
            if time.monotonic() >= deadline:
                raise BackendTimeout(f"{what}: {self._too_slow()}", backend=self.name) from exc
            raise BackendTimeout(f"{what}: {describe(exc)}", backend=self.name) from exc
        except httpx.RequestError as exc:
            raise BackendConnectError(f"{what}: {describe(exc)}", backend=self.name) from exc

    def _too_slow(self) -> str:
        limit = self.timeout * _DEADLINE_FACTOR
        return f"no complete answer within {limit:g}s ({_DEADLINE_FACTOR:g} x timeout)"


def _parse_base_url(url: str) -> httpx.URL:
    if not isinstance(url, str):
        raise TypeError("url must be a str such as 'https://blockstream.info/liquid/api'")
    try:
        base = httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise ValueError(f"invalid Esplora URL: {exc}") from None
    if base.scheme not in ("http", "https") or not base.host:
        raise ValueError("an Esplora URL needs an http:// or https:// scheme and a host")
    # The path is a plain prefix (e.g. /liquid/api); keep it exactly, minus a trailing "/".
    return base.copy_with(path=base.path.rstrip("/") + "/", query=None, fragment=None)
