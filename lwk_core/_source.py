"""ScanSource / AsyncScanSource: the calls a scan driver makes, which a client answers.

The drivers are typed against these protocols, not against Client and AsyncClient, so they
sit below the plugin contract. Replies are raw: the scan's steps check them (txids
re-hashed, counts, heights). The async twin has the same methods, each a coroutine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ._descriptor import WolletDescriptor
from ._types import DescriptorHistories, HistoryEntry, MerkleProof, ScriptUsage, Tip

__all__ = ["AsyncScanSource", "ScanSource"]


class ScanSource(Protocol):
    """A backend client as a scan uses it."""

    @property
    def name(self) -> str:
        """Shown in logs and errors: scheme://host:port, nothing secret."""
        ...

    def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        """The history of each script, in order."""
        ...

    def scan_usage(self, scripts: Sequence[bytes], pending: Sequence[bytes]) -> ScriptUsage | None:
        """Which scripts are used, with the histories of `pending`; None where not offered."""
        ...

    def tip(self) -> Tip:
        """The best block, asked after the histories."""
        ...

    def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        """The raw transactions, in order."""
        ...

    def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        """The raw header of each height's block."""
        ...

    def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        """A Merkle proof of each (txid, height), in order."""
        ...

    def scan_descriptor(
        self, descriptor: WolletDescriptor, *, gap_limit: int, to_index: int
    ) -> DescriptorHistories | None:
        """A whole wallet's histories in one request, or None where not offered."""
        ...


class AsyncScanSource(Protocol):
    """An async backend client as a scan uses it: ScanSource's methods, awaited."""

    @property
    def name(self) -> str:
        """Shown in logs and errors: scheme://host:port, nothing secret."""
        ...

    async def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        """The history of each script, in order."""
        ...

    async def scan_usage(
        self, scripts: Sequence[bytes], pending: Sequence[bytes]
    ) -> ScriptUsage | None:
        """Which scripts are used, with the histories of `pending`; None where not offered."""
        ...

    async def tip(self) -> Tip:
        """The best block, asked after the histories."""
        ...

    async def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        """The raw transactions, in order."""
        ...

    async def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        """The raw header of each height's block."""
        ...

    async def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        """A Merkle proof of each (txid, height), in order."""
        ...

    async def scan_descriptor(
        self, descriptor: WolletDescriptor, *, gap_limit: int, to_index: int
    ) -> DescriptorHistories | None:
        """A whole wallet's histories in one request, or None where not offered."""
        ...
