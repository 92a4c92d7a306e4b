"""The two Waterfalls backends: `WaterfallsSteps` run over lwk-esplora's blocking or async
backend, which also serves the Esplora routes (transactions, headers, Merkle proofs,
broadcast)."""

from __future__ import annotations

from collections.abc import Sequence

from lwk_esplora.steps import AsyncEsploraBackend, EsploraBackend

from lwk_core import WolletDescriptor
from lwk_core.plugin import DescriptorHistories, HistoryEntry, MerkleProof, Tip

from ._pushes import TaskStreams, ThreadStreams
from ._steps import WaterfallsSteps

__all__ = ["AsyncWaterfallsBackend", "WaterfallsBackend"]


class WaterfallsBackend:
    """One Waterfalls server as lwk_core's `Backend` and `DescriptorScanner`; thread-safe."""

    def __init__(self, esplora: EsploraBackend, steps: WaterfallsSteps) -> None:
        self._esplora = esplora
        self.steps = steps
        self.streams = ThreadStreams(esplora, steps)  # pushes for a watch
        self.network = steps.network
        self.name = steps.name

    def __repr__(self) -> str:
        return f"<WaterfallsBackend {self.name}>"

    def ping(self) -> None:
        self._esplora.ping()

    def genesis_hash(self) -> str:
        """Which chain the server serves: its Esplora routes' block 0."""
        return self._esplora.run(self.steps.genesis_hash())

    def tip(self, *, min_height: int = 0) -> Tip:
        return self._esplora.run(self.steps.tip(min_height=min_height))

    def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        return self._esplora.get_raw_txs(txids)

    def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        return self._esplora.block_headers(heights)

    def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        return self._esplora.merkle_proofs(confirmed)

    def broadcast(self, tx: bytes) -> str:
        return self._esplora.broadcast(tx)

    def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        return self._esplora.run(self.steps.scan_scripts(scripts))

    def scan_descriptor(
        self, descriptor: WolletDescriptor, *, gap_limit: int, to_index: int
    ) -> DescriptorHistories | None:
        steps = self.steps.scan_descriptor(descriptor, gap_limit=gap_limit, to_index=to_index)
        return self._esplora.run(steps)

    def close(self) -> None:
        self.streams.close()
        self._esplora.close()


class AsyncWaterfallsBackend:
    """One Waterfalls server as lwk_core's `AsyncBackend` and `AsyncDescriptorScanner`, on
    one event loop; any number of tasks may call it at once."""

    def __init__(self, esplora: AsyncEsploraBackend, steps: WaterfallsSteps) -> None:
        self._esplora = esplora
        self.steps = steps
        self.streams = TaskStreams(esplora, steps)  # pushes for a watch
        self.network = steps.network
        self.name = steps.name

    def __repr__(self) -> str:
        return f"<AsyncWaterfallsBackend {self.name}>"

    async def ping(self) -> None:
        await self._esplora.ping()

    async def genesis_hash(self) -> str:
        return await self._esplora.run(self.steps.genesis_hash())

    async def tip(self, *, min_height: int = 0) -> Tip:
        return await self._esplora.run(self.steps.tip(min_height=min_height))

    async def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        return await self._esplora.get_raw_txs(txids)

    async def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        return await self._esplora.block_headers(heights)

    async def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        return await self._esplora.merkle_proofs(confirmed)

    async def broadcast(self, tx: bytes) -> str:
        return await self._esplora.broadcast(tx)

    async def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        return await self._esplora.run(self.steps.scan_scripts(scripts))

    async def scan_descriptor(
        self, descriptor: WolletDescriptor, *, gap_limit: int, to_index: int
    ) -> DescriptorHistories | None:
        steps = self.steps.scan_descriptor(descriptor, gap_limit=gap_limit, to_index=to_index)
        return await self._esplora.run(steps)

    async def close(self) -> None:
        await self.streams.close()
        await self._esplora.close()
