"""Immutable value objects exchanged between backends, the orchestrator and the wallet."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from ._network import Chain

if TYPE_CHECKING:
    from ._transaction import Transaction

__all__ = ["HistoryEntry", "OutPoint", "Tip", "TxOutSecrets", "Update"]


def _frozen_map(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(value))


def _txs(value: Iterable[Transaction]) -> tuple[Transaction, ...]:
    return tuple(value)


def _txids(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


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
class TxOutSecrets:
    """What unblinding an output reveals (asset ids and blinders in display hex)."""

    asset: str
    value: int
    asset_bf: str = attrs.field(repr=False)
    value_bf: str = attrs.field(repr=False)


@attrs.frozen
class Update:
    """Everything one scan learned, to be applied to a Wollet with `apply_update`.

    - `new_txs`: transactions the wallet did not have (txids already verified);
    - `txid_height_new`: txid -> height (None = unconfirmed) for new txs and changed heights;
    - `txid_height_delete`: txids that vanished (reorg, replacement, mempool eviction);
    - `timestamps`: block height -> block time for the heights of `txid_height_new`;
    - `scripts`: newly derived wallet scripts -> (chain, index);
    - `unblinded`: secrets of the wallet's outputs in `new_txs`;
    - `last_unused`: per chain, the index after the last script with history;
    - `wallet_id`: which wallet scanned (a hash of the descriptor, not a secret);
    - `base_status`: the wallet state the scan started from; applying the update to a
      wallet in another state is refused (it could resurrect or lose transactions);
    - `tip`: the best block at the time of the scan.
    """

    wallet_id: str
    base_status: str
    tip: Tip
    new_txs: tuple[Transaction, ...] = attrs.field(default=(), converter=_txs)
    txid_height_new: Mapping[str, int | None] = attrs.field(
        factory=dict,
        converter=_frozen_map,
    )
    txid_height_delete: frozenset[str] = attrs.field(default=frozenset(), converter=_txids)
    timestamps: Mapping[int, int] = attrs.field(factory=dict, converter=_frozen_map)
    scripts: Mapping[bytes, tuple[Chain, int]] = attrs.field(
        factory=dict,
        converter=_frozen_map,
        repr=False,
    )
    unblinded: Mapping[OutPoint, TxOutSecrets] = attrs.field(
        factory=dict,
        converter=_frozen_map,
        repr=False,
    )
    last_unused: Mapping[Chain, int] = attrs.field(factory=dict, converter=_frozen_map)

    @property
    def only_tip(self) -> bool:
        """True when the update carries nothing but a new tip."""
        return not (
            self.new_txs
            or self.txid_height_new
            or self.txid_height_delete
            or self.scripts
            or self.unblinded
        )
