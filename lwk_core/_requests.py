"""What the scan engine asks of its driver: typed requests, each with the reply it expects.

The engine (`_scan.py`) yields these and takes the replies; a driver performs them with a
backend, blocking or asynchronously. `Unblind` is local work, not I/O: an async driver may
run it in a thread so that a big first scan does not stall its event loop.
"""

from __future__ import annotations

import attrs

from ._descriptor import WolletDescriptor
from ._transaction import TxOut

__all__ = [
    "GetHeaders",
    "GetHistories",
    "GetMerkleProofs",
    "GetTip",
    "GetTransactions",
    "GetUsage",
    "Request",
    "ScanDescriptor",
    "Unblind",
]


@attrs.frozen
class GetHistories:
    """The history of each script, in order. Reply: list[list[HistoryEntry]]."""

    scripts: tuple[bytes, ...] = attrs.field(repr=lambda s: f"<{len(s)} scripts>")


@attrs.frozen
class GetUsage:
    """Which of `scripts` are used, with the histories of `pending` (scripts an earlier
    GetUsage told `USED` without their history) in the same exchange. Reply: ScriptUsage,
    or None when the backend does not offer it (the histories are then asked instead)."""

    scripts: tuple[bytes, ...] = attrs.field(repr=lambda s: f"<{len(s)} scripts>")
    pending: tuple[bytes, ...] = attrs.field(default=(), repr=lambda s: f"<{len(s)} scripts>")


@attrs.frozen
class GetTip:
    """The backend's best block. Reply: Tip."""


@attrs.frozen
class GetTransactions:
    """Raw transactions, in order. Reply: list[bytes] (the engine checks each txid)."""

    txids: tuple[str, ...]


@attrs.frozen
class GetHeaders:
    """The raw header of the best chain's block at each height. Reply: dict[int, bytes]
    (the engine parses each, checks its height and, with block signers, its signatures)."""

    heights: tuple[int, ...]


@attrs.frozen
class GetMerkleProofs:
    """A Merkle proof of each (txid, claimed height), in order. Reply: list[MerkleProof]
    (the engine checks each against the verified header at that height)."""

    confirmed: tuple[tuple[str, int], ...]


@attrs.frozen
class ScanDescriptor:
    """A whole wallet in one request, where the backend derives the scripts itself (as
    Waterfalls servers do). Reply: dict[Chain, list[list[HistoryEntry]]], the histories of
    each chain's scripts from index 0, or None when the backend does not offer it."""

    descriptor: WolletDescriptor = attrs.field(repr=False)
    gap_limit: int
    to_index: int


@attrs.frozen
class Unblind:
    """Unblind each (output, blinding private key). Reply: list[TxOutSecrets | UnblindError]
    (see `unblind_many`); local CPU work, never sent to a backend."""

    jobs: tuple[tuple[TxOut, bytes], ...] = attrs.field(repr=False)


Request = (
    GetHistories
    | GetUsage
    | GetTip
    | GetTransactions
    | GetHeaders
    | GetMerkleProofs
    | ScanDescriptor
    | Unblind
)
