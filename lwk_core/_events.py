"""Wallet-change events: what applying an Update changed, as typed values (no I/O).

`events_between(before, after)` diffs two states of one wallet. It is what
`Wollet.apply_update` returns, and what every `watch()` (blocking or async, one client or
a chain) and the CLI's `lwk watch` yield, so an application logs, queues or shows one type
family whatever drives it. Transactions are those `Wollet.transactions()` lists (hidden
ones, which the wallet cannot read, raise no transaction event), and amounts are those
`balance()` and `WalletTx.balance` report (confidential outputs, as LWK).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import attrs

from ._ledger import summary, tx_balance
from ._state import WolletState
from ._types import OutPoint

__all__ = [
    "BalanceChanged",
    "NewTip",
    "NewTx",
    "TxConfirmed",
    "TxDropped",
    "TxHeightChanged",
    "WalletEvent",
    "events_between",
]

_UNCONFIRMED = 2**32  # sorts after every height


def _frozen_amounts(value: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(sorted(value.items())))


def _amounts_repr(value: Mapping[str, int]) -> str:
    return repr(dict(value))


@attrs.frozen
class WalletEvent:
    """One change of a wallet; `kind` names its type in JSON (`as_dict()`)."""

    kind: ClassVar[str] = ""

    def as_dict(self) -> dict[str, Any]:
        """The event as plain JSON values: {"event": kind, **fields}."""
        fields = {
            k: dict(v) if isinstance(v, Mapping) else v for k, v in attrs.asdict(self).items()
        }
        return {"event": self.kind, **fields}


@attrs.frozen
class NewTip(WalletEvent):
    """The wallet's chain tip moved (a new block, or another block after a reorg)."""

    kind: ClassVar[str] = "new_tip"
    height: int
    hash: str


@attrs.frozen
class NewTx(WalletEvent):
    """A transaction the wallet did not list: its height (None: unconfirmed) and the net
    amount per asset it moves into (positive) or out of (negative) the wallet."""

    kind: ClassVar[str] = "new_tx"
    txid: str
    height: int | None
    balance: Mapping[str, int] = attrs.field(
        converter=_frozen_amounts, repr=lambda m: repr(dict(m))
    )

    def __reduce__(self) -> tuple[Any, ...]:  # a read-only mapping does not pickle itself
        return (NewTx, (self.txid, self.height, dict(self.balance)))


@attrs.frozen
class TxConfirmed(WalletEvent):
    """An unconfirmed transaction of the wallet confirmed at `height`."""

    kind: ClassVar[str] = "tx_confirmed"
    txid: str
    height: int


@attrs.frozen
class TxHeightChanged(WalletEvent):
    """A reorg moved a confirmed transaction to another height (None: back to the mempool)."""

    kind: ClassVar[str] = "tx_height_changed"
    txid: str
    old_height: int
    new_height: int | None


@attrs.frozen
class TxDropped(WalletEvent):
    """A transaction left the wallet's history (evicted from the mempool, replaced, or
    gone with a reorg); `replaced_by` names a new transaction that spends one of its
    inputs, if the wallet has one."""

    kind: ClassVar[str] = "tx_dropped"
    txid: str
    height: int | None
    replaced_by: str | None = None


@attrs.frozen
class BalanceChanged(WalletEvent):
    """The wallet's balance of `asset` went from `old` to `new` satoshis."""

    kind: ClassVar[str] = "balance_changed"
    asset: str
    old: int
    new: int

    @property
    def delta(self) -> int:
        return self.new - self.old


def events_between(before: WolletState, after: WolletState) -> list[WalletEvent]:
    """What changed from `before` to `after` (a state of the same wallet derived from it by
    applying updates, as `Wollet.apply_update` does), in this order: the
    new tip; then each transaction change, dropped ones first, the others by the height
    the transaction now has (unconfirmed last), ties by txid; then the balance of each
    asset that changed, by asset id."""
    events: list[WalletEvent] = []
    if after.tip is not None and after.tip != before.tip:
        events.append(NewTip(after.tip.height, after.tip.hash))
    events += _tx_events(before, after)
    old, new = summary(before).balance, summary(after, grown_from=before).balance
    for asset in sorted(old.keys() | new.keys()):
        if old.get(asset, 0) != new.get(asset, 0):
            events.append(BalanceChanged(asset, old.get(asset, 0), new.get(asset, 0)))
    return events


def _tx_events(before: WolletState, after: WolletState) -> list[WalletEvent]:
    old = {txid: before.heights[txid] for txid in summary(before).shown}
    new = {txid: after.heights[txid] for txid in summary(after, grown_from=before).shown}
    dropped = sorted(old.keys() - new.keys())
    spenders = _spenders(after, new.keys() - old.keys()) if dropped else {}
    events: list[WalletEvent] = []
    for txid in dropped:
        replaced = (spenders.get(txin.prevout) for txin in before.txs[txid].inputs)
        events.append(TxDropped(txid, old[txid], next((t for t in replaced if t), None)))
    changes: list[tuple[int, str, WalletEvent]] = []
    for txid, height in new.items():
        if txid not in old:
            event: WalletEvent = NewTx(txid, height, tx_balance(after, txid))
        elif (previous := old[txid]) is not None and previous != height:
            event = TxHeightChanged(txid, previous, height)
        elif previous is None and height is not None:
            event = TxConfirmed(txid, height)
        else:
            continue  # the same height
        changes.append((_UNCONFIRMED if height is None else height, txid, event))
    return events + [event for _, _, event in sorted(changes, key=lambda c: c[:2])]


def _spenders(state: WolletState, txids: set[str]) -> dict[OutPoint, str]:
    """Which of `txids` spends each outpoint (the candidates to replace a dropped tx)."""
    return {txin.prevout: txid for txid in sorted(txids) for txin in state.txs[txid].inputs}
