"""ScanSource: the calls a scan makes, which a Client and a BackendChain both answer.

The scan is typed against this protocol, not against Client, so it sits below the plugin
contract: the replies it gets are already checked by Client (txids re-hashed, tip headers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ._transaction import Transaction
from ._types import HistoryEntry, Tip

__all__ = ["ScanSource"]


class ScanSource(Protocol):
    """A backend (or a chain of them) as a scan uses it."""

    @property
    def name(self) -> str:
        """Shown in logs and errors: scheme://host:port, nothing secret."""
        ...

    def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        """The history of each script, in order."""
        ...

    def tip(self) -> Tip:
        """The best block, asked after the histories."""
        ...

    def get_txs(self, txids: Sequence[str]) -> list[Transaction]:
        """The transactions, each checked to hash to its txid."""
        ...

    def block_timestamps(self, heights: Sequence[int]) -> dict[int, int]:
        """Block time of each height."""
        ...
