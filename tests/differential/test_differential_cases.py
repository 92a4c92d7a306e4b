"""Small fixed sequences the random differential run found, checked against LWK 0.19 or the
chain's own record (issue 13). A case is marked xfail(strict) while its difference is open."""

from __future__ import annotations

from collections.abc import Iterator

import lwk
import pytest
from diff_check import scan_lwk, scan_ours
from diff_world import LWK_NET, World
from lwk_regtest import Regtest

from lwk_core import Chain, Wollet

pytestmark = pytest.mark.lwk


@pytest.fixture
def world() -> Iterator[World]:
    with Regtest() as rt:
        yield World(rt, seed=1, n_wallets=1)


def _scan(world: World) -> tuple[lwk.Wollet, Wollet]:
    wallet = world.wallets[0]
    scan_lwk(world.lwk_electrum, wallet.lwk_inc)
    scan_ours(world.electrum, wallet.ours_el)
    return wallet.lwk_inc, wallet.ours_el


def test_an_index_once_used_stays_used_after_its_tx_is_evicted(world: World) -> None:
    wallet = world.wallets[0]
    used = world.rt.faucet(wallet.ours_el.address(5).address(), 10_000)
    theirs, ours = _scan(world)
    assert ours.address().index() == theirs.address(None).index() == 6

    world.chain.evict(used)
    theirs, ours = _scan(world)
    assert theirs.address(None).index() == 6  # LWK never hands index 5 out again
    assert ours.address().index() == 6


def test_a_payment_within_the_gap_of_a_vanished_index_is_found(world: World) -> None:
    wallet = world.wallets[0]
    used = world.rt.faucet(wallet.ours_el.address(10).address(), 10_000)
    _scan(world)
    world.chain.evict(used)
    _scan(world)
    late = world.rt.faucet(wallet.ours_el.address(25).address(), 7_000)  # 11 + 20 > 25
    theirs, ours = _scan(world)
    assert late in {str(t.txid()) for t in theirs.transactions()}
    assert late in {t.txid for t in ours.transactions()}
    assert ours.balance().btc_balance() == 7_000


def test_a_tx_reconfirmed_at_its_height_in_a_new_block_takes_that_blocks_time(
    world: World,
) -> None:
    wallet = world.wallets[0]
    txid = world.rt.faucet(wallet.ours_el.address(0).address(), 10_000)
    world.rt.mine(1)
    _scan(world)
    height = world.chain.tx_height(txid)
    old_time = world.chain.block_time(height)

    world.chain.reorg(1, same_heights=True)  # same tx, same height, another block and time
    assert world.chain.tx_height(txid) == height
    new_time = world.chain.block_time(height)
    assert new_time != old_time
    theirs, ours = _scan(world)
    assert theirs.transactions()[0].timestamp() == old_time  # LWK is wrong here too
    fresh = lwk.Wollet(LWK_NET, wallet.descriptor, None)
    scan_lwk(world.lwk_electrum, fresh)
    assert fresh.transactions()[0].timestamp() == new_time  # a fresh LWK scan is right
    (tx,) = ours.transactions()
    assert tx.timestamp == new_time


def test_utxos_and_txos_in_lwks_order(world: World) -> None:
    wallet = world.wallets[0]
    for i, sats in enumerate([3_000, 9_000, 5_000]):
        world.rt.faucet(wallet.ours_el.address(i).address(), sats)
        world.rt.mine(1)
    change = wallet.ours_descriptor.address(Chain.INTERNAL, 0, world.rt.network)
    world.rt.faucet(change, 7_000)
    theirs, ours = _scan(world)

    def points(outs: list[lwk.WalletTxOut]) -> list[tuple[str, int]]:
        return [(str(o.outpoint().txid()), o.outpoint().vout()) for o in outs]

    assert [o.unblinded().value() for o in theirs.utxos()] == [9_000, 7_000, 5_000, 3_000]
    assert [(o.outpoint.txid, o.outpoint.vout) for o in ours.utxos()] == points(theirs.utxos())
    assert [(o.outpoint.txid, o.outpoint.vout) for o in ours.txos()] == points(theirs.txos())


def test_single_address_index_is_zero_where_lwk_says_20() -> None:
    """A deliberate difference (rule lwk-single-address-index): one script, one index."""
    with Regtest() as rt:
        world = World(rt, seed=2, n_wallets=2)  # seed 2: the second kind is single-address
        wallet = world.wallets[1]
        assert wallet.kind == "single-address"
        world.rt.faucet(wallet.lwk_inc.address(None).address(), 10_000)
        scan_lwk(world.lwk_electrum, wallet.lwk_inc)
        scan_ours(world.electrum, wallet.ours_el)
        theirs, ours = wallet.lwk_inc, wallet.ours_el
        assert str(theirs.address(None).address()) == ours.address().address()
        assert (theirs.address(None).index(), theirs.txos()[0].wildcard_index()) == (20, 19)
        assert (ours.address().index(), ours.txos()[0].wildcard_index) == (0, 0)
