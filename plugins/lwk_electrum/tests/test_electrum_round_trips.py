"""Round trips of an Electrum first scan, counted by the regtest server (`Faults.round_trips`):
requests sent after a reply was read count one more round trip, requests sent together one.

Issue 20: the first scan of a wallet of n payments to n/4 external addresses (10 payments a
block; SPV off, as LWK) takes, from first principles:

- 1 round trip for `server.version`, `server.features` and the tip's subscription;
- 1 per discovery round (`discovery_rounds`): a round's subscriptions tell which scripts are
  used (a null status: unused), which is all the gap rule needs, so the histories of the
  scripts a round found used go out in the burst of the next round's subscriptions;
- 1 more for the histories of the last round, if its batches were used before its stop;
- 1 per 400 transactions (the scan's chunk), the headers of their blocks (one range) in
  the first chunk's burst; with 400 transactions that burst is one request over the 400 the
  client keeps in flight (4 chunks of 100), which goes out once the first reply is read: 1
  more.

200 txs: 1 + 3 + 0 + 1 = 5 (each round used to take two: 7); 2,000 txs: 1 + 8 + 1 + 5 + 1 =
16 (was 23). LWK's client takes more on the same wallet and server. The server holds every
reply until no request has arrived for half a second (`Faults.quiet`), so a burst counts
once however slowly it is written, and the counts do not depend on the machine's speed.
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
GAP = 20
MAX_AHEAD = 4  # batches a round asks at most of a chain (lwk_core's scan documents it)
TX_CHUNK = 400  # transactions per request of the scan
IN_FLIGHT = 400  # requests lwk-electrum keeps unanswered (4 chunks of 100)


def discovery_rounds(used: int) -> tuple[int, bool, int]:
    """(rounds, whether the last round's taken batches had used scripts, external scripts
    asked) of the gap rule on a chain whose indexes 0..used-1 are used: batches of GAP,
    the first round one batch, a round after one whose last batch was used at every index
    one batch more (up to MAX_AHEAD), else one; the scan stops after the first unused
    batch (what the round asks past it is asked, not taken)."""
    rounds, start, ahead = 0, 0, 1
    while True:
        rounds += 1
        batches = [start + k * GAP for k in range(ahead)]
        start = batches[-1] + GAP
        stop = next((b for b in batches if b >= used), None)
        if stop is not None:
            return rounds, stop > batches[0], start
        ahead = min(ahead + 1, MAX_AHEAD) if batches[-1] + GAP <= used else 1


def expected_round_trips(n_txs: int) -> int:
    rounds, tail, _ = discovery_rounds(n_txs // 4)
    first_burst = min(n_txs, TX_CHUNK) + 1  # with the range of headers
    return 1 + rounds + int(tail) + -(-n_txs // TX_CHUNK) + int(first_burst > IN_FLIGHT)


def test_the_first_principles_count_the_docstring_states() -> None:
    assert discovery_rounds(N_TXS // 4) == (3, False, 80)  # 0-19; 20-59; 60-79
    assert expected_round_trips(N_TXS) == 5
    assert discovery_rounds(2_000 // 4) == (8, True, 520)  # 1,2,3,4,4,4,4,4 batches
    assert expected_round_trips(2_000) == 16


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


def _first_scan(rt: Regtest, descriptor: str, n_txs: int) -> tuple[int, dict[str, int]]:
    """Our first scan's (round trips, requests), checked to find the `n_txs` payments."""
    wollet = Wollet(rt.network, descriptor)
    with ElectrumClient.from_url(rt.electrum_url, verify_merkle=False) as client:

        def scan() -> None:
            update = client.full_scan(wollet)
            assert update is not None
            wollet.apply_update(update)

        counted = _counted(rt, scan)
        assert _counted(rt, lambda: client.full_scan(wollet)) == (0, {})  # all pushed
    assert len(wollet.transactions()) == n_txs
    heights = {tx.height for tx in wollet.transactions()}
    assert len(heights) == n_txs // 10 and max(heights) < rt.tip_height()
    return counted


def _lwk_round_trips(rt: Regtest, descriptor: str) -> int:
    theirs = lwk.Wollet(lwk.Network.regtest_default(), lwk.WolletDescriptor(descriptor), None)

    def lwk_scan() -> None:
        lwk_client = lwk.ElectrumClient.from_url(rt.electrum_url)
        theirs.apply_update(lwk_client.full_scan(theirs))
        del lwk_client
        gc.collect()  # LWK's client closes its connection when collected

    trips, _ = _counted(rt, lwk_scan)
    return trips


def test_first_scan_of_200_txs_in_5_round_trips(funded: tuple[Regtest, str]) -> None:
    rt, descriptor = funded
    trips, requests = _first_scan(rt, descriptor, N_TXS)
    assert requests == {
        "server.version": 1,
        "server.features": 1,
        "blockchain.headers.subscribe": 1,
        "blockchain.scripthash.subscribe": 100,  # external 0-79, internal 0-19
        "blockchain.scripthash.get_history": N_TXS // 4,
        "blockchain.transaction.get": N_TXS,
        "blockchain.block.headers": 1,  # the 20 heights are one range
    }
    assert trips == expected_round_trips(N_TXS) == 5
    assert _lwk_round_trips(rt, descriptor) > trips


def test_async_first_scan_of_200_txs_in_5_round_trips(funded: tuple[Regtest, str]) -> None:
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
    assert trips == expected_round_trips(N_TXS)


@pytest.mark.slow
def test_first_scan_of_2000_txs_in_16_round_trips() -> None:
    """The same count on a wallet of 2,000 payments: 8 discovery rounds, the last one's
    histories, 5 chunks of transactions and the header range (about 10 s of held replies;
    LWK's scan as long)."""
    n_txs = 2_000
    with Regtest() as rt:
        descriptor = funded_round_trip_wallet(rt, n_txs)
        trips, requests = _first_scan(rt, descriptor, n_txs)
        _, _, external = discovery_rounds(n_txs // 4)
        assert requests["blockchain.scripthash.subscribe"] == external + GAP  # internal 0-19
        assert requests["blockchain.scripthash.get_history"] == n_txs // 4
        assert requests["blockchain.transaction.get"] == n_txs
        assert trips == expected_round_trips(n_txs) == 16
        assert _lwk_round_trips(rt, descriptor) > trips


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
