"""A monitor over an Electrum client syncs only the wallets something changed.

200 wallets followed by `Monitor` / `AsyncMonitor` through one Electrum client (rounds
driven by `round()`, no threads): after a payment to one of them, the next round scans
that wallet alone (the others' scripts got no new status from the server) and yields its
events alone; a round with nothing new scans no wallet and sends the server no request;
a new block, a reorg and a reconnect make every wallet sync again, and each then holds
the chain's tip.

Ground truth: the txid the faucet paid, the regtest chain's tip, the server's request
counter, and the count of `scan_wallet` calls (the engine runs once per call).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import pytest
from following import WAIT
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_oracle import new_wallet
from lwk_regtest import Regtest

from lwk_core import (
    AsyncMonitor,
    BalanceChanged,
    Chain,
    Monitor,
    Network,
    NewTip,
    NewTx,
    TxConfirmed,
    Update,
    WalletEvent,
    Wollet,
)
from lwk_core._transaction import Transaction

POLICY = Network.ELEMENTS_REGTEST.policy_asset
WALLETS = 200
Pair = tuple[Wollet, WalletEvent]


class CountingClient(ElectrumClient):
    scans = 0

    def scan_wallet(self, wollet: Wollet, **kw: Any) -> Update | None:
        self.scans += 1
        return super().scan_wallet(wollet, **kw)


class AsyncCountingClient(AsyncElectrumClient):
    scans = 0

    async def scan_wallet(
        self, wollet: Wollet, *, tx_cache: MutableMapping[str, Transaction] | None = None, **kw: Any
    ) -> Update | None:
        self.scans += 1
        return await super().scan_wallet(wollet, tx_cache=tx_cache, **kw)


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
