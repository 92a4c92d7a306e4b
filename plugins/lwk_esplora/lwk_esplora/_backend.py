"""The two Esplora backends: `EsploraSteps` run over the blocking or the async transport.

Each is a thin runner: it answers a `Send` with one request of its session (retries
included) and an `Each` by running the steps at once, and throws a failure into the steps
that asked (broadcast catches transport failures to ask whether the tx arrived).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, TypeVar

import attrs

from lwk_core.plugin import HistoryEntry, MerkleProof, Network, Tip

from ._ahttp import AsyncHttpSession
from ._http import HttpSession
from ._response import AsyncStreamed, Streamed
from ._steps import Each, EsploraSteps, Send, Steps

__all__ = ["AsyncEsploraBackend", "EsploraBackend"]

T = TypeVar("T")


class EsploraBackend:
    """One Esplora server as lwk_core's `Backend` protocol asks for it; thread-safe."""

    def __init__(self, http: HttpSession, network: Network) -> None:
        self.http = http
        self.network = network
        self.name = http.name
        self.steps = EsploraSteps(http.name, network, http.max_retries)

    def __repr__(self) -> str:
        return f"<EsploraBackend {self.name}>"

    def run(self, steps: Steps[T]) -> T:
        """Perform `steps` (answering each Send with a request of this session) to its end."""
        reply: Any = None
        error: Exception | None = None
        try:
            while True:
                step = steps.send(reply) if error is None else steps.throw(error)
                reply = error = None
                try:
                    reply = self._perform(step)
                except Exception as exc:
                    error = exc
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            steps.close()

    def _perform(self, step: Send | Each) -> Any:
        if isinstance(step, Send):
            return self.http.request(**attrs.asdict(step, recurse=False))
        return self.http.map(self.run, step.steps)

    @contextlib.contextmanager
    def stream(self, path: str, *, route: str) -> Iterator[Streamed]:
        """A GET read as it arrives, e.g. Server-Sent Events (`HttpSession.stream`)."""
        with self.http.stream(path, route=route) as streamed:
            yield streamed

    def ping(self) -> None:
        self.run(self.steps.ping())

    def genesis_hash(self) -> str:
        return self.run(self.steps.genesis_hash())

    def tip(self, *, min_height: int = 0) -> Tip:
        return self.run(self.steps.tip())

    def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        return self.run(self.steps.block_headers(heights))

    def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        return self.run(self.steps.merkle_proofs(confirmed))

    def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        return self.run(self.steps.get_raw_txs(txids))

    def broadcast(self, raw: bytes) -> str:
        return self.run(self.steps.broadcast(raw))

    def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        return self.run(self.steps.scan_scripts(scripts))

    def receive(self) -> None:
        self.run(self.steps.receive())

    def close(self) -> None:
        self.http.close()


class AsyncEsploraBackend:
    """One Esplora server as lwk_core's `AsyncBackend` protocol asks for it, on one event
    loop; any number of tasks may call it at once (the session bounds the requests)."""

    def __init__(self, http: AsyncHttpSession, network: Network) -> None:
        self.http = http
        self.network = network
        self.name = http.name
        self.steps = EsploraSteps(http.name, network, http.max_retries)

    def __repr__(self) -> str:
        return f"<AsyncEsploraBackend {self.name}>"

    async def run(self, steps: Steps[T]) -> T:
        """Perform `steps` (answering each Send with a request of this session) to its end."""
        reply: Any = None
        error: Exception | None = None
        try:
            while True:
                step = steps.send(reply) if error is None else steps.throw(error)
                reply = error = None
                try:
                    reply = await self._perform(step)
                except Exception as exc:
                    error = exc
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            steps.close()

    async def _perform(self, step: Send | Each) -> Any:
        if isinstance(step, Send):
            return await self.http.request(**attrs.asdict(step, recurse=False))
        return await self._each(step.steps)

    async def _each(self, steps: Sequence[Steps[Any]]) -> list[Any]:
        """Run `steps` as tasks; the first failure cancels the others, waits for them and
        is raised (a cancellation from outside cancels them all)."""
        if len(steps) <= 1:
            return [await self.run(s) for s in steps]
        error: BaseException | None = None
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self.run(s)) for s in steps]
        except BaseExceptionGroup as failed:
            error = _first_error(failed)
        if error is not None:
            raise error  # outside the except: its own cause and context stay
        return [task.result() for task in tasks]

    @contextlib.asynccontextmanager
    async def stream(self, path: str, *, route: str) -> AsyncIterator[AsyncStreamed]:
        """A GET read as it arrives, e.g. Server-Sent Events (`AsyncHttpSession.stream`)."""
        async with self.http.stream(path, route=route) as streamed:
            yield streamed

    async def ping(self) -> None:
        await self.run(self.steps.ping())

    async def genesis_hash(self) -> str:
        return await self.run(self.steps.genesis_hash())

    async def tip(self, *, min_height: int = 0) -> Tip:
        return await self.run(self.steps.tip())

    async def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        return await self.run(self.steps.block_headers(heights))

    async def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        return await self.run(self.steps.merkle_proofs(confirmed))

    async def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        return await self.run(self.steps.get_raw_txs(txids))

    async def broadcast(self, raw: bytes) -> str:
        return await self.run(self.steps.broadcast(raw))

    async def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        return await self.run(self.steps.scan_scripts(scripts))

    async def receive(self) -> None:
        await self.run(self.steps.receive())

    async def close(self) -> None:
        await self.http.close()


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first failure of a task group (not a cancellation it caused)."""
    errors = [e for e in _leaves(group) if not isinstance(e, asyncio.CancelledError)]
    return errors[0] if errors else asyncio.CancelledError()


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]
