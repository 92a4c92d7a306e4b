"""AsyncElectrumSession: the AsyncBackend an AsyncElectrumClient hands to core.

The same plans as `ElectrumSession` (scan, transactions, headers, proofs, broadcast), awaited
over an `AsyncElectrumConnection`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from lwk_core.plugin import HistoryEntry, MerkleProof, ScriptUsage, Tip

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
        return _requests.genesis_hash(await self.rpc.features(), self.name)

    async def tip(self, *, min_height: int = 0) -> Tip:
        return await self.rpc.tip(min_height)

    async def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        histories: list[list[HistoryEntry]] = await self._run(self.scan(scripts, self.name))
        return histories

    async def scan_usage(self, scripts: Sequence[bytes], pending: Sequence[bytes]) -> ScriptUsage:
        return await self._run(self.usage(scripts, pending, self.name))

    async def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        return await self._run(self.txs_plan(txids))

    async def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        return await self._run(self.headers_plan(heights))

    async def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        return await self._run(_requests.merkle_proofs(confirmed, self.name))

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
