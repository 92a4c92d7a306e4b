"""Scan semantics of the orchestrator, on synthetic explicit transactions.

The expected results follow LWK's algorithm (lwk_wollet clients/blocking: batches of the
gap limit, stop after an empty batch once `to_index` and the last used index are covered).
"""

from __future__ import annotations

import pytest
from lwk_memory_backend import MemoryChain, MemoryClient, register_chain
from shared_data import load_fixture, unique_name
from txbuild import explicit_tx

from lwk_core import Chain, Network
from lwk_core._wollet import Wollet

FIXTURE = load_fixture("liquid-testnet-wallet.json")
NET = Network.LIQUID_TESTNET
ASSET = NET.policy_asset


@pytest.fixture
def setup() -> tuple[MemoryChain, MemoryClient, Wollet]:
    chain = MemoryChain(NET)
    name = unique_name("semantics")
    register_chain(name, chain)
    return chain, MemoryClient(name, NET), Wollet(NET, FIXTURE["descriptor"])


def _pay(wollet: Wollet, chain: MemoryChain, index: int, height: int | None = 10) -> str:
    spk = wollet.descriptor.script_pubkey(Chain.EXTERNAL, index)
    tx = explicit_tx([(spk, 1000)], ASSET)
    chain.add(tx, height)
    return tx.txid


def _scan(client: MemoryClient, wollet: Wollet, **kw: int) -> set[str]:
    update = client.full_scan(wollet, **kw)
    if update is not None:
        wollet.apply_update(update)
    return {t.txid for t in wollet.transactions()}


def test_a_script_beyond_an_empty_batch_is_not_found(setup: tuple) -> None:
    chain, client, wollet = setup
    _pay(wollet, chain, 25)
    assert _scan(client, wollet) == set()


def test_to_index_scans_beyond_the_gap_and_later_scans_keep_it(setup: tuple) -> None:
    chain, client, wollet = setup
    txid = _pay(wollet, chain, 25)
    assert _scan(client, wollet, to_index=25) == {txid}
    assert wollet.state.last_unused[Chain.EXTERNAL] == 26
    later = _pay(wollet, chain, 27, height=11)
    assert _scan(client, wollet) == {txid, later}  # last used index extends the scan


def test_used_scripts_in_consecutive_batches_are_all_found(setup: tuple) -> None:
    chain, client, wollet = setup
    found = {_pay(wollet, chain, 19), _pay(wollet, chain, 39)}
    assert _scan(client, wollet) == found
    assert wollet.address().index() == 40


def test_scans_derive_each_batch_once(setup: tuple) -> None:
    chain, client, wollet = setup
    _pay(wollet, chain, 3)
    _scan(client, wollet)
    scanned = [c for c in client.conn.calls if c == "scan_scripts"]
    # round 1: the first batch of both chains in one request; round 2: the empty
    # external batch after the used one (the internal chain already stopped)
    assert len(scanned) == 2
    assert len(wollet.state.scripts) == 60
    assert client.full_scan(wollet) is None  # a rescan derives nothing new


def test_nothing_changed_returns_none(setup: tuple) -> None:
    chain, client, wollet = setup
    _pay(wollet, chain, 0)
    _scan(client, wollet)
    assert client.full_scan(wollet) is None


def test_a_vanished_transaction_is_deleted(setup: tuple) -> None:
    chain, client, wollet = setup
    keep = _pay(wollet, chain, 0)
    gone = _pay(wollet, chain, 1, height=None)
    assert _scan(client, wollet) == {keep, gone}
    chain.remove(gone)  # evicted from the mempool, or replaced
    update = client.full_scan(wollet)
    assert update is not None and set(update.txid_height_delete) == {gone}
    assert not update.new_txs
    wollet.apply_update(update)
    assert {t.txid for t in wollet.transactions()} == {keep}


def test_a_confirmation_changes_the_height_only(setup: tuple) -> None:
    chain, client, wollet = setup
    txid = _pay(wollet, chain, 2, height=None)
    _scan(client, wollet)
    assert wollet.transaction(txid).height is None  # type: ignore[union-attr]
    chain.add(chain.txs[txid], 12, 1_700_000_123)
    update = client.full_scan(wollet)
    assert update is not None and dict(update.txid_height_new) == {txid: 12}
    assert not update.new_txs
    wollet.apply_update(update)
    tx = wollet.transaction(txid)
    assert tx is not None and (tx.height, tx.timestamp) == (12, 1_700_000_123)


def test_progress_reports_each_stage(setup: tuple) -> None:
    chain, client, wollet = setup
    _pay(wollet, chain, 0)
    seen: list[str] = []
    client.full_scan(wollet, progress=lambda stage, done, total: seen.append(stage))
    assert {"scripts", "transactions", "unblind"} <= set(seen)


def test_explicit_outputs_do_not_count_in_the_balance(setup: tuple) -> None:
    chain, client, wollet = setup
    _pay(wollet, chain, 0)
    _scan(client, wollet)
    # LWK ignores explicit outputs in balances: only blinded outputs are unblinded.
    assert wollet.balance().btc_balance() == 0
    assert len(wollet.transactions()) == 1


def test_a_rescan_asks_for_all_known_scripts_in_one_request(setup: tuple) -> None:
    chain, client, wollet = setup
    _pay(wollet, chain, 19)
    _pay(wollet, chain, 39)
    _scan(client, wollet)
    before = len(client.conn.calls)
    assert client.full_scan(wollet) is None
    rescan = client.conn.calls[before:]
    # the used batches and the gap after them are certain: one round, then nothing to do
    assert rescan == ["scan_scripts", "tip"]


def test_a_chain_used_at_every_index_is_asked_further_ahead_but_not_past_lwks_stop(
    setup: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """External 0-59 used (three full batches of 20) and 90: LWK scans batch by batch and
    stops after 60-79, the first batch with no history, so 90 is not found. Each full batch
    makes the next round ask one batch more: 2 then 3 rounds' worth; what lies past the
    stop (80-119, asked in the last round) is not taken."""
    chain, client, wollet = setup
    found = {_pay(wollet, chain, i) for i in range(60)}
    _pay(wollet, chain, 90)
    asked: list[int] = []
    scan_scripts = client.conn.scan_scripts

    def counted(scripts: list[bytes]) -> object:
        asked.append(len(scripts))
        return scan_scripts(scripts)

    monkeypatch.setattr(client.conn, "scan_scripts", counted)
    assert _scan(client, wollet) == found
    # both chains' first batch; external 20-59; external 60-119 (LWK: 60-79 alone)
    assert asked == [20 + 20, 40, 60]
    assert wollet.state.last_unused[Chain.EXTERNAL] == 60
    assert len(wollet.state.scripts) == 80 + 20  # the scripts LWK derives, no more
    assert wollet.address().index() == 60
    asked.clear()
    assert client.full_scan(wollet) is None  # the rescan: every batch certain, one round
    assert asked == [80 + 20]
