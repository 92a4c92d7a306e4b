"""What a wallet state means in amounts (pure reads of a WolletState, no I/O).

Shared by the Wollet's queries and by the events of an update, so that a balance event
always equals the difference of the balances the wallet reports. Results follow LWK
(lwk_wollet's tx details): explicit outputs are ignored in balances, and a transaction is
shown when the wallet can read one of its outputs or it spends one of the wallet's.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from ._state import WolletState
from ._types import OutPoint, TxOutSecrets

__all__ = [
    "Summary",
    "balance_amounts",
    "is_shown",
    "is_wallet_output",
    "readable_secrets",
    "summary",
    "tx_balance",
]

_ZERO_BLINDER = "00" * 32


def is_wallet_output(state: WolletState, outpoint: OutPoint) -> bool:
    tx = state.txs.get(outpoint.txid)
    if tx is None or outpoint.vout >= len(tx.outputs):
        return False
    return tx.outputs[outpoint.vout].script_pubkey in state.scripts


def readable_secrets(state: WolletState, outpoint: OutPoint) -> TxOutSecrets | None:
    """What the wallet knows of one of its outputs: the unblinded secrets, or for an explicit
    output its asset and value with zero blinders (as LWK); None if not a readable output
    of the wallet."""
    if not is_wallet_output(state, outpoint):
        return None
    secrets = state.unblinded.get(outpoint)
    if secrets is not None:
        return secrets
    out = state.txs[outpoint.txid].outputs[outpoint.vout]
    if out.is_blinded or out.asset is None or out.value is None:
        return None
    return TxOutSecrets(out.asset, out.value, _ZERO_BLINDER, _ZERO_BLINDER)


def is_shown(state: WolletState, txid: str) -> bool:
    """Whether `transactions()` lists `txid`: always for a descriptor whose blinding key is
    public (nothing is readable), else when it reads or spends one of the wallet's outputs."""
    if not state.descriptor.can_unblind:
        return True
    tx = state.txs[txid]
    return any(readable_secrets(state, txin.prevout) is not None for txin in tx.inputs) or any(
        readable_secrets(state, OutPoint(txid, vout)) is not None for vout in range(len(tx.outputs))
    )


def tx_balance(state: WolletState, txid: str) -> dict[str, int]:
    """The net amount per asset `txid` moves into (positive) or out of the wallet, counting
    confidential outputs only."""
    tx = state.txs[txid]
    balance: dict[str, int] = {}
    for txin in tx.inputs:
        secrets = state.unblinded.get(txin.prevout)
        if secrets is not None and is_wallet_output(state, txin.prevout):
            balance[secrets.asset] = balance.get(secrets.asset, 0) - secrets.value
    for vout, out in enumerate(tx.outputs):
        secrets = state.unblinded.get(OutPoint(txid, vout))
        if secrets is not None and out.script_pubkey in state.scripts:
            balance[secrets.asset] = balance.get(secrets.asset, 0) + secrets.value
    return balance


def balance_amounts(state: WolletState) -> dict[str, int]:
    """Satoshis per asset of the wallet's unspent confidential outputs, in transactions the
    wallet has (explicit outputs are not counted, as LWK); the policy asset always present."""
    amounts = {state.network.policy_asset: 0}
    spent = state.spent
    for outpoint, secrets in state.unblinded.items():
        if (
            outpoint.txid in state.heights
            and outpoint not in spent
            and is_wallet_output(state, outpoint)
        ):
            amounts[secrets.asset] = amounts.get(secrets.asset, 0) + secrets.value
    return amounts


def _counted(state: WolletState, outpoint: OutPoint) -> TxOutSecrets | None:
    """The secrets of `outpoint` if balance_amounts counts it in `state`, else None."""
    secrets = state.unblinded.get(outpoint)
    if (
        secrets is None
        or outpoint.txid not in state.heights
        or outpoint in state.spent
        or not is_wallet_output(state, outpoint)
    ):
        return None
    return secrets


def _grown_balance(
    balance: Mapping[str, int], before: WolletState, after: WolletState
) -> dict[str, int]:
    """balance_amounts(after) from `balance`, before's, where `after` grew from `before`
    with no history deleted: only outputs that became spent, unblinded or part of the
    history can count differently (secrets are only added, and they only unblind wallet
    outputs), so only those are looked at, not every output of a large wallet. An asset
    left at zero is computed afresh: whether balance_amounts lists it depends on outputs
    not looked at here."""
    added = after.heights.keys() - before.heights.keys()
    affected = set(after.spent - before.spent)
    affected.update(after.unblinded.keys() - before.unblinded.keys())
    affected.update(
        OutPoint(txid, vout) for txid in added for vout in range(len(after.txs[txid].outputs))
    )
    amounts = dict(balance)
    touched: set[str] = set()
    for outpoint in affected:
        for sign, secrets in ((-1, _counted(before, outpoint)), (1, _counted(after, outpoint))):
            if secrets is not None:
                amounts[secrets.asset] = amounts.get(secrets.asset, 0) + sign * secrets.value
                touched.add(secrets.asset)
    policy = after.network.policy_asset
    if any(amounts[asset] == 0 and asset != policy for asset in touched):
        return balance_amounts(after)
    return amounts


@attrs.frozen
class Summary:
    """What a state shows: the txids `transactions()` lists, and the balance."""

    shown: frozenset[str]
    balance: Mapping[str, int]


# Summaries of live states, by identity (a WolletState holds mappings: it is not hashable).
# An entry goes with its state; a wallet asks for the summary of each state once or twice.
_summaries: dict[int, tuple[weakref.ref[WolletState], Summary]] = {}
_summaries_lock = threading.Lock()


def summary(state: WolletState, *, grown_from: WolletState | None = None) -> Summary:
    """The summary of `state`, computed once per state. `grown_from`, a state that `state`
    was derived from by applying updates, saves most of the work: transactions, scripts
    and secrets are only ever added, so a transaction shown there is shown here too."""
    cached = _cached(state)
    if cached is not None:
        return cached
    base = _cached(grown_from) if grown_from is not None else None
    known = base.shown if base is not None else frozenset()
    shown = frozenset(t for t in state.heights if t in known or is_shown(state, t))
    if (
        base is not None
        and grown_from is not None
        and state.heights.keys() >= grown_from.heights.keys()
    ):
        balance = _grown_balance(base.balance, grown_from, state)
    else:
        balance = balance_amounts(state)
    result = Summary(shown, MappingProxyType(balance))
    key = id(state)
    with _summaries_lock:
        _summaries[key] = (weakref.ref(state, lambda _: _forget(key)), result)
    return result


def _cached(state: WolletState) -> Summary | None:
    with _summaries_lock:
        entry = _summaries.get(id(state))
    if entry is None or entry[0]() is not state:
        return None
    return entry[1]


def _forget(key: int) -> None:
    with _summaries_lock:
        entry = _summaries.get(key)
        if entry is not None and entry[0]() is None:
            del _summaries[key]
