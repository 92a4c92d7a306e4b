"""`Monitor` and `AsyncMonitor` through one Electrum client on a server that lets a
connection subscribe at most 100 scripts (issue 18: "a 1,000-wallet monitor still syncs
correctly"): every wallet converges to what the faucet paid it, the server never holds
more than 100 subscriptions on the connection, and a payment made while the monitor runs
arrives as events. The default suite runs 50 wallets (about 3,000 scripts: 30 times the
cap); the slow one 1,000.

Ground truth: first principles. `Regtest.fund_wallet` pays `sats + i` for i in 0..4 to
each wallet (the funding of `benchmarks._many`), so each balance is 5 * sats + 10.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from following import WAIT, Following
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_oracle import new_wallet
from lwk_regtest import Regtest
from test_monitor import POLICY, Pair, _take, pairs, pay

from lwk_core import AsyncMonitor, Monitor, Network, Wollet

CAP = 100
TXS = 5
SATS = 10_000


def funded_wallets(rt: Regtest, count: int) -> list[Wollet]:
    """`count` fresh wallets, each paid TXS confirmed payments over two addresses."""
    descriptors = [new_wallet(f"capped monitor {i}").descriptor for i in range(count)]
    for text in descriptors:
        rt.fund_wallet(text, TXS, n_addresses=2, txs_per_block=50, sats=SATS)
    rt.mine(1)
    return [Wollet(Network.ELEMENTS_REGTEST, text) for text in descriptors]


def check_converged(rt: Regtest, wollets: list[Wollet]) -> None:
    paid = TXS * SATS + sum(range(TXS))
    assert [dict(w.balance()) for w in wollets] == [{POLICY: paid}] * len(wollets)
    assert [len(w.transactions()) for w in wollets] == [TXS] * len(wollets)
    assert rt.request_counts()["electrum"]["peak_subscriptions"] == CAP


def async_monitor_under_the_cap(count: int) -> None:
    with Regtest(electrum_max_subscriptions=CAP) as rt:
        wollets = funded_wallets(rt, count)
        target = wollets[-1]

        async def main() -> None:
            async with AsyncElectrumClient.from_url(rt.electrum_url) as client:
                monitor = AsyncMonitor(client, wollets, interval=1.0)
                await monitor.round()
                check_converged(rt, wollets)
                events: AsyncIterator[Pair] = monitor.events()
                async with contextlib.aclosing(events):  # type: ignore[type-var]
                    paid = await asyncio.to_thread(pay, rt, target, 21_000)
                    got = await asyncio.wait_for(_take(events, 2), WAIT)
                    assert got == pairs(target, paid, 21_000)
                assert rt.request_counts()["electrum"]["peak_subscriptions"] == CAP

        asyncio.run(main())


def test_an_async_monitor_of_50_wallets_under_a_cap_of_100() -> None:
    async_monitor_under_the_cap(50)


@pytest.mark.slow
def test_an_async_monitor_of_1000_wallets_under_a_cap_of_100() -> None:
    async_monitor_under_the_cap(1000)


def test_a_blocking_monitor_of_50_wallets_under_a_cap_of_100() -> None:
    with Regtest(electrum_max_subscriptions=CAP) as rt:
        wollets = funded_wallets(rt, 50)
        target = wollets[-1]
        with ElectrumClient.from_url(rt.electrum_url) as client:
            monitor = Monitor(client, wollets, interval=1.0)
            monitor.round()
            check_converged(rt, wollets)
            following = Following(monitor.events, "test-monitor-capped")
            try:
                paid = pay(rt, target, 21_000)
                assert following.take(2) == pairs(target, paid, 21_000)
            finally:
                following.stop(lambda: rt.mine(1))  # an event, so that the monitor stops
            assert rt.request_counts()["electrum"]["peak_subscriptions"] == CAP
