"""The async contract over the in-process memory:// plugin: AsyncClient, connect_async,
the async driver, AsyncBackendChain, wrapper plugins timing awaited work, cancellation.

Ground truth: the fixture wallet's expected balance and transactions (computed by LWK) and
the blocking client's Update on the same chain. Each test runs its own event loop
(`asyncio.run`), which closes it and its executor: pending tasks and unawaited coroutines
show up as warnings, errors under the suite's `-W error` runs.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Generator, Sequence
from typing import Any

import pytest
from lwk_memory_backend import AsyncMemoryBackend, MemoryChain, MemoryClient, register_chain
from shared_data import load_fixture, unique_name

from lwk_core import (
    AllBackendsFailed,
    AsyncBackendChain,
    AsyncClient,
    DecodeError,
    Network,
    PluginError,
    Update,
    Wollet,
    connect_async,
)
from lwk_core._transaction import Transaction
from lwk_core.plugin import hookimpl, register_plugin, when_done
from lwk_core.plugin.manager import get_plugin_manager

FIXTURE = load_fixture("liquid-testnet-wallet.json")
EXPECTED = FIXTURE["steps"][1]["expected"]
NET = Network.LIQUID_TESTNET


@pytest.fixture(scope="module")
def chain_name() -> str:
    chain = MemoryChain(NET)
    for txid in FIXTURE["steps"][1]["txids"]:
        entry = FIXTURE["transactions"][txid]
        chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])
    name = unique_name("async")
    register_chain(name, chain)
    return name


@pytest.fixture(scope="module")
def blocking_update(chain_name: str) -> Update:
    update = MemoryClient(chain_name, NET).full_scan(_wollet())
    assert update is not None
    return update


def _wollet() -> Wollet:
    return Wollet(NET, FIXTURE["descriptor"])


def _assert_fixture_wallet(update: Update | None) -> None:
    """The wallet after `update` is the one LWK computed for the fixture's step."""
    assert update is not None
    wollet = _wollet()
    wollet.apply_update(update)
    assert dict(wollet.balance()) == EXPECTED["balance"]
    assert {t.txid: t.fee for t in wollet.transactions()} == {
        t["txid"]: t["fee"] for t in EXPECTED["transactions"]
    }


def _backend(client: AsyncClient) -> AsyncMemoryBackend:
    assert isinstance(client.connection, AsyncMemoryBackend)
    return client.connection


def test_async_scan_equals_lwk_and_the_blocking_client(
    chain_name: str, blocking_update: Update
) -> None:
    async def main() -> Update | None:
        async with connect_async(f"memory://{chain_name}", NET) as client:
            assert type(client) is AsyncClient
            return await client.full_scan(_wollet())

    update = asyncio.run(main())
    _assert_fixture_wallet(update)
    assert update == blocking_update


def test_one_async_client_serves_concurrent_scans(chain_name: str, blocking_update: Update) -> None:
    async def main() -> tuple[list[Update | None], int]:
        async with connect_async(f"memory://{chain_name}", NET) as client:
            _backend(client).faults["latency"] = 0.02
            scans = await asyncio.gather(*(client.full_scan(_wollet()) for _ in range(8)))
            return scans, _backend(client).most_waiting

    updates, most_waiting = asyncio.run(main())
    assert updates == [blocking_update] * 8
    assert most_waiting == 8  # every scan's first request was in flight at once


def test_async_lookups_are_checked_like_blocking_ones(chain_name: str) -> None:
    txid = FIXTURE["steps"][1]["txids"][0]

    async def main() -> tuple[str, int]:
        async with connect_async(f"memory://{chain_name}", NET) as client:
            tx = await client.get_tx(txid)
            tip = await client.tip()
            await client.ping()
            _backend(client).faults["wrong_tx"] = True
            with pytest.raises(Exception, match="hashing to"):
                await client.get_tx(txid)
            return tx.txid, tip.height

    got_txid, height = asyncio.run(main())
    assert got_txid == txid
    assert height == max(FIXTURE["transactions"][t]["height"] or 0 for t in FIXTURE["transactions"])


def test_close_is_awaited_through_the_hook(chain_name: str) -> None:
    async def main() -> int:
        client = connect_async(f"memory://{chain_name}", NET)
        async with client:
            await client.tip()
        return _backend(client).closed

    assert asyncio.run(main()) == 1


def test_connect_async_refuses_a_plugin_without_an_async_flavour() -> None:
    blocking_only = BlockingOnly()
    register_plugin(blocking_only, name="blocking-only")
    try:
        with pytest.raises(PluginError, match=r"blocking:// offers no async backend"):
            connect_async("blocking://x", NET)
    finally:
        get_plugin_manager().unregister(blocking_only)


