"""A monitor over an Electrum client syncs only the wallets something changed.

200 wallets followed by `Monitor` / `AsyncMonitor` through one Electrum client (rounds
driven by `round()`, no threads): after a payment to one of them, the next round scans
that wallet alone (the others' scripts got no new status from the server) and yields its
events alone; a round with nothing new scans no wallet and sends the server no request;
a new block, a reorg and a reconnect make every wallet sync again, and each then holds
the chain's tip; a chain whose first backend dies syncs every wallet through the next one,
whose pushes then decide alone.

Ground truth: the txid the faucet paid, the regtest chain's tip, the server's request
counter, and the count of `scan_wallet` calls (the engine runs once per call).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from counting import AsyncCountingScans, CountingScans
from following import WAIT
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_oracle import new_wallet
from lwk_regtest import Regtest

from lwk_core import (
    AsyncMonitor,
    BackendChain,
    BalanceChanged,
    Chain,
    Monitor,
    Network,
    NewTip,
    NewTx,
    TxConfirmed,
    WalletEvent,
    Wollet,
)

POLICY = Network.ELEMENTS_REGTEST.policy_asset
WALLETS = 200
Pair = tuple[Wollet, WalletEvent]


class CountingClient(CountingScans, ElectrumClient):
    pass


class AsyncCountingClient(AsyncCountingScans, AsyncElectrumClient):
    pass


class Driver:
    """One monitor form over one counting client: `round()` and `wait_push()` blocking."""

    def __init__(self, rt: Regtest, form: str, wollets: list[Wollet]) -> None:
        self.loop = asyncio.new_event_loop() if form == "async" else None
        if self.loop is None:
            self.client: Any = CountingClient.from_url(rt.electrum_url, network=rt.network)
            self.monitor: Any = Monitor(self.client, wollets)
        else:
            self.client = AsyncCountingClient.from_url(rt.electrum_url, network=rt.network)
            self.monitor = AsyncMonitor(self.client, wollets)

    def run(self, call: Callable[[], Any]) -> Any:
        return call() if self.loop is None else self.loop.run_until_complete(call())

    def round(self) -> list[Pair]:
        pairs: list[Pair] = self.run(self.monitor.round)
        return pairs

    def wait_push(self, seen: int) -> None:
        assert self.run(lambda: self.client.wait_for_notification(seen, WAIT))

    def close(self) -> None:
        self.run(self.client.close)
        if self.loop is not None:
            self.loop.close()


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


def requests(rt: Regtest) -> int:
    return sum(rt.electrum_server.requests.values())


def tips(wollets: list[Wollet]) -> set[tuple[int, str] | None]:
    return {None if w.tip() is None else (w.tip().height, w.tip().hash) for w in wollets}


@pytest.mark.parametrize("form", ["blocking", "async"])
def test_a_round_scans_only_the_wallets_something_changed(rt: Regtest, form: str) -> None:
    wollets = [
        Wollet(rt.network, new_wallet(f"skips {form} {i}").descriptor) for i in range(WALLETS)
    ]
    driver = Driver(rt, form, wollets)
    try:
        first = driver.round()
        assert driver.client.scans == WALLETS
        assert {w for w, _ in first} == set(wollets)
        chain_tip = (rt.tip_height(), rt.chain.tip_hash())
        assert tips(wollets) == {chain_tip}

        paid = wollets[7]
        seen = driver.client.notifications
        txid = rt.faucet(paid.descriptor.address(Chain.EXTERNAL, 3, rt.network), 21_000)
        driver.wait_push(seen)  # the server pushed the new status of one script of `paid`
        assert driver.round() == [
            (paid, NewTx(txid, None, {POLICY: 21_000})),
            (paid, BalanceChanged(POLICY, 0, 21_000)),
        ]
        assert driver.client.scans == WALLETS + 1

        before = requests(rt)
        assert driver.round() == []  # nothing new: no scan, no request
        assert (driver.client.scans, requests(rt)) == (WALLETS + 1, before)

        seen = driver.client.notifications
        [block] = rt.mine(1)
        driver.wait_push(seen)  # a new tip: every wallet syncs and follows it
        height = rt.tip_height()
        pairs = driver.round()
        assert driver.client.scans == 2 * WALLETS + 1
        assert tips(wollets) == {(height, block)}
        assert (paid, TxConfirmed(txid, height)) in pairs
        assert {w for w, e in pairs if isinstance(e, NewTip)} == set(wollets)

        seen = driver.client.notifications
        rt.reorg(1, same_heights=True)  # `paid`'s tx at the same height: the same status
        assert rt.chain.block_hash(height) != block
        driver.wait_push(seen)
        driver.round()
        assert driver.client.scans == 3 * WALLETS + 1
        assert tips(wollets) == {(rt.tip_height(), rt.chain.tip_hash())}
        assert paid.transactions()[0].height == height

        rt.electrum_server.disconnect_all()  # subscriptions lost: the next round reconnects
        driver.round()
        assert driver.client.scans == 4 * WALLETS + 1
        assert driver.round() == []
        assert driver.client.scans == 4 * WALLETS + 1
    finally:
        driver.close()


def test_a_chain_that_fails_over_syncs_every_wallet_then_skips_by_its_new_backend() -> None:
    """The statuses of a backend that died tell nothing: every wallet syncs through the
    chain's next backend, whose pushes then decide alone."""
    with Regtest() as rt:
        wollets = [Wollet(rt.network, new_wallet(f"failover {i}").descriptor) for i in range(30)]
        first = CountingClient.from_url(rt.electrum_url, network=rt.network)
        second = CountingClient.from_url(
            rt.electrum_ssl_url,
            network=rt.network,
            validate_domain=False,
            cert_fingerprint=rt.cert_fingerprint,
        )
        chain = BackendChain([first, second])
        monitor = Monitor(chain, wollets)
        try:
            monitor.round()
            assert monitor.round() == []
            assert (first.scans, second.scans) == (30, 0)

            rt.electrum_server.stop()  # the first backend dies: every wallet fails over
            pairs = monitor.round()
            assert second.scans == 30 and first.scans >= 30
            assert pairs == [] and tips(wollets) == {(rt.tip_height(), rt.chain.tip_hash())}
            assert monitor.round() == [] and second.scans == 30

            paid, seen = wollets[3], second.notifications
            txid = rt.faucet(paid.descriptor.address(Chain.EXTERNAL, 0, rt.network), 5_000)
            assert second.wait_for_notification(seen, WAIT)
            assert monitor.round() == [
                (paid, NewTx(txid, None, {POLICY: 5_000})),
                (paid, BalanceChanged(POLICY, 0, 5_000)),
            ]
            assert second.scans == 31
        finally:
            chain.close()
