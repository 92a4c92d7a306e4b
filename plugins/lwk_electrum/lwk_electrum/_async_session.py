"""AsyncElectrumSession: the AsyncBackend an AsyncElectrumClient hands to core.

The same plans as `ElectrumSession` (scan, transactions, block times, broadcast), awaited
over an `AsyncElectrumConnection`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from lwk_core.plugin import HistoryEntry, Tip

from . import _requests
from ._aio_connection import AsyncElectrumConnection
from ._plan import BackendOp, Plan, Refresh, Subscribe, run_async
from ._session import SessionState

__all__ = ["AsyncElectrumSession"]

T = TypeVar("T")


class AsyncElectrumSession(SessionState[AsyncElectrumConnection]):
    """One Electrum server as lwk_core's `AsyncBackend` protocol asks for it."""

    async def ping(self) -> None:
        await self.rpc.call("server.ping")

    async def genesis_hash(self) -> str:
        return await self._run(_requests.genesis_hash(self.name))

    async def tip(self, *, min_height: int = 0) -> Tip:
        return await self.rpc.tip(min_height)

    async def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        histories: list[list[HistoryEntry]] = await self._run(self.scan(scripts, self.name))
        return histories

    async def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        return await self._run(_requests.raw_txs(txids, self.name))

    async def block_timestamps(self, heights: Sequence[int]) -> dict[int, int]:
        return await self._run(_requests.block_timestamps(heights, self.name))

    async def broadcast(self, tx: bytes) -> str:
        return await self._run(self.broadcast_plan(tx))

    async def close(self) -> None:
        await self.rpc.close()

    async def _run(self, plan: Plan[BackendOp, T]) -> T:
        return await run_async(plan, self._perform)

    async def _perform(self, op: BackendOp) -> Any:
        if isinstance(op, Subscribe):
            return await self.rpc.subscribe_scripthashes(op.scripthashes, op.then, op.used)
        if isinstance(op, Refresh):
            return await self.rpc.refresh()
        return await self.rpc.batch(op.calls)
