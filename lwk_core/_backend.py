"""Backend: what a plugin implements for one server, and hands to core inside a Client.

Core never calls these methods itself: every call goes through the hook of the same name
(`lwk_tip`, `lwk_scan_scripts`, ...), answered by the plugin that created the backend, so
wrapper plugins see it. Answers are plain data that core checks (`Client`): txids are
re-hashed, a tip's header must match it, a broadcast's txid must be the transaction's.
Raise a `lwk_core.BackendError` subclass for transport failures, timeouts and malformed
answers: that is what makes a BackendChain fail over.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ._descriptor import WolletDescriptor
from ._types import DescriptorHistories, HistoryEntry, MerkleProof, ScriptUsage, Tip

__all__ = ["Backend", "DescriptorHistories", "DescriptorScanner", "MerkleProver", "UsageScanner"]


class Backend(Protocol):
    """One server as a plugin talks to it; building one does no network I/O."""

    @property
    def name(self) -> str:
        """Shown in logs and errors (scheme://host:port): no credentials, paths or scripts."""
        ...

    def ping(self) -> None:
        """Check that the server answers."""
        ...

    def genesis_hash(self) -> str:
        """The hash of the server's block 0 (display hex): proves which chain it serves."""
        ...

    def tip(self, *, min_height: int = 0) -> Tip:
        """The server's best block. A tip kept from earlier (e.g. pushed by the server) that
        is below `min_height`, the highest height a history of this backend has shown, is
        stale: ask the server."""
        ...

    def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        """The history of each script (unconfidential scriptPubKey), in order."""
        ...

    def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        """The raw transactions `txids` (display hex), in order."""
        ...

    def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        """The raw header of the best chain's block at each height (core parses each,
        checks its height and the block signers' signatures, and takes times from it)."""
        ...

    def broadcast(self, tx: bytes) -> str:
        """Send a raw transaction, return the txid the server answered. A refusal of the
        transaction itself is `lwk_core.BroadcastRejected(reason)`."""
        ...

    def close(self) -> None:
        """Release sockets and threads; a later call may connect again."""
        ...


class DescriptorScanner(Protocol):
    """Optional: a backend whose server derives a wallet's scripts itself (Waterfalls)."""

    def scan_descriptor(
        self, descriptor: WolletDescriptor, *, gap_limit: int, to_index: int
    ) -> DescriptorHistories:
        """The histories of the wallet's scripts in one request; the server applies the gap
        limit (and scans at least to `to_index`)."""
        ...


class UsageScanner(Protocol):
    """Optional: a backend that tells which scripts are used before their histories, at
    less cost (Electrum: a script's subscription status is null when it has no history)."""

    def scan_usage(self, scripts: Sequence[bytes], pending: Sequence[bytes]) -> ScriptUsage:
        """Per script of `scripts`, its history or `USED` (its history asked later, as
        `pending` of a next call or with `scan_scripts`); and the history of each of
        `pending` (scripts an earlier call told USED), asked in the same exchange."""
        ...


class MerkleProver(Protocol):
    """Optional: a backend offering SPV (`lwk_merkle_proofs`), asked only by clients whose
    `verify_merkle` is on."""

    def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        """A Merkle proof of each (txid, height the server's history gave), in order; core
        checks each against the header at that height."""
        ...
