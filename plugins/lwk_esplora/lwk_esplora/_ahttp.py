"""The asyncio transport of the Esplora backend: one pooled httpx.AsyncClient.

As thin as the blocking one (`_http`): the retry policy is `_retry`'s, the checks of
answers and the body caps `_response`'s. Here: a semaphore bounding the requests in flight
(shared by every task using the client), the sleeps the policy asks for, and the
request's deadline as an anyio cancel scope, which bounds every socket operation.
Cancelling a request (task cancel, an outer timeout) closes its connection instead of
returning it to the pool half-read, through that same scope (`_attempt`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator

import anyio
import httpx

from lwk_core.plugin import BackendConnectError, BackendTimeout

from ._aconnections import OwnConnections, own_connections
from ._network import install_network
from ._response import (
    STREAM_HEADERS,
    Answer,
    AsyncStreamed,
    Reply,
    Settings,
    Template,
    TooSlow,
    auth_headers,
    core_headers,
    mapped_errors,
)
from ._retry import Pause, Retrying

__all__ = ["AsyncHttpSession"]


class AsyncHttpSession:
    """The HTTP side of one async Esplora backend, used from one event loop.

    Constructing it does no I/O: the httpx.AsyncClient is created on first use and
    released by `close()` (a later request opens it again).
    """

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None) -> None:
        self.settings = settings
        self.name = settings.name
        self.max_retries = settings.max_retries
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._sender: tuple[httpx.AsyncBaseTransport, Template, OwnConnections | None] | None = None
        self._pause = Pause()
        self._slots = asyncio.Semaphore(settings.concurrency)

    def _httpx(
        self,
    ) -> tuple[httpx.AsyncClient, httpx.AsyncBaseTransport, Template, OwnConnections | None]:
        """The client (for event streams), the transport requests go through (direct or a
        proxy's), their template and our own connections (`_aconnections`) where they
        replace the transport's pool; opened on first use."""
        if self._client is None or self._sender is None:
            client = httpx.AsyncClient(
                **self.settings.client_arguments(),  # type: ignore[arg-type]
                transport=self._transport,
            )
            install_network(client, self.settings.pin, self.name)
            self._client = client
            transport = client._transport_for_url(client.base_url)
            self._sender = (transport, Template(client, self.settings), own_connections(transport))
        return (self._client, *self._sender)

    async def close(self) -> None:
        """Close the connections; the next request opens new ones (in any event loop:
        the slots are made anew too, an asyncio.Semaphore belongs to the loop it ran in)."""
        client, self._client = self._client, None
        sender, self._sender = self._sender, None
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        if sender is not None and sender[2] is not None:
            await sender[2].aclose()
        if client is not None:
            await client.aclose()

    async def request(
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
            await asyncio.sleep(self._pause.remaining())
            async with self._slots:
                # taken with the slot, right before sending: the freshest token
                auth = self.settings.auth
                token = None if auth is None else await auth.atoken()
                try:
                    reply = await self._attempt(retrying, path, content, token)
                except (BackendTimeout, BackendConnectError) as exc:
                    failure: BackendTimeout | BackendConnectError | None = exc
                else:
                    failure = None
            if failure is not None:
                await asyncio.sleep(retrying.after_failure(failure))
                continue
            delay = retrying.after_reply(reply, token)
            if delay is None:
                return reply
            self._pause.extend(delay)

    @contextlib.asynccontextmanager
    async def stream(self, path: str, *, route: str) -> AsyncIterator[AsyncStreamed]:
        """See `HttpSession.stream`: a GET whose body is read as it arrives."""
        auth = self.settings.auth
        token = None if auth is None else await auth.atoken()
        headers = {**STREAM_HEADERS, **(auth_headers(token) or {})}
        with mapped_errors(self.settings, f"GET {route}", math.inf):
            async with self._httpx()[0].stream("GET", path.lstrip("/"), headers=headers) as resp:
                yield AsyncStreamed(resp.status_code, resp.aiter_raw())

    async def _attempt(
        self, retrying: Retrying, path: str, content: bytes | None, token: str | None
    ) -> Reply:
        """One attempt, in a task of its own that only an anyio cancel scope stops: its
        deadline, or the caller's cancellation passed on. httpcore shields its clean-ups
        from anyio's cancellation, not from asyncio's own (`Task.cancel`), which can end a
        request after its connection was taken from the pool and before it is given back:
        the pool then keeps it, and once all are kept every request waits for the pool."""
        start = time.monotonic()
        scope = anyio.CancelScope(deadline=anyio.current_time() + retrying.budget)
        work = asyncio.ensure_future(self._exchange(retrying, path, content, token, scope, start))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            scope.cancel()
            await _finished(work)
            raise
        finally:
            retrying.spent(time.monotonic() - start)

    async def _exchange(
        self,
        retrying: Retrying,
        path: str,
        content: bytes | None,
        token: str | None,
        scope: anyio.CancelScope,
        start: float,
    ) -> Reply:
        what = f"{retrying.method} {retrying.route}"
        deadline = start + retrying.budget
        _, transport, template, own = self._httpx()
        with mapped_errors(self.settings, what, deadline):
            with scope:
                if not isinstance(transport, httpx.AsyncHTTPTransport):  # the caller's
                    request = template.request(retrying.method, path, content, token)
                    resp = await transport.handle_async_request(request)
                    try:
                        answer = Answer.of_httpx(self.name, what, resp, deadline)
                        return await _read(answer, resp.aiter_raw())
                    finally:
                        await resp.aclose()
                core_request = template.core(retrying.method, path, content, token)
                connection = None if own is None else await own.take(core_request.url.origin)
                try:
                    sender = transport._pool if connection is None else connection
                    core = await sender.handle_async_request(core_request)
                    try:
                        head = core_headers(core.headers)
                        answer = Answer(self.name, what, core.status, head, deadline)
                        return await _read(answer, core.aiter_stream())
                    finally:
                        await core.aclose()
                finally:
                    if own is not None and connection is not None:
                        await own.give_back(connection)
            raise TooSlow  # the scope ended the attempt: its deadline (or the caller) did


async def _read(answer: Answer, chunks: AsyncIterator[bytes]) -> Reply:
    """`Answer.read` of an asynchronous body."""
    if answer.in_memory is None:
        async for chunk in chunks:
            if not answer.feed(chunk):
                break
    return answer.reply()


async def _finished(work: asyncio.Future[Reply]) -> None:
    """Wait until `work` is over, however often the waiting task is cancelled meanwhile
    (it leaves no task behind); its outcome is dropped: the caller was cancelled."""
    while not work.done():
        try:
            await asyncio.shield(work)
        except (asyncio.CancelledError, Exception):  # another cancellation, or its failure
            continue
    if not work.cancelled():
        work.exception()  # retrieved, so that asyncio does not log it as lost
