"""Round trips of an Electrum first scan, counted by the regtest server (`Faults.round_trips`):
requests sent after a reply was read count one more round trip, requests sent together one.

Issue 20: the first scan of a 200-tx wallet (50 addresses paid 4 times, 10 payments a
block; SPV off, as LWK) in 7 round trips: `server.version`, `server.features` and the tip's
subscription in one burst; three discovery rounds (both chains' first batch, then the
histories of its 20 used scripts with no wait for the others; external 20-59, then 30
histories; external 60-79, unused); the 200 transactions with the headers of their blocks.
LWK's client takes more on the same wallet and server. The server holds every reply until
no request has arrived for half a second (`Faults.quiet`), so a burst counts once however
slowly it is written, and the counts do not depend on the machine's speed.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator

import lwk
import pytest
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_regtest import Regtest
from shared_data import funded_round_trip_wallet

from lwk_core import Wollet

N_TXS = 200
QUIET = 0.5  # seconds without a request before the server replies: see the docstring


@pytest.fixture(scope="module")
def funded() -> Iterator[tuple[Regtest, str]]:
    with Regtest() as rt:
        yield rt, funded_round_trip_wallet(rt, N_TXS)


def _counted(rt: Regtest, action: Callable[[], object]) -> tuple[int, dict[str, int]]:
    """(round trips, requests per method) that `action()` took, the server holding replies."""
    faults = rt.electrum_faults
    before = rt.request_counts()["electrum"]
    faults.quiet = QUIET
    try:
        action()
    finally:
        faults.quiet = 0.0
    after = rt.request_counts()["electrum"]
    methods = {
        m: n - before["methods"].get(m, 0)
        for m, n in after["methods"].items()
        if n != before["methods"].get(m, 0)
    }
    return after["round_trips"] - before["round_trips"], methods


def test_first_scan_of_200_txs_in_7_round_trips(funded: tuple[Regtest, str]) -> None:
    rt, descriptor = funded
    wollet = Wollet(rt.network, descriptor)
    with ElectrumClient.from_url(rt.electrum_url, verify_merkle=False) as client:

        def scan() -> None:
            update = client.full_scan(wollet)
            assert update is not None
            wollet.apply_update(update)

        trips, requests = _counted(rt, scan)
        assert len(wollet.transactions()) == N_TXS
        heights = {tx.height for tx in wollet.transactions()}
        assert len(heights) == N_TXS // 10 and max(heights) < rt.tip_height()
        assert requests == {
            "server.version": 1,
            "server.features": 1,
            "blockchain.headers.subscribe": 1,
            "blockchain.scripthash.subscribe": 100,  # external 0-79, internal 0-19
            "blockchain.scripthash.get_history": N_TXS // 4,
            "blockchain.transaction.get": N_TXS,
            "blockchain.block.headers": 1,  # the 20 heights are one range
        }
        assert trips == 7
        assert _counted(rt, lambda: client.full_scan(wollet)) == (0, {})  # all pushed

    theirs = lwk.Wollet(lwk.Network.regtest_default(), lwk.WolletDescriptor(descriptor), None)

    def lwk_scan() -> None:
        lwk_client = lwk.ElectrumClient.from_url(rt.electrum_url)
        theirs.apply_update(lwk_client.full_scan(theirs))
        del lwk_client
        gc.collect()  # LWK's client closes its connection when collected

    lwk_trips, _ = _counted(rt, lwk_scan)
    assert lwk_trips > trips


def test_async_first_scan_of_200_txs_in_7_round_trips(funded: tuple[Regtest, str]) -> None:
    rt, descriptor = funded
    wollet = Wollet(rt.network, descriptor)

    async def scan() -> None:
        async with AsyncElectrumClient.from_url(rt.electrum_url, verify_merkle=False) as client:
            update = await client.full_scan(wollet)
            assert update is not None
            wollet.apply_update(update)

    trips, requests = _counted(rt, lambda: asyncio.run(scan()))
    assert len(wollet.transactions()) == N_TXS
    assert sum(requests.values()) == 3 + 100 + N_TXS // 4 + N_TXS + 1
    assert trips == 7


def test_headers_fetched_with_transactions_serve_until_the_tip_moves(
    funded: tuple[Regtest, str],
) -> None:
    """A header fetched in the transactions' burst answers a later ask without a request
    while the tip is the same; once a block came, it is asked again (a reorg moves the tip)."""
    rt, descriptor = funded
    wollet = Wollet(rt.network, descriptor)
    with ElectrumClient.from_url(rt.electrum_url, verify_merkle=False) as client:
        update = client.full_scan(wollet)
        assert update is not None
        wollet.apply_update(update)
        height = min(tx.height for tx in wollet.transactions() if tx.height is not None)
        expected = {height: rt.chain.header(height)}
        assert _counted(rt, lambda: client.block_headers([height])) == (0, {})
        assert client.block_headers([height]) == expected
        rt.mine(1)
        client.tip()  # reads the pushed header
        _, requests = _counted(rt, lambda: client.block_headers([height]))
        assert requests == {"blockchain.block.headers": 1}
        assert client.block_headers([height]) == expected
