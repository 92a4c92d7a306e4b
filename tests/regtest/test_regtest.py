"""The public Regtest: start-up of a 200-transaction wallet chain (cold and cached), and
the servers run in a child process with the control channel across the boundary."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import lwk
import pytest
from lwk_oracle import LwkWallet, new_wallet
from lwk_regtest import Regtest, RegtestRejected

from lwk_core._network import Network

pytestmark = pytest.mark.lwk
POLICY = Network.ELEMENTS_REGTEST.policy_asset
N_TXS = 200


def test_a_200_tx_wallet_chain_starts_in_seconds_and_faster_from_cache(tmp_path: Path) -> None:
    wallet = new_wallet("two hundred")
    timings, txids = [], []
    for _ in ("cold", "warm"):
        start = time.perf_counter()
        with Regtest(cache_dir=tmp_path) as rt:
            txids.append(rt.fund_wallet(wallet.descriptor, N_TXS, sats=10_000))
            timings.append(time.perf_counter() - start)
            assert rt.chain.tip_height() == N_TXS // 10
            if len(timings) == 2:
                fresh = LwkWallet(wallet.descriptor, new_wallet("two hundred").wollet)
                fresh.scan(rt.electrum_url)
                assert fresh.balance() == {POLICY: sum(10_000 + i for i in range(N_TXS))}
                assert set(fresh.ledger()) == set(txids[1])
    cold, warm = timings
    assert txids[0] == txids[1]  # deterministic blinding: the cache holds the very same txs
    assert len(list(tmp_path.glob("*.tx"))) == N_TXS
    assert cold < 60 and warm * 3 < cold, timings


@pytest.fixture(scope="module")
def child() -> Iterator[Regtest]:
    with Regtest(process=True) as rt:
        yield rt


def test_process_mode_serves_and_obeys(child: Regtest) -> None:
    with pytest.raises(RuntimeError):
        child.chain  # noqa: B018 (the chain lives in the child)
    wallet = new_wallet("process")
    start = child.tip_height()
    paid = child.faucet(wallet.address(0), 12_345)
    assert child.mine(2) and child.tip_height() == start + 2
    _, asset = child.issue_asset(77, wallet.address(1))
    wallet.scan(child.electrum_url)
    assert wallet.balance() == {POLICY: 12_345, asset: 77}
    assert wallet.ledger()[paid][3] == start + 1
    with pytest.raises(KeyError):
        child.evict("11" * 32)
    with pytest.raises(ValueError, match="do not cover"):
        child.spend([], wallet.address(2), 1, change_address=wallet.address(3))
    utxo = [wallet.secrets(paid)]
    child.spend(utxo, wallet.address(2), 1_000, change_address=wallet.address(3))
    child.mine()
    with pytest.raises(RegtestRejected) as info:  # the same output again
        child.spend(utxo, wallet.address(2), 2_000, change_address=wallet.address(3))
    assert (info.value.reason, info.value.code) == ("bad-txns-inputs-missingorspent", -25)


def test_process_mode_faults_and_example_wallet(child: Regtest) -> None:
    descriptor = child.example_wallet()
    oracle = LwkWallet(
        descriptor,
        lwk.Wollet(lwk.Network.regtest_default(), lwk.WolletDescriptor(descriptor), None),
    )
    oracle.scan(child.electrum_url)
    assert oracle.balance() == {POLICY: 175_000}
    child.set_faults("electrum", "lying_tip", 1)
    host, port = child.electrum_url.split("//")[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"blockchain.headers.subscribe"}\n')
        reply = json.loads(s.makefile("rb").readline())
    assert reply["result"]["height"] == child.tip_height() + 1000
