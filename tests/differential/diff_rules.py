"""Named, narrow rules for the places where LWK 0.19 is wrong and we keep our behaviour.

Each rule finds one situation in LWK's view by first principles (the chain's own record, the
transaction's fee outputs, LWK's own fresh scan), corrects LWK's view there to the right
answer, and says that it fired. Whatever still differs after the rules is unexplained.

- lwk-keeps-evicted: LWK keeps a tx that is no longer on the chain (evicted, replaced, reorged
  away) when nothing else changed; the right view has neither it nor its outputs, and the
  outputs it spent are unspent again.
- lwk-block-time-at-height: LWK keeps the time of a block it saw at a height after a reorg
  puts another block there (issue 13, defect 3, second half); the right time is the block's
  that holds the tx now.
- lwk-fee-all-assets: LWK adds the fee outputs of every asset; the fee is the policy asset's.
- lwk-never-unblinds-later-derived: a known tx paying a script derived after LWK first saw the
  tx stays unblinded there; LWK's own fresh scan unblinds that output.
- lwk-double-counts-after-reorg: after a reorg that moves a paying tx but not its spend, LWK
  lists the spent output as unspent although a wallet tx it lists spends it.
- lwk-single-address-index (single-address descriptors only): LWK derives the one script
  gap-limit times, so its address index is 20 and its outputs say index 19; a descriptor
  without a wildcard has one index, 0 (issue 13, defect 8).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from diff_views import OutRow, TxRow, View, balance_of
from lwk_regtest import RegtestChain

INCREMENTAL_RULES = (
    "lwk-keeps-evicted",
    "lwk-block-time-at-height",
    "lwk-fee-all-assets",
    "lwk-never-unblinds-later-derived",
    "lwk-double-counts-after-reorg",
)
FRESH_RULES = ("lwk-fee-all-assets",)
SINGLE_ADDRESS_RULES = ("lwk-single-address-index",)


@attrs.define
class Corrected:
    """LWK's view being corrected; `unordered` lists the fields whose order a rule lost."""

    view: View
    unordered: set[str] = attrs.field(factory=set)
    fired: list[str] = attrs.field(factory=list)


def keeps_evicted(c: Corrected, chain: RegtestChain, fresh: View) -> bool:
    v = c.view
    gone = {t.txid for t in v.txs if chain.tx_raw(t.txid) is None}
    if not gone:
        return False
    kept_spends = {p for t in v.txs if t.txid not in gone for p in v.spends[t.txid]}
    freed = {p for t in gone for p in v.spends[t]} - kept_spends
    utxos = [o for o in v.utxos if o.txid not in gone]
    utxos += [o for o in v.txos if (o.txid, o.vout) in freed and o.txid not in gone]
    c.view = attrs.evolve(
        v,
        txs=tuple(t for t in v.txs if t.txid not in gone),
        txos=tuple(o for o in v.txos if o.txid not in gone),
        utxos=tuple(utxos),
    )
    c.unordered.add("utxos")
    return True


def block_time_at_height(c: Corrected, chain: RegtestChain, fresh: View) -> bool:
    def now(t: TxRow) -> TxRow:
        if t.height is None or t.height > chain.tip_height():
            return t
        return attrs.evolve(t, timestamp=chain.block_time(t.height))

    return _map_txs(c, now)


def fee_all_assets(c: Corrected, chain: RegtestChain, fresh: View) -> bool:
    def policy_fee(t: TxRow) -> TxRow:
        outs = c.view.fee_outputs[t.txid]
        policy = sum(v for a, v in outs if a == chain.network.policy_asset)
        if t.fee != policy and t.fee == sum(v for _, v in outs):
            return attrs.evolve(t, fee=policy)
        return t

    return _map_txs(c, policy_fee)


def _map_txs(c: Corrected, correct: Callable[[TxRow], TxRow]) -> bool:
    """Correct each tx row; whether any changed."""
    txs = tuple(correct(t) for t in c.view.txs)
    if txs == c.view.txs:
        return False
    c.view = attrs.evolve(c.view, txs=txs)
    return True


