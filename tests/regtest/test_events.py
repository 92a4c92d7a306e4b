"""Wallet-change events (`Wollet.apply_update`'s) on the embedded chain: payments, a spend,
confirmations, a reorg, an eviction, a replacement.

Ground truth: what the test did to the chain (the amounts it paid, the fee the faucet
pays, the heights it mined and reorged), never our own scan's results.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import pytest
from lwk_electrum import ElectrumClient
from lwk_oracle import new_wallet
from lwk_regtest import Regtest
from lwk_regtest._faucet import DEFAULT_FEE

import lwk_core
from lwk_core import (
    BalanceChanged,
    NewTip,
    NewTx,
    TxConfirmed,
    TxDropped,
    TxHeightChanged,
    WalletEvent,
    Wollet,
)

POLICY = lwk_core.Network.ELEMENTS_REGTEST.policy_asset


@pytest.fixture
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


def synced(rt: Regtest, wollet: Wollet) -> list[WalletEvent]:
    with ElectrumClient.from_url(rt.electrum_url) as client:
        update = client.full_scan(wollet)
    return [] if update is None else wollet.apply_update(update)


def tip(rt: Regtest) -> NewTip:
    return NewTip(rt.tip_height(), rt.chain.tip_hash())


def balance(old: int, new: int) -> BalanceChanged:
    return BalanceChanged(POLICY, old, new)


def test_payments_confirmations_a_reorg_and_an_eviction(rt: Regtest) -> None:
    oracle = new_wallet("events")
    wollet = Wollet(rt.network, oracle.descriptor)
    assert synced(rt, wollet) == [tip(rt)]  # a fresh wallet on a chain: only the tip

    paid = rt.faucet(oracle.address(0), 30_000)
    assert synced(rt, wollet) == [NewTx(paid, None, {POLICY: 30_000}), balance(0, 30_000)]
    assert synced(rt, wollet) == []  # nothing changed, nothing said

    rt.mine(1)
    mined = rt.tip_height()
    assert synced(rt, wollet) == [tip(rt), TxConfirmed(paid, mined)]  # the balance stays

    rt.reorg(1)  # the block is replaced by two: the payment confirms again one higher
    assert synced(rt, wollet) == [tip(rt), TxHeightChanged(paid, mined, mined + 1)]

    evicted = rt.faucet(oracle.address(1), 5_000)
    assert synced(rt, wollet) == [NewTx(evicted, None, {POLICY: 5_000}), balance(30_000, 35_000)]
    rt.evict(evicted)
    assert synced(rt, wollet) == [TxDropped(evicted, None), balance(35_000, 30_000)]
    assert wollet.balance().btc_balance() == 30_000


def test_a_spend_and_a_replacement(rt: Regtest) -> None:
    oracle = new_wallet("events spend")
    wollet = Wollet(rt.network, oracle.descriptor)
    received = rt.faucet(oracle.address(0), 100_000)
    rt.mine(1)
    synced(rt, wollet)

    (utxo,) = wollet.utxos()
    foreign = new_wallet("someone else").address(0)
    change = oracle.address(0, lwk_core.Chain.INTERNAL)
    spent = rt.spend([(utxo.outpoint, utxo.unblinded)], foreign, 40_000, change_address=change)
    out = 40_000 + DEFAULT_FEE  # the change comes back
    left = 100_000 - out
    assert synced(rt, wollet) == [NewTx(spent, None, {POLICY: -out}), balance(100_000, left)]
    assert received != spent

    # Two faucet payments built from the same coin: the second replaces the first.
    first = rt.build_payment(oracle.address(1), 7_000)
    second = rt.build_payment(oracle.address(1), 9_000)
    with ElectrumClient.from_url(rt.electrum_url) as client:
        first_txid = client.broadcast(first)
        assert synced(rt, wollet)[0] == NewTx(first_txid, None, {POLICY: 7_000})
    second_txid = rt.chain.replace(first_txid, second)
    assert synced(rt, wollet) == [
        TxDropped(first_txid, None, replaced_by=second_txid),
        NewTx(second_txid, None, {POLICY: 9_000}),
        balance(left + 7_000, left + 9_000),
    ]


def test_events_are_frozen_public_values_with_a_json_form() -> None:
    event = NewTx("ab" * 32, None, {POLICY: 5})
    assert type(event).__module__ == "lwk_core" and "NewTx" in lwk_core.__all__
    assert pickle.loads(pickle.dumps(event)) == event
    with pytest.raises(AttributeError):
        event.height = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        event.balance[POLICY] = 6  # type: ignore[index]
    assert event.as_dict() == {
        "event": "new_tx",
        "txid": "ab" * 32,
        "height": None,
        "balance": {POLICY: 5},
    }
    assert BalanceChanged(POLICY, 7, 3).delta == -4
    assert TxDropped("cd" * 32, 5).as_dict()["replaced_by"] is None
