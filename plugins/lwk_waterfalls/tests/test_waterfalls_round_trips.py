"""Round trips of a scan, counted by the regtest server (`Faults.round_trips`): a request
sent after a reply was read counts one more round trip, requests sent together count one.

Issue 19's target: the first scan of a 200-tx wallet in at most 4 round trips (the chain
check with the server's recipient, the descriptor, the tip's header, every transaction at
once); a rescan that finds nothing new in one. Where the block signers are known (pinned
for Liquid; the embedded chain's in the test env), block times come from signed headers
instead of the server's entries: 2 more round trips (each block's hash by height, then its
header; Waterfalls entries name no block hash). The server holds every reply until no
request has arrived for a second (`Faults.quiet`): the requests of one round trip then
count once however slowly the client opens its 200 connections, as long as no two of them
arrive over a second apart (they arrive milliseconds apart, tens of milliseconds on a
loaded machine), so the count does not depend on speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from lwk_regtest import Regtest
from lwk_waterfalls import AsyncWaterfallsClient, WaterfallsClient
from shared_data import funded_round_trip_wallet

from lwk_core import Update, Wollet

N_TXS = 200
QUIET = 1.0  # seconds without a request before the server replies: see the docstring


@pytest.fixture(scope="module")
def funded() -> Iterator[tuple[Regtest, str]]:
    with Regtest() as rt:
        yield rt, funded_round_trip_wallet(rt, N_TXS)


def _trips(rt: Regtest) -> tuple[int, int]:
    faults = rt.waterfalls_server.faults
    return faults.round_trips, faults.requests


def _counted(rt: Regtest, scan: Callable[[], object]) -> tuple[int, int]:
    """(round trips, requests) that `scan()` took, the server holding every reply."""
    faults = rt.waterfalls_server.faults
    before = _trips(rt)
    faults.quiet = QUIET
    try:
        scan()
    finally:
        faults.quiet = 0.0
    after = _trips(rt)
    return after[0] - before[0], after[1] - before[1]


def _applied(wollet: Wollet, update: Update | None) -> None:
    assert update is not None
    wollet.apply_update(update)


def test_first_scan_of_200_txs_in_4_round_trips(funded: tuple[Regtest, str]) -> None:
    rt, descriptor = funded
    wollet = Wollet(rt.network, descriptor)
    with WaterfallsClient(rt.waterfalls_url, rt.network, send_descriptor=True) as client:
        client.block_signers = None  # block times as the server's entries give them
        trips, requests = _counted(rt, lambda: _applied(wollet, client.full_scan(wollet)))
        assert len(wollet.transactions()) == N_TXS
        # genesis + recipient, the descriptor's page, the tip's header, 200 transactions
        assert (trips, requests) == (4, 2 + 1 + 1 + N_TXS)
        trips, requests = _counted(rt, lambda: client.full_scan(wollet))
        assert (trips, requests) == (1, 1)  # the descriptor: the tip's header is known


def test_first_scan_with_signed_block_times_in_6_round_trips(
    funded: tuple[Regtest, str],
) -> None:
    rt, descriptor = funded
    wollet = Wollet(rt.network, descriptor)
    with WaterfallsClient(rt.waterfalls_url, rt.network, send_descriptor=True) as client:
        assert client.block_signers is not None  # the embedded chain's, trusted by the env
        trips, requests = _counted(rt, lambda: _applied(wollet, client.full_scan(wollet)))
    heights = {tx.height for tx in wollet.transactions()} - {None}
    assert len(wollet.transactions()) == N_TXS
    # as above, then each confirmation height's block hash, then its header
    assert (trips, requests) == (6, 2 + 1 + 1 + N_TXS + 2 * len(heights))


def test_async_first_scan_of_200_txs_in_4_round_trips(funded: tuple[Regtest, str]) -> None:
    rt, descriptor = funded
    wollet = Wollet(rt.network, descriptor)

    async def scan() -> None:
        async with AsyncWaterfallsClient(
            rt.waterfalls_url, rt.network, send_descriptor=True
        ) as client:
            client.block_signers = None  # as in the blocking test
            _applied(wollet, await client.full_scan(wollet))

    trips, requests = _counted(rt, lambda: asyncio.run(scan()))
    assert len(wollet.transactions()) == N_TXS
    assert (trips, requests) == (4, 2 + 1 + 1 + N_TXS)


def test_a_smaller_concurrency_takes_more_round_trips(funded: tuple[Regtest, str]) -> None:
    """The count is the client's doing: 50 at a time, the 200 transactions take at least
    4 (more when a worker of the pool starts its next request late)."""
    rt, descriptor = funded
    wollet = Wollet(rt.network, descriptor)
    with WaterfallsClient(
        rt.waterfalls_url, rt.network, send_descriptor=True, concurrency=50
    ) as client:
        client.block_signers = None
        trips, _ = _counted(rt, lambda: _applied(wollet, client.full_scan(wollet)))
    assert trips >= 3 + N_TXS // 50
