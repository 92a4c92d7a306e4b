"""What changed in a wallet between two syncs, as the monitor announces it.

The one place that turns wallet state into events: today by comparing the wallet's
transactions before and after a sync (public API only); switching to typed wallet-change
events, once `Wollet.apply_update` returns them, replaces this function alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lwk_core import WalletTx

__all__ = ["wallet_changes"]


def wallet_changes(
    wallet: str, before: Mapping[str, WalletTx], after: Sequence[WalletTx]
) -> list[dict[str, Any]]:
    """Events for `after` (the wallet's transactions now) against `before` (by txid):
    `payment` (a transaction not seen before, confirmed or not), `confirmed`,
    `unconfirmed` (back in the mempool after a reorg) and `dropped` (evicted, replaced or
    reorged away). Oldest first, then by txid; `wallet` names the wallet (its dwid)."""
    events = []
    for tx in sorted(after, key=_chain_order):
        old = before.get(tx.txid)
        if old is None:
            events.append(_event("payment", wallet, tx))
        elif old.height is None and tx.height is not None:
            events.append(_event("confirmed", wallet, tx))
        elif old.height is not None and tx.height is None:
            events.append(_event("unconfirmed", wallet, tx))
    now = {tx.txid for tx in after}
    events += [_event("dropped", wallet, before[txid]) for txid in sorted(set(before) - now)]
    return events


def _chain_order(tx: WalletTx) -> tuple[int, str]:
    return (tx.height if tx.height is not None else 2**31, tx.txid)


def _event(kind: str, wallet: str, tx: WalletTx) -> dict[str, Any]:
    return {
        "event": kind,
        "wallet": wallet,
        "txid": tx.txid,
        "height": tx.height,
        "timestamp": tx.timestamp,
        "type": tx.type,
        "balance": dict(sorted(tx.balance.items())),  # what the wallet gained (+) or spent (-)
    }
