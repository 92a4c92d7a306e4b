"""The blocking transport of the Esplora backend: one pooled httpx.Client, a worker pool.

Requests go through our own keep-alive connections (`_direct`) when no proxy applies,
else through httpx's httpcore pool (`_response.Template.core`), or through the transport
the caller gave; event streams through the httpx.Client.

Thin: the retry policy is `_retry`'s, the checks of answers and the body caps
`_response`'s. Here: the slots bounding concurrent requests, the sleeps the policy asks
for, and a deadline that every socket operation of a request obeys (`_deadline`, applied
by `_network`), so no drip, `1xx` run or empty gzip blocks can stretch it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import httpx

from lwk_core.plugin import BackendConnectError, BackendTimeout

from . import _deadline
from ._direct import DirectPool, direct_pool
from ._network import install_network
from ._response import (
    STREAM_HEADERS,
    Answer,
    Reply,
    Settings,
    Streamed,
    Template,
    auth_headers,
    core_headers,
    mapped_errors,
)
from ._retry import Pause, Retrying

__all__ = ["HttpSession"]

T = TypeVar("T")
R = TypeVar("R")


class _NotStarted(Exception):
    """A call `HttpSession.map` skipped because another one had failed."""


class HttpSession:
    """The HTTP side of one Esplora backend (thread-safe).

    Constructing it does no I/O: the httpx.Client and the worker pool are created on
    first use and released by `close()` (a later request opens them again).
    """

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None) -> None:
        self.settings = settings
        self.name = settings.name
        self.max_retries = settings.max_retries
        self._transport = transport
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._sender: tuple[httpx.BaseTransport, Template, DirectPool | None] | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pause = Pause()
        self._slots = threading.BoundedSemaphore(settings.concurrency)

    # -- lifecycle ---------------------------------------------------------------------

    def _httpx(self) -> tuple[httpx.Client, httpx.BaseTransport, Template, DirectPool | None]:
        """The client (for event streams), the transport requests go through (direct or a
        proxy's), their template and our own connections if they serve; opened on first
        use."""
        with self._lock:
            if self._client is None or self._sender is None:
                client = httpx.Client(
                    **self.settings.client_arguments(),  # type: ignore[arg-type]
                    transport=self._transport,
                )
                install_network(client, self.settings.pin, self.name)
                self._client = client
                self._sender = (
                    client._transport_for_url(client.base_url),
                    Template(client, self.settings),
                    None if self._transport is not None else direct_pool(self.settings, client),
                )
            return (self._client, *self._sender)

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self.settings.concurrency, thread_name_prefix="lwk-esplora"
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            direct = None if self._sender is None else self._sender[2]
            self._sender = None
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if direct is not None:
            direct.close()
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
        if len(items) <= 1 or self.settings.concurrency == 1:
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
        """Send one request, retrying what is safe to retry (`_retry`); the final answer.

        `route` names the endpoint in logs and errors without its parameters.
        """
        retrying = Retrying(self.settings, method, route, idempotent=idempotent)
        while True:
            pause = self._pause.remaining()
            if pause > 0:
                time.sleep(pause)
            with self._slots:
                # taken with the slot, right before sending: the freshest token
                token = None if self.settings.auth is None else self.settings.auth.token()
                try:
                    reply = self._attempt(retrying, path, content, token)
                except (BackendTimeout, BackendConnectError) as exc:
                    failure: BackendTimeout | BackendConnectError | None = exc
                else:
                    failure = None
            if failure is not None:
                time.sleep(retrying.after_failure(failure))
                continue
            delay = retrying.after_reply(reply, token)
            if delay is None:
                return reply
            self._pause.extend(delay)

    def _attempt(
        self, retrying: Retrying, path: str, content: bytes | None, token: str | None
    ) -> Reply:
        what = f"{retrying.method} {retrying.route}"
        start = time.monotonic()
        deadline = start + retrying.budget
        _, transport, template, direct = self._httpx()
        try:
            with mapped_errors(self.settings, what, deadline), _deadline.until(deadline):
                if direct is not None:  # no proxy: our own connections (`_direct`)
                    exchange = direct.send(retrying.method, path, content, auth_headers(token))
                    with contextlib.closing(exchange):
                        answer = Answer(
                            self.name, what, exchange.status, exchange.headers, deadline
                        )
                        return answer.read(exchange.chunks())
                if not isinstance(transport, httpx.HTTPTransport):  # the caller's: httpx's way
                    resp = transport.handle_request(
                        template.request(retrying.method, path, content, token)
                    )
                    with contextlib.closing(resp):
                        return Answer.of_httpx(self.name, what, resp, deadline).read(
                            resp.iter_raw()
                        )
                core = transport._pool.handle_request(
                    template.core(retrying.method, path, content, token)
                )
                with contextlib.closing(core):
                    head = core_headers(core.headers)
                    answer = Answer(self.name, what, core.status, head, deadline)
                    return answer.read(core.iter_stream())
        finally:
            retrying.spent(time.monotonic() - start)

    @contextlib.contextmanager
    def stream(self, path: str, *, route: str) -> Iterator[Streamed]:
        """A GET whose body is read as it arrives (an event stream), for as long as the
        caller reads: no retry and no deadline but `timeout` between two reads. Transport
        failures, opening or reading, are the BackendErrors `request` raises."""
        token = None if self.settings.auth is None else self.settings.auth.token()
        headers = {**STREAM_HEADERS, **(auth_headers(token) or {})}
        with (
            mapped_errors(self.settings, f"GET {route}", math.inf),
            self._httpx()[0].stream("GET", path.lstrip("/"), headers=headers) as resp,
        ):
            yield Streamed(resp.status_code, resp.iter_raw())