class BlockingOnly:
    """A plugin written before async backends: its lwk_connect takes no `asynchronous`."""

    @hookimpl
    def lwk_schemes(self) -> list[str]:
        return ["blocking"]

    @hookimpl
    def lwk_connect(self, url: str) -> object:
        return MemoryClient.__new__(MemoryClient)  # a blocking Client (never used)


# -- failover ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "faults",
    [{"refuse": True}, {"hang": True}, {"garbage": True}, {"wrong_tx": True}, {"die_after": 3}],
    ids=["refuse", "hang", "garbage", "wrong-tx", "dies-mid-scan"],
)
def test_async_chain_fails_over_from_a_dead_first_backend(
    chain_name: str, blocking_update: Update, faults: dict[str, object]
) -> None:
    url = f"memory://{chain_name}"

    async def main() -> tuple[Update | None, list[str]]:
        async with AsyncBackendChain([url, url], network=NET, timeout=0.2) as chain:
            bad = _backend(chain.backends[0])
            bad.faults.update(faults)
            return await chain.full_scan(_wollet()), bad.calls

    update, bad_calls = asyncio.run(main())
    assert update == blocking_update
    assert bad_calls  # the dead backend was tried first


def test_async_chain_reports_every_cause_when_all_fail(chain_name: str) -> None:
    url = f"memory://{chain_name}"

    async def main() -> None:
        async with AsyncBackendChain([url, url], network=NET) as chain:
            for client in chain.backends:
                _backend(client).faults["refuse"] = True
            await chain.tip()

    with pytest.raises(AllBackendsFailed) as failed:
        asyncio.run(main())
    assert len(failed.value.causes) == 2


# -- wrapper plugins ---------------------------------------------------------------------


class AwaitTimer:
    """A wrapper timing each call with `when_done`, and naively around the owner's answer."""

    def __init__(self) -> None:
        self.awaited: list[tuple[str, float, bool]] = []
        self.created: list[float] = []

    def _timed(self, hook: str) -> Generator[None, Any, Any]:
        started = time.perf_counter()

        def done(failed: bool) -> None:
            self.awaited.append((hook, time.perf_counter() - started, failed))

        return (yield from when_done(done))

    @hookimpl(wrapper=True)
    def lwk_tip(self) -> Generator[None, Any, Any]:
        return (yield from self._timed("tip"))

    @hookimpl(wrapper=True)
    def lwk_scan_scripts(self, scripts: Sequence[bytes]) -> Generator[None, Any, Any]:
        started = time.perf_counter()
        try:
            return (yield from self._timed("scan_scripts"))
        finally:
            self.created.append(time.perf_counter() - started)


def test_wrapper_times_the_awaited_work_not_the_coroutine_creation(chain_name: str) -> None:
    timer = AwaitTimer()
    register_plugin(timer, name="await-timer")

    async def main() -> list[str]:
        async with connect_async(f"memory://{chain_name}", NET) as client:
            _backend(client).faults["latency"] = 0.05
            await client.full_scan(_wollet())
            _backend(client).faults["refuse"] = True
            with pytest.raises(Exception, match="refused"):
                await client.tip()
            return _backend(client).calls

    try:
        calls = asyncio.run(main())
    finally:
        get_plugin_manager().unregister(timer)
    timed = [(hook, failed) for hook, _, failed in timer.awaited]
    last = len(calls) - 1
    assert timed == [(c, i == last) for i, c in enumerate(calls) if c in ("tip", "scan_scripts")]
    assert all(seconds >= 0.05 for _, seconds, _ in timer.awaited)
    # around the yield alone, a wrapper sees only the coroutine being made
    assert timer.created and all(seconds < 0.05 for seconds in timer.created)


# -- cancellation ------------------------------------------------------------------------


def test_cancelled_scans_leave_client_usable_and_wallet_unchanged(
    chain_name: str, blocking_update: Update
) -> None:
    rng = random.Random(17)

    async def main() -> Update | None:
        wollet = _wollet()
        before = wollet.state
        async with connect_async(f"memory://{chain_name}", NET) as client:
            _backend(client).faults["latency"] = 0.01
            for _ in range(15):
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(rng.uniform(0.0, 0.03)):
                        await client.full_scan(wollet)
                assert wollet.state is before
            task = asyncio.create_task(client.full_scan(wollet))
            await asyncio.sleep(rng.uniform(0.0, 0.02))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert wollet.state is before
            assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            return await client.full_scan(wollet)

    assert asyncio.run(main()) == blocking_update


def test_undecodable_broadcast_is_refused_before_anything_is_sent(chain_name: str) -> None:
    async def main() -> list[str]:
        async with connect_async(f"memory://{chain_name}", NET) as client:
            with pytest.raises(DecodeError):
                await client.broadcast(b"\x00\x01")
            return _backend(client).calls

    assert asyncio.run(main()) == []
