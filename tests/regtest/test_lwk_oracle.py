"""LWK 0.19's own Electrum client syncs from the embedded regtest chain and agrees with it.

Expected figures come from first principles (what the test paid, the faucet's fixed fee) or
from the testnet fixture (computed by LWK against the real testnet).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import lwk
import pytest
from lwk_oracle import FIXTURE, LwkWallet, new_wallet
from lwk_regtest import Regtest
from lwk_regtest._faucet import DEFAULT_FEE

from lwk_core._network import Chain, Network

pytestmark = pytest.mark.lwk
POLICY = Network.ELEMENTS_REGTEST.policy_asset


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


def test_faucet_ledger_matches_lwk(rt: Regtest) -> None:
    wallet, other = new_wallet("ledger"), new_wallet("ledger-other")
    paid = [100_000, 20_000, 3_333]
    incoming = [rt.faucet(wallet.address(i), sats) for i, sats in enumerate(paid)]
    rt.mine(1)
    first_height = rt.chain.tip_height()
    issuance, asset = rt.issue_asset(5_000, wallet.address(3))
    rt.mine(1)
    mempool = rt.faucet(wallet.address(4), 777)

    wallet.scan(rt.electrum_url)
    spent = wallet.secrets(incoming[0])
    outgoing = rt.spend(
        [spent], other.address(0), 30_000, change_address=wallet.address(0, Chain.INTERNAL)
    )
    wallet.scan(rt.electrum_url)

    fee = DEFAULT_FEE
    assert wallet.balance() == {POLICY: sum(paid) + 777 - 30_000 - fee, asset: 5_000}
    expected: dict[str, tuple[str, dict[str, int], int, int | None]] = {
        txid: ("incoming", {POLICY: s}, fee, first_height)
        for txid, s in zip(incoming, paid, strict=True)
    }
    expected[issuance] = ("issuance", {asset: 5_000}, fee, first_height + 1)
    expected[mempool] = ("incoming", {POLICY: 777}, fee, None)
    expected[outgoing] = ("outgoing", {POLICY: -30_000 - fee}, fee, None)
    assert wallet.ledger() == expected

    other.scan(rt.electrum_url)  # the payee unblinds what it was sent
    assert other.balance() == {POLICY: 30_000}


def test_reorg_moves_and_drops_confirmed_txs(rt: Regtest) -> None:
    wallet = new_wallet("reorg")
    kept = rt.faucet(wallet.address(0), 11_000)
    rt.mine(1)
    old_height = rt.chain.tip_height()
    wallet.scan(rt.electrum_url)
    assert wallet.ledger()[kept][3] == old_height

    rt.reorg(1)  # the block is replaced; the tx confirms again one block higher
    assert rt.chain.tx_height(kept) == old_height + 1
    wallet.scan(rt.electrum_url)
    assert wallet.ledger()[kept][3] == old_height + 1
    assert wallet.balance() == {POLICY: 11_000}

    dropped = rt.faucet(wallet.address(1), 22_000)
    rt.mine(1)
    wallet.scan(rt.electrum_url)
    assert wallet.balance() == {POLICY: 33_000}
    rt.reorg(1, keep_txs=False)  # the new chain never had it
    assert rt.chain.tx_raw(dropped) is None
    wallet.scan(rt.electrum_url)
    assert set(wallet.ledger()) == {kept}
    assert wallet.balance() == {POLICY: 11_000}


def test_evicted_mempool_tx_disappears(rt: Regtest) -> None:
    wallet = new_wallet("evict")
    confirmed = rt.faucet(wallet.address(0), 40_000)
    rt.mine(1)
    evicted = rt.faucet(wallet.address(1), 9_000)
    wallet.scan(rt.electrum_url)
    assert wallet.ledger()[evicted] == ("incoming", {POLICY: 9_000}, DEFAULT_FEE, None)

    rt.evict(evicted)
    wallet.scan(rt.electrum_url)
    assert set(wallet.ledger()) == {confirmed}
    assert wallet.balance() == {POLICY: 40_000}


def test_example_wallet_is_funded(rt: Regtest) -> None:
    descriptor = rt.example_wallet()
    assert rt.example_wallet() == descriptor  # funded once
    network = lwk.Network.regtest_default()
    wallet = LwkWallet(descriptor, lwk.Wollet(network, lwk.WolletDescriptor(descriptor), None))
    wallet.scan(rt.electrum_url)
    assert wallet.balance() == {POLICY: 175_000}
    assert {kind for kind, *_ in wallet.ledger().values()} == {"incoming"}


@pytest.fixture(scope="module")
def fixture() -> dict[str, object]:
    data: dict[str, object] = json.loads(FIXTURE.read_text())
    return data


def _fixture_ledger(step: dict[str, object]) -> dict[str, tuple[str, dict[str, int], int, int]]:
    txs = step["expected"]["transactions"]  # type: ignore[index]
    return {t["txid"]: (t["type"], t["balance"], t["fee"], t["height"]) for t in txs}


def test_fixture_wallet_steps_match_lwk(fixture: dict[str, object]) -> None:
    steps: list[dict[str, object]] = fixture["steps"]  # type: ignore[assignment]
    network = lwk.Network.testnet()
    descriptor = lwk.WolletDescriptor(str(fixture["descriptor"]))
    with Regtest.from_fixture(FIXTURE, step=0) as rt:
        assert rt.network is Network.LIQUID_TESTNET
        for index, step in enumerate(steps):
            if index:
                rt.extend_fixture(index)
            wallet = LwkWallet(str(fixture["descriptor"]), lwk.Wollet(network, descriptor, None))
            wallet.scan(rt.electrum_url)
            expected = step["expected"]
            assert wallet.balance() == expected["balance"]  # type: ignore[index]
            assert len(wallet.wollet.transactions()) == expected["tx_count"]  # type: ignore[index]
            assert wallet.ledger() == _fixture_ledger(step)
            times = {str(t.txid()): t.timestamp() for t in wallet.wollet.transactions()}
            assert times == {t["txid"]: t["timestamp"] for t in expected["transactions"]}  # type: ignore[index]
