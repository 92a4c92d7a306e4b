"""Update: everything one scan learned, applied to a Wollet with `apply_update`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ._network import Chain
from ._transaction import Transaction
from ._types import OutPoint, Tip, TxOutSecrets

__all__ = ["Update"]


def _frozen_map(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(value))


def _txs(value: Iterable[Transaction]) -> tuple[Transaction, ...]:
    return tuple(value)


def _txids(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


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
    - `tip`: the best block at the time of the scan;
    - `genesis_hash`: the genesis of the chain the scanning server proved it serves (set by
      `Client.sync`); None for an update of a server not checked, which may not delete
      history.
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
    genesis_hash: str | None = None

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
