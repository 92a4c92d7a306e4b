"""Plain value objects exchanged between backends, the scan and the wallet (no I/O, no parsing)."""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from typing import Final

import attrs

from ._network import Chain

__all__ = [
    "USED",
    "DescriptorHistories",
    "HistoryEntry",
    "MerkleProof",
    "OutPoint",
    "Progress",
    "ScriptUsage",
    "Tip",
    "TxOutSecrets",
    "Used",
]

Progress = Callable[[str, int, int], None]
"""A progress callback: (stage, done, total)."""


@attrs.frozen
class OutPoint:
    """A transaction output: txid (display hex) and output index."""

    txid: str
    vout: int

    def __str__(self) -> str:
        return f"{self.txid}:{self.vout}"


@attrs.frozen
class Tip:
    """The best block a backend reports."""

    height: int
    hash: str  # display hex
    timestamp: int
    header: bytes = attrs.field(default=b"", repr=False)

    def block_hash(self) -> str:
        return self.hash


@attrs.frozen
class HistoryEntry:
    """One transaction touching a script: height None means unconfirmed (mempool).

    `block_time` is given when the backend already knows it (Esplora's tx status), which
    saves a header request.
    """

    txid: str
    height: int | None
    block_time: int | None = None


@attrs.frozen
class MerkleProof:
    """Where a server says a transaction sits in its block: the block's height, the Merkle
    branch (sibling hashes from the leaf up, display hex) and the leaf position, as
    Electrum's `blockchain.transaction.get_merkle` and Esplora's `/tx/:txid/merkle-proof`
    answer. Core checks it against the verified header at that height."""

    block_height: int
    merkle: tuple[str, ...] = attrs.field(converter=tuple)
    pos: int


@attrs.frozen
class TxOutSecrets:
    """What unblinding an output reveals (asset ids and blinders in display hex)."""

    # interned: a wallet holds one asset id in most of its outputs (L-BTC), once
    asset: str = attrs.field(converter=sys.intern)
    value: int
    asset_bf: str = attrs.field(repr=False)
    value_bf: str = attrs.field(repr=False)


DescriptorHistories = dict[Chain, list[list[HistoryEntry]]]
"""Per chain, the history of each script index 0..n-1 as the server scanned them."""


class Used(enum.Enum):
    """The type of `USED`."""

    USED = "used"


USED: Final = Used.USED
"""In a `ScriptUsage`: the script has a history, not given yet (ask it as `pending`)."""


@attrs.frozen
class ScriptUsage:
    """A backend's answer to a usage scan (`lwk_scan_usage`): per script asked, in order, its
    history (empty: unused) or `USED` (it has one, to be asked later as `pending`); and the
    history of each `pending` script asked with it, in order.

    A backend that tells usage before histories (Electrum: a status is null or not) lets
    the scan ask the next gap-limit round's usage in the same exchange as this round's
    histories: one round trip per round instead of two."""

    scripts: list[list[HistoryEntry] | Used]
    pending: list[list[HistoryEntry]]
