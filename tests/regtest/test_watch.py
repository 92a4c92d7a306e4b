"""`watch()` on the embedded chain, blocking and async, through a chain of an Electrum
backend (pushes) and an Esplora one (polled): payments, a confirmation, a reorg and an
eviction arrive as events in the order they happened, and keep arriving after the
Electrum server is killed mid-run.

Ground truth: what the test did to the chain (amounts paid, blocks mined and reorged).
Each step waits for its events before the next one, so the expected lists are exact; no
assertion depends on how long anything took.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import warnings
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from following import Following
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_esplora import AsyncEsploraClient, EsploraClient
from lwk_oracle import new_wallet
from lwk_regtest import Regtest

from lwk_core import (
    AsyncBackendChain,
    BackendChain,
    BalanceChanged,
    Chain,
    Network,
    NewTip,
    NewTx,
    TxConfirmed,
    TxDropped,
    TxHeightChanged,
    WalletEvent,
    Wollet,
)

POLICY = Network.ELEMENTS_REGTEST.policy_asset
WAIT = 60.0  # seconds a step may take before the test gives up (not a measurement)


@pytest.fixture
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


def tip(rt: Regtest) -> NewTip:
    return NewTip(rt.tip_height(), rt.chain.tip_hash())


def scenario(rt: Regtest, wollet: Wollet, take: Callable[[int], list[WalletEvent]]) -> None:
    """Drive the chain and check each step's events; `take(n)` returns the next n."""
    assert take(1) == [tip(rt)]  # the first sync of a fresh wallet: only the tip
    paid = []
    total = 0
    for index, sats in enumerate((10_000, 20_000)):
        paid.append(rt.faucet(receive(rt, wollet, index), sats))
        assert take(2) == [NewTx(paid[-1], None, {POLICY: sats}), _bal(total, total + sats)]
        total += sats
        assert wollet.balance().btc_balance() == total  # the events are the wallet's changes

    rt.mine(1)
    mined = rt.tip_height()
    confirmed = [TxConfirmed(txid, mined) for txid in sorted(paid)]
    assert take(3) == [tip(rt), *confirmed]

    rt.reorg(1)  # both confirm again, one block higher
    moved = [TxHeightChanged(txid, mined, mined + 1) for txid in sorted(paid)]
    assert take(3) == [tip(rt), *moved]

    rt.electrum_server.stop()  # the chain's first backend dies: Esplora carries on
    late = rt.faucet(receive(rt, wollet, 2), 7_000)
    assert take(2) == [NewTx(late, None, {POLICY: 7_000}), _bal(total, total + 7_000)]
    rt.evict(late)
    assert take(2) == [TxDropped(late, None), _bal(total + 7_000, total)]
    assert wollet.balance().btc_balance() == total == 30_000


def receive(rt: Regtest, wollet: Wollet, index: int) -> str:
    return wollet.descriptor.address(Chain.EXTERNAL, index, rt.network)


def _bal(old: int, new: int) -> BalanceChanged:
    return BalanceChanged(POLICY, old, new)


def test_blocking_watch_through_a_chain_whose_first_backend_dies(rt: Regtest) -> None:
    wollet = Wollet(rt.network, new_wallet("watch blocking").descriptor)
    chain = BackendChain(
        [ElectrumClient.from_url(rt.electrum_url), EsploraClient(rt.esplora_url, rt.network)]
    )
    following = Following(lambda: chain.watch(wollet, interval=0.2), "test-watch")
    try:
        scenario(rt, wollet, following.take)
    finally:
        last = following.stop(lambda: rt.mine(1))  # an event, so that the watcher stops
        chain.close()
    assert last == tip(rt)


def async_chain(rt: Regtest) -> AsyncBackendChain:
    return AsyncBackendChain(
        [
            AsyncElectrumClient.from_url(rt.electrum_url),
            AsyncEsploraClient(url=rt.esplora_url, network=rt.network),
        ]
    )