def never_unblinds_later_derived(c: Corrected, chain: RegtestChain, fresh: View) -> bool:
    v = c.view
    known = {(o.txid, o.vout) for o in v.txos}
    txids = {t.txid for t in v.txs}
    added = [o for o in fresh.txos if (o.txid, o.vout) not in known and o.txid in txids]
    if not added:
        return False
    points = {(o.txid, o.vout) for o in added}
    spent = {p for t in v.txs for p in v.spends[t.txid]}
    touched = {o.txid for o in added} | {t.txid for t in v.txs if points & set(v.spends[t.txid])}

    def from_fresh(t: TxRow) -> TxRow:
        right = fresh.tx(t.txid)
        if t.txid not in touched or right is None:
            return t
        return attrs.evolve(t, type=right.type, balance=right.balance)

    c.view = attrs.evolve(
        v,
        txs=tuple(from_fresh(t) for t in v.txs),
        txos=v.txos + tuple(added),
        utxos=v.utxos + tuple(o for o in added if (o.txid, o.vout) not in spent),
    )
    c.unordered |= {"txos", "utxos"}
    return True


def double_counts_after_reorg(c: Corrected, chain: RegtestChain, fresh: View) -> bool:
    v = c.view
    spent = {p for t in v.txs for p in v.spends[t.txid]}
    utxos = tuple(o for o in v.utxos if (o.txid, o.vout) not in spent)
    if utxos == v.utxos:
        return False
    c.view = attrs.evolve(v, utxos=utxos)
    return True


def single_address_index(c: Corrected, chain: RegtestChain, fresh: View) -> bool:
    v = c.view
    fixed = attrs.evolve(
        v,
        address=(0, v.address[1]),
        txos=tuple(attrs.evolve(o, index=0) for o in v.txos),
        utxos=tuple(attrs.evolve(o, index=0) for o in v.utxos),
    )
    if fixed == v:
        return False
    c.view = fixed
    return True


RULES: dict[str, Callable[[Corrected, RegtestChain, View], bool]] = {
    "lwk-keeps-evicted": keeps_evicted,
    "lwk-block-time-at-height": block_time_at_height,
    "lwk-fee-all-assets": fee_all_assets,
    "lwk-never-unblinds-later-derived": never_unblinds_later_derived,
    "lwk-double-counts-after-reorg": double_counts_after_reorg,
    "lwk-single-address-index": single_address_index,
}


def _key(o: OutRow) -> tuple[str, int]:
    return (o.txid, o.vout)


def differences(ours: View, lwk: View, *, unordered: frozenset[str] = frozenset()) -> list[str]:
    """The fields where `ours` and `lwk` differ, each with both values."""
    out = []
    for field in ("balance", "txs", "utxos", "txos", "address"):
        a, b = getattr(ours, field), getattr(lwk, field)
        if field in unordered:
            a, b = sorted(a, key=_key), sorted(b, key=_key)
        if a != b:
            out.append(f"{field}:\n    ours {_show(a)}\n    lwk  {_show(b)}")
    return out


def _show(value: object) -> str:
    if isinstance(value, list | tuple):
        return "[\n      " + ",\n      ".join(map(repr, value)) + "]"
    return repr(value)


def compare_with_lwk(
    ours: View, lwk: View, chain: RegtestChain, fresh: View, rules: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """(unexplained differences, rules that fired) between our view and LWK's."""
    if not differences(ours, lwk):
        return [], []
    left, fired = _corrected(ours, lwk, chain, fresh, rules)
    if left:
        return left, fired
    # count only the rules the explanation needs
    needed = [n for n in fired if _corrected(ours, lwk, chain, fresh, tuple(set(fired) - {n}))[0]]
    return [], needed


def _corrected(
    ours: View, lwk: View, chain: RegtestChain, fresh: View, rules: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    c = Corrected(lwk)
    for name in RULES:
        if name in rules and RULES[name](c, chain, fresh):
            c.fired.append(name)
    if c.fired:
        c.view = attrs.evolve(c.view, balance=balance_of(c.view.utxos))
    return differences(ours, c.view, unordered=frozenset(c.unordered)), c.fired
