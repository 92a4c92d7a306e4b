"""Scan every wallet with LWK 0.19 and with ours after a step, and compare what they report.

Per wallet and step: LWK's incremental wallet (its Electrum client), LWK's fresh wallet, our
incremental wallets (Electrum and Esplora clients, each applying every update) and our fresh
wallet (the fresh scans alternate between the Electrum and Esplora servers by step). Checks:

0. every tx ours lists is on the chain at the height shown with its block's time, and our
   incremental wallet's tip is the chain's tip with its time (first principles: the chain's
   own record);
1. our Electrum and Esplora incremental wallets are equal;
2. our fresh wallet equals LWK's fresh one (rule: lwk-fee-all-assets);
3. our incremental wallet equals LWK's incremental one, where LWK is wrong corrected by the
   rules of `diff_rules` (each counted);
4. our incremental wallet equals our fresh one, except two named rules:
   index-once-used-stays-used (the incremental address index is the highest of the fresh one
   and the previous step's: an index once used stays used, issue 13 defect 2), and
   kept-index-window (the incremental wallet scans on from an index used earlier and sees a
   tx a fresh scan's gap does not reach: allowed only where LWK's incremental and fresh
   wallets split the same txs the same way).
"""

from __future__ import annotations

from collections import Counter

import attrs
import lwk
from diff_rules import (
    FRESH_RULES,
    INCREMENTAL_RULES,
    SINGLE_ADDRESS_RULES,
    compare_with_lwk,
    differences,
)
from diff_views import View, lwk_view, ours_view
from diff_world import LWK_NET, Wallet, World

from lwk_core import Wollet


def scan_lwk(client: lwk.ElectrumClient | lwk.EsploraClient, wollet: lwk.Wollet) -> None:
    update = client.full_scan(wollet)
    if update is not None:
        wollet.apply_update(update)


def scan_ours(client: object, wollet: Wollet) -> None:
    update = client.full_scan(wollet)  # type: ignore[attr-defined]
    if update is not None:
        wollet.apply_update(update)


def observe(world: World, step: int, counts: Counter[str]) -> list[str]:
    """Scan and compare every wallet; the unexplained differences (empty when all agree)."""
    problems: list[str] = []
    for wallet in world.wallets:
        problems += [
            f"{wallet.name} ({wallet.kind}) {p}" for p in _observe(world, wallet, step, counts)
        ]
    return problems


def _observe(world: World, w: Wallet, step: int, counts: Counter[str]) -> list[str]:
    esplora = step % 2 == 1
    scan_lwk(world.lwk_electrum, w.lwk_inc)
    lwk_fresh = lwk.Wollet(LWK_NET, w.descriptor, None)
    scan_lwk(world.lwk_esplora if esplora else world.lwk_electrum, lwk_fresh)
    w.lwk_fresh = lwk_fresh
    scan_ours(world.electrum, w.ours_el)
    scan_ours(world.esplora, w.ours_es)
    ours_fresh = Wollet(world.rt.network, str(w.descriptor))
    scan_ours(world.esplora if esplora else world.electrum, ours_fresh)

    lwk_inc_v, lwk_fresh_v = lwk_view(w.lwk_inc), lwk_view(lwk_fresh)
    inc_v, es_v, fresh_v = ours_view(w.ours_el), ours_view(w.ours_es), ours_view(ours_fresh)
    server = "Esplora" if esplora else "Electrum"
    problems = [
        f"our Electrum and Esplora incremental wallets differ in {d}"
        for d in differences(inc_v, es_v)
    ]
    problems += [f"incremental: {p}" for p in chain_truth(world, inc_v)]
    problems += [f"incremental: {p}" for p in tip_truth(world, w.ours_el)]
    problems += [f"fresh ({server}): {p}" for p in chain_truth(world, fresh_v)]

    extra = SINGLE_ADDRESS_RULES if w.kind == "single-address" else ()
    left, fired = compare_with_lwk(
        fresh_v, lwk_fresh_v, world.chain, lwk_fresh_v, FRESH_RULES + extra
    )
    counts.update(f"fresh: {n}" for n in fired)
    problems += [f"fresh ({server}) vs LWK fresh: {d}" for d in left]

    left, fired = compare_with_lwk(
        inc_v, lwk_inc_v, world.chain, lwk_fresh_v, INCREMENTAL_RULES + extra
    )
    counts.update(f"incremental: {n}" for n in fired)
    problems += [f"incremental vs LWK incremental: {d}" for d in left]

    problems += _incremental_vs_fresh(world, w, inc_v, fresh_v, lwk_inc_v, lwk_fresh_v, counts)
    w.inc_index = inc_v.address[0]
    return problems


def chain_truth(world: World, view: View) -> list[str]:
    """Each listed tx is on the chain at the height shown, with the time of that block."""
    chain, out = world.chain, []
    for t in view.txs:
        height = chain.tx_height(t.txid) if chain.tx_raw(t.txid) is not None else "gone"
        time = chain.block_time(height) if isinstance(height, int) else None
        if (t.height, t.timestamp) != (height, time):
            out.append(
                f"tx {t.txid} at height {t.height} time {t.timestamp}, chain: {height} {time}"
            )
    return out


def tip_truth(world: World, wollet: Wollet) -> list[str]:
    """The wallet's tip is the chain's, with that block's time."""
    chain, tip = world.chain, wollet.tip()
    expected = (chain.tip_height(), chain.tip_hash(), chain.block_time(chain.tip_height()))
    if tip is None or (tip.height, tip.hash, tip.timestamp) != expected:
        return [f"tip {tip and (tip.height, tip.hash, tip.timestamp)}, chain: {expected}"]
    return []


def _incremental_vs_fresh(
    world: World,
    w: Wallet,
    inc: View,
    fresh: View,
    lwk_inc: View,
    lwk_fresh: View,
    counts: Counter[str],
) -> list[str]:
    ids = {t.txid for t in inc.txs}, {t.txid for t in fresh.txs}
    on_chain = {t.txid for t in lwk_inc.txs if world.chain.tx_raw(t.txid) is not None}
    lwk_ids = on_chain, {t.txid for t in lwk_fresh.txs}
    if ids[0] != ids[1]:
        if (
            ids[0] - ids[1] == lwk_ids[0] - lwk_ids[1]
            and ids[1] - ids[0] == lwk_ids[1] - lwk_ids[0]
        ):
            counts["kept-index-window"] += 1  # checks 2 and 3 compared each side with LWK
            return []
        extra, missing = sorted(ids[0] - ids[1]), sorted(ids[1] - ids[0])
        return [f"incremental vs fresh: txs only incremental {extra}, only fresh {missing}"]
    problems = [
        f"incremental vs fresh: {d}"
        for d in differences(inc, attrs.evolve(fresh, address=inc.address))
    ]
    expected = max(w.inc_index, fresh.address[0])
    if inc.address[0] != expected:
        problems.append(
            f"incremental address index {inc.address[0]}, expected {expected} "
            f"(previous step {w.inc_index}, fresh {fresh.address[0]})"
        )
    elif inc.address != fresh.address:
        counts["index-once-used-stays-used"] += 1
    return problems