@contextlib.contextmanager
def no_leftovers(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """No warning (unclosed transport, coroutine never awaited) and no asyncio error log
    (a task destroyed while pending) while the block runs and after a collection."""
    gc.collect()  # what earlier tests left is theirs
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.ERROR, "asyncio"):
        warnings.simplefilter("always")
        yield
        gc.collect()
    assert [str(w.message) for w in caught] == []
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


def test_async_watch_through_a_chain_whose_first_backend_dies(
    rt: Regtest, caplog: pytest.LogCaptureFixture
) -> None:
    wollet = Wollet(rt.network, new_wallet("watch async").descriptor)

    async def main() -> None:
        async with async_chain(rt) as chain:
            events: AsyncIterator[WalletEvent] = chain.watch(wollet, interval=0.2)
            async with contextlib.aclosing(events):  # type: ignore[type-var]
                loop = asyncio.get_running_loop()

                def take(n: int) -> list[WalletEvent]:
                    # The scenario drives the chain from a thread while this loop watches.
                    future = asyncio.run_coroutine_threadsafe(_take(events, n), loop)
                    return future.result(WAIT)

                await asyncio.to_thread(scenario, rt, wollet, take)
        assert asyncio.all_tasks() == {asyncio.current_task()}

    with no_leftovers(caplog):
        asyncio.run(main())


async def _take(events: AsyncIterator[WalletEvent], n: int) -> list[WalletEvent]:
    return [await anext(events) for _ in range(n)]


def test_cancelling_an_async_watch_leaves_nothing_behind(
    rt: Regtest, caplog: pytest.LogCaptureFixture
) -> None:
    """A watch cancelled while it waits for a push, and one cancelled in its first sync:
    no task or socket is left, and the chain still serves a scan of the same wallet."""
    wollet = Wollet(rt.network, new_wallet("watch cancel").descriptor)
    paid = rt.faucet(receive(rt, wollet, 0), 4_000)

    async def follow(chain: AsyncBackendChain, seen: asyncio.Event) -> None:
        async for _ in chain.watch(wollet):
            seen.set()

    async def main() -> None:
        async with async_chain(rt) as chain:
            seen = asyncio.Event()
            task = asyncio.create_task(follow(chain, seen))
            await seen.wait()  # the first sync is done: the watch waits for a push
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert [t.txid for t in wollet.transactions()] == [paid]

            other = Wollet(rt.network, new_wallet("watch cancel 2").descriptor)
            early = asyncio.create_task(_first(chain.watch(other)))
            await asyncio.sleep(0)  # it starts its first sync, then is cancelled in it
            early.cancel()
            with pytest.raises(asyncio.CancelledError):
                await early
            assert other.tip() is None  # nothing half-applied

            update = await chain.full_scan(other)  # the chain is still usable
            assert update is not None and other.apply_update(update)[0] == tip(rt)
        assert asyncio.all_tasks() == {asyncio.current_task()}

    with no_leftovers(caplog):
        asyncio.run(main())


async def _first(events: AsyncIterator[WalletEvent]) -> WalletEvent:
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        return await anext(events)


def test_async_electrum_watch_is_woken_by_pushes(
    rt: Regtest, caplog: pytest.LogCaptureFixture
) -> None:
    """With an hour between polls, events that come at all came through the server's
    notifications (a payment: its script's; a block: the header's)."""
    wollet = Wollet(rt.network, new_wallet("watch pushes").descriptor)

    async def main() -> None:
        async with AsyncElectrumClient.from_url(rt.electrum_url) as client:
            events = client.watch(wollet, interval=3600.0)
            async with contextlib.aclosing(events):  # type: ignore[type-var]
                async with asyncio.timeout(WAIT):
                    assert await _take(events, 1) == [tip(rt)]
                    paid = await asyncio.to_thread(rt.faucet, receive(rt, wollet, 0), 6_000)
                    assert await _take(events, 2) == [
                        NewTx(paid, None, {POLICY: 6_000}),
                        _bal(0, 6_000),
                    ]
                    await asyncio.to_thread(rt.mine, 1)
                    assert await _take(events, 2) == [tip(rt), TxConfirmed(paid, rt.tip_height())]

    with no_leftovers(caplog):
        asyncio.run(main())
