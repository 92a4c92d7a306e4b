"""Many wallets syncing at once through one BackendChain([electrum, esplora]).

Every wallet must end with exactly its own payments and balance (each wallet is paid
distinct amounts), also when the Electrum server drops connections in the middle of the
load, and closing the chain must give back every thread and socket it used. The servers
run in a child process (`Regtest(process=True)`), so this process's threads and file
descriptors are the clients' alone.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Iterator

import attrs
import pytest
from lwk_electrum import ElectrumClient
from lwk_esplora import EsploraClient
from lwk_regtest import Regtest
from reliability_support import FundedWallet, Summary, fund, summary, sync_into

from lwk_core import BackendChain

WALLETS = 50
STRESS = 500  # opt-in (pytest -m slow)


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with Regtest(process=True) as regtest:
        yield regtest


@attrs.frozen
class Load:
    wallets: list[FundedWallet]
    heights: dict[str, int | None]  # txid -> confirmation height (None: mempool)
    tip_height: int


def funded_load(rt: Regtest, n: int, first_seed: int) -> Load:
    """`n` wallets, wallet i paid 10_000 + 97 i (confirmed) and 5_000 + 13 i (mempool)."""
    wallets = [fund(rt, first_seed + i, [10_000 + 97 * i]) for i in range(n)]
    rt.mine(1)
    tip_height = rt.tip_height()
    heights: dict[str, int | None] = {w.payments[0].txid: tip_height for w in wallets}
    for i, wallet in enumerate(wallets):
        heights[wallet.pay(rt, 5_000 + 13 * i, index=1)] = None
    return Load(wallets, heights, tip_height)


def open_fds() -> dict[int, str]:
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the descriptor of the listing itself, already closed
            continue
    return fds


def sync_all(chain: BackendChain, wallets: list[FundedWallet]) -> list[Summary | BaseException]:
    """Sync every wallet in its own thread, all released at once."""
    results: list[Summary | BaseException] = [RuntimeError("not run")] * len(wallets)
    start = threading.Barrier(len(wallets))

    def sync(i: int) -> None:
        wollet = wallets[i].wollet()
        start.wait()
        try:
            sync_into(chain, wollet)
            results[i] = summary(wollet)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=sync, args=(i,)) for i in range(len(wallets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def run_load(rt: Regtest, load: Load, *, electrum_fault: str | None = None) -> float:
    """Sync the load, check every wallet and the leaks; returns the wall time."""
    gc.collect()  # earlier tests' dropped sockets close now, not during this test's count
    threads_before, fds_before = threading.active_count(), open_fds()
    chain = BackendChain(
        [
            ElectrumClient.from_url(rt.electrum_url, network=rt.network, timeout=10),
            EsploraClient(rt.esplora_url, rt.network, timeout=10),
        ]
    )
    if electrum_fault is not None:
        rt.set_faults("electrum", electrum_fault, remaining=3)
    started = time.monotonic()
    try:
        results = sync_all(chain, load.wallets)
    finally:
        elapsed = time.monotonic() - started
        rt.set_faults("electrum", None)
        chain.close()
    for wallet, result in zip(load.wallets, results, strict=True):
        assert not isinstance(result, BaseException), repr(result)
        txs, balance, tip = result
        assert (txs, balance) == wallet.truth(load.heights.__getitem__, None)[:2]
        assert tip is not None and tip[0] == load.tip_height
    assert len({result[2] for result in results if not isinstance(result, BaseException)}) == 1
    assert threading.active_count() == threads_before
    assert open_fds() == fds_before
    return elapsed


def test_fifty_concurrent_wallets_get_their_own_balances_and_nothing_leaks(rt: Regtest) -> None:
    elapsed = run_load(rt, funded_load(rt, WALLETS, 1000))
    print(f"{WALLETS} wallets in {elapsed:.2f} s")


def test_fifty_concurrent_wallets_survive_electrum_dropping_connections(
    rt: Regtest, caplog: pytest.LogCaptureFixture
) -> None:
    """Resets in the middle of the load: some scans fail over to Esplora, all are right."""
    with caplog.at_level(logging.WARNING, logger="lwk_core.failover"):
        elapsed = run_load(rt, funded_load(rt, WALLETS, 2000), electrum_fault="reset")
    failovers = [r for r in caplog.records if "failing over" in r.getMessage()]
    assert failovers  # the resets did move scans to Esplora
    print(f"{WALLETS} wallets with Electrum resets in {elapsed:.2f} s, {len(failovers)} failovers")


@pytest.mark.slow
@pytest.mark.parametrize("fault", [None, "reset"], ids=["clean", "electrum-resets"])
def test_many_more_concurrent_wallets(rt: Regtest, fault: str | None) -> None:
    seed = 3000 if fault is None else 10_000
    elapsed = run_load(rt, funded_load(rt, STRESS, seed), electrum_fault=fault)
    print(f"{STRESS} wallets ({fault or 'clean'}) in {elapsed:.2f} s")
