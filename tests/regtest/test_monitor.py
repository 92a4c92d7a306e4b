"""`Monitor` and `AsyncMonitor` on the embedded chain, through a chain of an Electrum
backend (pushes) and an Esplora one (polled): 20 funded wallets converge to the balances
LWK (the `lwk` wheel, the oracle) finds for each; then payments made while the monitor
runs arrive as `(wollet, event)` in the order they were made, a wallet added while it
runs is followed, a removed one is not, a wallet whose updates fail stops none of the
others, and events keep coming after the Electrum server is killed.

Ground truth: LWK's scan of each wallet, and what the test paid. Each step waits for its
events before the next one, so the expected lists are exact; nothing depends on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from following import WAIT, Following
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_esplora import AsyncEsploraClient, EsploraClient
from lwk_oracle import LwkWallet, new_wallet
from lwk_regtest import Regtest

from lwk_core import (
    AsyncBackendChain,
    AsyncMonitor,
    BackendChain,
    BalanceChanged,
    Chain,
    Monitor,
    Network,
    NewTx,
    Update,
    UpdateError,
    WalletEvent,
    Wollet,
)

POLICY = Network.ELEMENTS_REGTEST.policy_asset
WALLETS = 20
Pair = tuple[Wollet, WalletEvent]


class RefusingWollet(Wollet):
    """A wallet whose every update fails (as a wallet whose store cannot save would)."""

    def apply_update(self, update: Update) -> list[WalletEvent]:
        raise UpdateError("this wallet refuses every update")


@pytest.fixture
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


def funded(rt: Regtest, name: str) -> tuple[list[LwkWallet], list[Wollet]]:
    """WALLETS - 1 wallets paid 1 to 3 confirmed payments each, and a refusing one."""
    oracles = [new_wallet(f"{name} {i}") for i in range(WALLETS)]
    for i, oracle in enumerate(oracles):
        rt.fund_wallet(oracle.descriptor, i % 3 + 1, n_addresses=2, txs_per_block=50)
    rt.mine(1)
    wollets = [Wollet(rt.network, o.descriptor) for o in oracles[:-1]]
    return oracles, [*wollets, RefusingWollet(rt.network, oracles[-1].descriptor)]


def check_first_round(rt: Regtest, oracles: list[LwkWallet], wollets: list[Wollet]) -> None:
    for oracle, wollet in zip(oracles[:-1], wollets[:-1], strict=True):
        oracle.scan(rt.electrum_url)
        assert {a: v for a, v in wollet.balance().items() if v} == oracle.balance()
        assert {t.txid for t in wollet.transactions()} == set(oracle.ledger())
    assert wollets[-1].tip() is None  # the refusing wallet: nothing applied


def scenario(
    rt: Regtest,
    wollets: list[Wollet],
    take: Callable[[int], list[Pair]],
    add: Callable[[Wollet], None],
    remove: Callable[[Wollet], None],
) -> None:
    """Payments while the monitor runs; `take(n)` returns its next n pairs."""
    first, second = wollets[0], wollets[1]
    paid = pay(rt, first, 21_000)
    assert take(2) == pairs(first, paid, 21_000)
    paid = pay(rt, second, 22_000)
    assert take(2) == pairs(second, paid, 22_000)

    late = Wollet(rt.network, new_wallet("monitor late").descriptor)
    add(late)
    paid = pay(rt, late, 23_000)  # its first sync, or the next, finds it
    got = take(3)
    assert [w for w, _ in got] == [late] * 3 and got[1:] == pairs(late, paid, 23_000)

    remove(first)
    pay(rt, first, 24_000)  # not followed any more: no event
    paid = pay(rt, second, 25_000)
    assert take(2) == pairs(second, paid, 25_000)

    rt.electrum_server.stop()  # the chain's first backend dies: Esplora carries on
    paid = pay(rt, late, 26_000)
    assert take(2) == pairs(late, paid, 26_000)


def pay(rt: Regtest, wollet: Wollet, sats: int) -> str:
    return rt.faucet(wollet.descriptor.address(Chain.EXTERNAL, 5, rt.network), sats)


def pairs(wollet: Wollet, txid: str, sats: int) -> list[Pair]:
    before = wollet.balance().btc_balance() - sats  # the events are the wallet's changes
    return [
        (wollet, NewTx(txid, None, {POLICY: sats})),
        (wollet, BalanceChanged(POLICY, before, before + sats)),
    ]


def test_blocking_monitor(rt: Regtest) -> None:
    oracles, wollets = funded(rt, "monitor blocking")
    chain = BackendChain(
        [ElectrumClient.from_url(rt.electrum_url), EsploraClient(rt.esplora_url, rt.network)]
    )
    monitor = Monitor(chain, wollets, interval=1.0)
    events = monitor.round()
    check_first_round(rt, oracles, wollets)
    assert {w for w, _ in events} == set(wollets[:-1])

    following = Following(monitor.events, "test-monitor")
    try:
        scenario(rt, wollets, following.take, monitor.add, monitor.remove)
    finally:
        following.stop(lambda: rt.mine(1))  # an event, so that the monitor stops
        chain.close()
    assert wollets[0] not in monitor.wollets() and wollets[-1] in monitor.wollets()
    assert wollets[-1].tip() is None


def test_async_monitor(rt: Regtest) -> None:
    oracles, wollets = funded(rt, "monitor async")

    async def main() -> None:
        chain = AsyncBackendChain(
            [
                AsyncElectrumClient.from_url(rt.electrum_url),
                AsyncEsploraClient(url=rt.esplora_url, network=rt.network),
            ]
        )
        async with chain:
            monitor = AsyncMonitor(chain, wollets, interval=1.0, concurrency=4)
            events = await monitor.round()
            await asyncio.to_thread(check_first_round, rt, oracles, wollets)
            assert {w for w, _ in events} == set(wollets[:-1])

            pairs: AsyncIterator[Pair] = monitor.events()
            async with contextlib.aclosing(pairs):  # type: ignore[type-var]
                loop = asyncio.get_running_loop()

                def take(n: int) -> list[Pair]:
                    future = asyncio.run_coroutine_threadsafe(_take(pairs, n), loop)
                    return future.result(WAIT)

                def add(wollet: Wollet) -> None:
                    loop.call_soon_threadsafe(monitor.add, wollet)

                def remove(wollet: Wollet) -> None:
                    asyncio.run_coroutine_threadsafe(_call(monitor.remove, wollet), loop).result()

                await asyncio.to_thread(scenario, rt, wollets, take, add, remove)
        assert wollets[-1].tip() is None

    asyncio.run(main())


async def _take(pairs: AsyncIterator[Pair], n: int) -> list[Pair]:
    return [await anext(pairs) for _ in range(n)]


async def _call(function: Callable[[Wollet], object], wollet: Wollet) -> None:
    function(wollet)


def shared_payment(rt: Regtest) -> tuple[Wollet, Wollet]:
    """Two fresh wallets and three transactions: a faucet payment to the first, and a
    spend of it paying the second with change back to the first (in both histories)."""
    payer, payee = new_wallet("monitor payer"), new_wallet("monitor payee")
    wollet = Wollet(rt.network, payer.descriptor)
    rt.faucet(payer.address(0), 100_000)
    rt.mine(1)
    Monitor(ElectrumClient.from_url(rt.electrum_url), [wollet]).round()
    (utxo,) = wollet.utxos()
    change = payer.address(0, Chain.INTERNAL)
    rt.spend([(utxo.outpoint, utxo.unblinded)], payee.address(0), 30_000, change_address=change)
    return Wollet(rt.network, payer.descriptor), Wollet(rt.network, payee.descriptor)


def tx_gets(rt: Regtest) -> int:
    return int(rt.request_counts()["electrum"]["methods"].get("blockchain.transaction.get", 0))


def test_a_round_fetches_a_transaction_shared_by_two_wallets_once(rt: Regtest) -> None:
    """The spend is in both wallets' histories: a round of both asks the server for the
    two distinct transactions, where the two wallets synced apart ask for three."""
    payer, payee = shared_payment(rt)
    with ElectrumClient.from_url(rt.electrum_url) as client:
        before = tx_gets(rt)
        Monitor(client, [payer, payee]).round()
        assert tx_gets(rt) - before == 2
        assert len(payer.transactions()) == 2 and len(payee.transactions()) == 1

        apart = [Wollet(rt.network, w.descriptor) for w in (payer, payee)]
        before = tx_gets(rt)
        for wollet in apart:
            Monitor(client, [wollet]).round()
        assert tx_gets(rt) - before == 3


@pytest.mark.parametrize("concurrency", [1, 2])
def test_an_async_round_shares_its_transactions_too(rt: Regtest, concurrency: int) -> None:
    """An async round fetches the shared spend once too: one wallet at a time (from the
    round's cache), and both scanned at once (the second scan awaits the first one's fetch
    in flight, or finds it in the cache: either way the server is asked once)."""
    payer, payee = shared_payment(rt)

    async def main() -> int:
        async with AsyncElectrumClient.from_url(rt.electrum_url) as client:
            before = tx_gets(rt)
            await AsyncMonitor(client, [payer, payee], concurrency=concurrency).round()
            return tx_gets(rt) - before

    assert asyncio.run(main()) == 2
    assert len(payer.transactions()) == 2 and len(payee.transactions()) == 1
