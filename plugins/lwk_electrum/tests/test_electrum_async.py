"""AsyncElectrumClient against the embedded regtest server: the blocking client's results,
its requests, its reconnects and TLS rules, on asyncio streams; cancellation at random points.

Ground truth: LWK's own client on the same wallets and server, the faucet's payments, and
the request counts of the blocking client (the two share one protocol core, so the async
flavour must ask exactly what the blocking one asks). Each test runs its own event loop
(`asyncio.run`), which reports tasks left pending; unclosed transports show up as
ResourceWarnings, which `no_leaks` turns into failures.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import lwk
import pytest
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_regtest import Regtest
from regtest_wallets import SERVER_FAULTS, address, descriptor, lwk_view, our_view

from lwk_core import (
    BackendConnectError,
    BackendError,
    BroadcastRejected,
    Network,
    Update,
    Wollet,
    connect_async,
)
from lwk_core._transaction import Transaction

T = TypeVar("T")
MARGIN = 0.5


pytestmark = pytest.mark.usefixtures("no_faults")


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """The test leaves no open file descriptor (socket) and no ResourceWarning behind (the
    server threads close their ends of the connections a moment after the client)."""
    gc.collect()
    before = _open_fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    assert [str(w.message) for w in caught] == []
    end = time.monotonic() + 2.0
    while _open_fds() > before and time.monotonic() < end:
        time.sleep(0.01)
    assert _open_fds() <= before


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def blocking_scan(rt: Regtest, wollet: Wollet) -> Wollet:
    """A fresh copy of `wollet` synced by the blocking client."""
    with ElectrumClient.from_url(rt.electrum_url) as client:
        return applied(fresh(wollet), client.full_scan(wollet))


def arun(main: Callable[[], Awaitable[T]]) -> T:
    async def wrapped() -> T:
        return await main()

    return asyncio.run(wrapped())


def requests(rt: Regtest) -> Counter[str]:
    return Counter(rt.electrum_server.requests)


def funded(rt: Regtest, name: str) -> Wollet:
    """A wallet with payments over several blocks, an issued asset and an unconfirmed one."""
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor(name))
    for i in range(5):
        rt.faucet(address(wollet, i * 3), 10_000 + i)
        if i % 2:
            rt.mine(1)
    rt.issue_asset(2_500, address(wollet, 21))
    rt.mine(1)
    rt.faucet(address(wollet, 4), 4_444)
    return wollet


def applied(wollet: Wollet, update: Update | None) -> Wollet:
    if update is not None:
        wollet.apply_update(update)
    return wollet


def fresh(wollet: Wollet) -> Wollet:
    return Wollet(Network.ELEMENTS_REGTEST, str(wollet.descriptor))


# -- the blocking client's and LWK's results -------------------------------------------------


def test_full_scan_equals_blocking_and_lwk(rt: Regtest, no_leaks: None) -> None:
    wollet = funded(rt, "async same")

    async def main() -> Update | None:
        async with AsyncElectrumClient(rt.electrum_url.split("://")[1], False, True) as client:
            return await client.full_scan(fresh(wollet))

    ours = applied(fresh(wollet), arun(main))
    blocking = blocking_scan(rt, wollet)
    text = str(wollet.descriptor)
    theirs = lwk.Wollet(lwk.Network.regtest_default(), lwk.WolletDescriptor(text), None)
    theirs.apply_update(lwk.ElectrumClient.from_url(rt.electrum_url).full_scan(theirs))
    gc.collect()  # LWK's client closes its connection when collected

    assert our_view(ours) == our_view(blocking)
    assert ours.state == blocking.state
    mine, lwks = our_view(ours), lwk_view(theirs)
    assert mine["balance"] == lwks["balance"]
    assert mine["utxos"] == lwks["utxos"]
    assert sorted(mine["txs"], key=str) == sorted(lwks["txs"], key=str)
    assert len(mine["txs"]) == 7
    assert sum(1 for t in mine["txs"] if t[1] is None) == 1


def test_same_requests_as_blocking_and_the_status_cache(rt: Regtest, no_leaks: None) -> None:
    wollet = funded(rt, "async requests")
    rt.mine(1)
    before = requests(rt)
    blocking_scan(rt, wollet)
    expected = requests(rt) - before

    async def main() -> tuple[Counter[str], Counter[str], Counter[str]]:
        async with AsyncElectrumClient.from_url(rt.electrum_url) as client:
            ours = fresh(wollet)
            before = requests(rt)
            applied(ours, await client.full_scan(ours))
            first = requests(rt) - before
            before = requests(rt)
            assert await client.full_scan(ours) is None
            unchanged = requests(rt) - before
            rt.faucet(address(ours, 3), 3_000)
            before = requests(rt)
            update = await client.full_scan(ours)
            assert update is not None and len(update.new_txs) == 1
            return first, unchanged, requests(rt) - before

    first, unchanged, one_more = arun(main)
    assert first == expected
    # A subscription per script scanned (external 0-59: a used index in each of the first two
    # batches of 20, then a batch without; internal 0-19), a history per used script only
    # (external 0, 3, 6, 9, 12, 21 and 4).
    assert first["blockchain.scripthash.subscribe"] == 60 + 20
    assert first["blockchain.scripthash.get_history"] == 7
    # Nothing new: every status is current (pushed if it changed), the tip kept from its
    # subscription: no request at all.
    assert unchanged == {}
    # The paid script's status was pushed: its history and the new transaction.
    assert one_more == {"blockchain.scripthash.get_history": 1, "blockchain.transaction.get": 1}


def paid_wallets(rt: Regtest, name: str, count: int, sats: int) -> list[Wollet]:
    """`count` wallets, the i-th paid `sats + i` at its address i, confirmed."""
    wallets = [Wollet(Network.ELEMENTS_REGTEST, descriptor(f"{name} {i}")) for i in range(count)]
    for i, wollet in enumerate(wallets):
        rt.faucet(address(wollet, i), sats + i)
    rt.mine(1)
    return wallets


def test_concurrent_scans_share_one_connection(rt: Regtest, no_leaks: None) -> None:
    wallets = paid_wallets(rt, "async many", 6, 1_000)
    expected = [our_view(blocking_scan(rt, w)) for w in wallets]

    async def main() -> list[dict[str, Any]]:
        async with AsyncElectrumClient.from_url(rt.electrum_url) as client:
            updates = await asyncio.gather(*(client.full_scan(fresh(w)) for w in wallets))
            assert client.connection.rpc.connects == 1
        return [our_view(applied(fresh(w), u)) for w, u in zip(wallets, updates, strict=True)]

    assert arun(main) == expected
    assert [v["balance"] for v in expected] == [
        {rt.network.policy_asset: 1_000 + i} for i in range(6)
    ]


def test_connect_async_and_broadcast(rt: Regtest, no_leaks: None) -> None:
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor("async broadcast"))
    raw = rt.build_payment(address(wollet, 0), 4_321)
    tx = Transaction.from_bytes(raw)

    async def main() -> None:
        async with connect_async(rt.electrum_url, Network.ELEMENTS_REGTEST) as client:
            assert isinstance(client, AsyncElectrumClient)
            assert await client.broadcast(raw) == tx.txid
            assert (await client.get_tx(tx.txid)).size() == len(raw)
            rt.mine(1)
            with pytest.raises(BroadcastRejected) as info:
                await client.broadcast(raw)
            assert info.value.reason == "Transaction already in block chain"
            assert client.connection.rpc.connects == 1

    arun(main)


# -- subscriptions and reconnects --------------------------------------------------------------


def test_tip_follows_pushed_headers_and_reconnects_restore_subscriptions(
    rt: Regtest, no_leaks: None
) -> None:
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor("async reconnect"))

    async def main() -> None:
        async with AsyncElectrumClient.from_url(rt.electrum_url) as client:
            rpc = client.connection.rpc
            applied(wollet, await client.full_scan(wollet))
            old = await client.tip()
            seen = rpc.notifications
            rt.mine(1)
            assert await rpc.wait_for_notification(seen, 5)  # the pushed header
            before = requests(rt)
            assert (await client.tip()).height == old.height + 1 == rt.tip_height()
            assert requests(rt) - before == {}  # kept from the subscription, not asked

            rt.electrum_faults.set("refuse", 1)  # the server drops us at the next request
            with pytest.raises(BackendConnectError):
                await client.ping()
            before = requests(rt)
            await client.ping()
            assert requests(rt) - before == {
                "server.version": 1,
                "blockchain.headers.subscribe": 1,
                "blockchain.scripthash.subscribe": 40,
                "server.ping": 1,
            }
            seen = rpc.notifications
            rt.faucet(address(wollet, 1), 1_000)
            assert await rpc.wait_for_notification(seen, 5)  # pushed on the new connection
            assert rpc.connects == 2

    arun(main)


@pytest.mark.parametrize(("fault", "error"), SERVER_FAULTS)
def test_server_faults_end_in_typed_errors_within_the_timeout(
    rt: Regtest, fault: str, error: type[BackendError], no_leaks: None
) -> None:
    # the hang waits out the timeout; the others must end well before it, even a 32 MiB
    # oversized reply read on a loaded machine (1 s was not always enough there)
    timeout = 1.0 if fault == "hang" else 5.0

    async def main() -> None:
        async with AsyncElectrumClient.from_url(rt.electrum_url, timeout=timeout) as client:
            tip = await client.tip()
            rt.electrum_faults.set(fault, 1)
            start = time.monotonic()
            with pytest.raises(error) as info:
                await client.ping()
            assert time.monotonic() - start < timeout + MARGIN
            assert info.value.backend == rt.electrum_url
            before = requests(rt)
            assert await client.tip() == tip  # the next call reconnects, asks the tip again
            assert requests(rt) - before == {
                "server.version": 1,
                "blockchain.headers.subscribe": 1,
            }
            assert client.connection.rpc.connects == 2

    arun(main)


# -- TLS ---------------------------------------------------------------------------------------


def test_tls_validation_pinning_and_opt_out(
    rt: Regtest, caplog: pytest.LogCaptureFixture, no_leaks: None
) -> None:
    hostport = rt.electrum_ssl_url.split("://")[1]
    with ElectrumClient.from_url(rt.electrum_url) as blocking:
        expected = blocking.tip()

    async def main() -> None:
        async with AsyncElectrumClient(hostport, True, True) as validating:
            with pytest.raises(BackendConnectError, match="certificate"):
                await validating.ping()
        with caplog.at_level(logging.WARNING, logger="lwk_electrum"):
            async with AsyncElectrumClient(hostport, True, False) as unvalidated:
                assert await unvalidated.tip() == expected
        assert [r.levelname for r in caplog.records] == ["WARNING"]
        pin = rt.cert_fingerprint
        async with AsyncElectrumClient.from_url(rt.electrum_ssl_url, cert_fingerprint=pin) as c:
            assert await c.tip() == expected
        wrong = AsyncElectrumClient.from_url(rt.electrum_ssl_url, cert_fingerprint="ab" * 32)
        served = rt.electrum_ssl_faults.requests
        async with wrong:
            with pytest.raises(BackendConnectError, match="pinned"):
                await wrong.ping()
        assert rt.electrum_ssl_faults.requests == served  # not even server.version was sent

    arun(main)


# -- cancellation ------------------------------------------------------------------------------


def test_scans_cancelled_at_random_points_leave_the_client_usable(
    rt: Regtest, no_leaks: None
) -> None:
    wollet = funded(rt, "async cancel")
    rt.mine(1)
    expected = our_view(blocking_scan(rt, wollet))
    # each server write: cancellations land mid-exchange (a scan takes 3 round trips fewer
    # since version, genesis and tip share a burst and the headers go with the transactions:
    # at 0.01 s, fewer than 6 of the random delays below fell within a scan)
    rt.electrum_faults.latency = 0.03
    rng = random.Random(17)

    async def main() -> int:
        cancelled = 0
        async with AsyncElectrumClient.from_url(rt.electrum_url, timeout=5) as client:
            for _ in range(12):
                # Statuses void, as after a reconnect: each scan subscribes again, so it has
                # several exchanges for a cancellation to land in.
                client.connection.rpc.protocol.subscriptions.void()
                ours = fresh(wollet)
                state = ours.state
                task = asyncio.create_task(client.full_scan(ours))
                await asyncio.sleep(rng.uniform(0.0, 0.15))
                if task.cancel():
                    with pytest.raises(asyncio.CancelledError):
                        await task
                    cancelled += 1
                else:
                    assert our_view(applied(ours, task.result())) == expected
                    continue
                assert ours.state == state  # a cancelled scan applied nothing
                assert our_view(applied(ours, await client.full_scan(ours))) == expected
            try:
                async with asyncio.timeout(0.05):
                    await client.full_scan(fresh(wollet))
            except TimeoutError:
                cancelled += 1
            assert our_view(applied(fresh(wollet), await client.full_scan(fresh(wollet)))) == (
                expected
            )
        assert not client.connection.rpc.connected
        return cancelled

    assert arun(main) >= 6


def test_cancelling_some_of_many_concurrent_scans_lets_the_others_finish(
    rt: Regtest, no_leaks: None, no_faults: None
) -> None:
    """The tasks sharing the stream take turns reading it: a cancelled one, whether reading
    or waiting for its turn, hands the turn on, so the scans left finish (within their 5 s
    timeout, or BackendTimeout) with the blocking client's results."""
    wallets = paid_wallets(rt, "async some", 8, 2_000)
    expected = [our_view(blocking_scan(rt, w)) for w in wallets]
    rt.electrum_faults.latency = 0.01  # each server write: cancellations land mid-exchange
    rng = random.Random(29)

    async def main() -> int:
        cancelled = 0
        async with AsyncElectrumClient.from_url(rt.electrum_url, timeout=5) as client:
            for _ in range(4):
                copies = [fresh(w) for w in wallets]
                tasks = [asyncio.create_task(client.full_scan(w)) for w in copies]
                await asyncio.sleep(rng.uniform(0.0, 0.1))
                cancelled += sum(task.cancel() for task in tasks[::2])
                results = await asyncio.gather(*tasks, return_exceptions=True)
                for i in range(1, len(wallets), 2):
                    result = results[i]
                    assert not isinstance(result, BaseException), result
                    assert our_view(applied(copies[i], result)) == expected[i]
        return cancelled

    assert arun(main) >= 4
