"""Script histories: electrs paging, loop guards, the 50-tx mempool cap, parallelism."""

from __future__ import annotations

import time

import httpx
import pytest
from esplora_fake import FakeEsplora, scripthash
from lwk_esplora import EsploraClient

from lwk_core import BackendError, BackendProtocolError, HistoryEntry, Network


def spk(n: int) -> bytes:
    return bytes([0x00, 0x14]) + n.to_bytes(20, "big")


def fill(
    fake: FakeEsplora, script: bytes, confirmed: int, unconfirmed: int, start: int = 0
) -> list[HistoryEntry]:
    """Give `script` txs spread over the fake's blocks; return the expected history."""
    expected = []
    for i in range(confirmed):
        txid, height = fake.fake_txid(start + i), 1 + i * 8 // max(confirmed, 1)
        fake.add(script, txid, height)
        expected.append(HistoryEntry(txid, height, fake.headers[height].time))
    for i in range(unconfirmed):
        txid = fake.fake_txid(start + confirmed + i)
        fake.add(script, txid, None)
        expected.append(HistoryEntry(txid, None, None))
    return expected


def test_unused_script_costs_one_request(client: EsploraClient, fake: FakeEsplora) -> None:
    assert client.scan_scripts([spk(1)]) == [[]]
    assert fake.script_paths() == [f"/api/scripthash/{scripthash(spk(1))}/txs"]


@pytest.mark.parametrize(
    ("confirmed", "unconfirmed", "requests"),
    [
        (1, 0, 2),  # first page, then one empty chain page
        (25, 0, 2),  # a full first page still needs the empty page to prove the end
        (26, 0, 3),
        (60, 7, 4),  # 25 + 25 + 10, then empty
        (0, 3, 2),  # no confirmed tx in the first page: /txs/chain from the start
    ],
)
def test_paging_returns_everything_in_electrum_order(
    client: EsploraClient, fake: FakeEsplora, confirmed: int, unconfirmed: int, requests: int
) -> None:
    expected = fill(fake, spk(7), confirmed, unconfirmed)
    assert client.scan_scripts([spk(7)]) == [expected]
    assert len(fake.script_paths()) == requests
    # Cursors are the last confirmed txid of the previous page, as electrs requires.
    for path in fake.script_paths()[1:]:
        assert "/txs/chain" in path


def test_lwk_request_count_for_comparison(client: EsploraClient, fake: FakeEsplora) -> None:
    """LWK asks /txs/mempool, /txs/chain, then pages until empty: 2 for an unused script
    and 3 for one with a single tx; we ask 1 and 2."""
    fill(fake, spk(1), 1, 0)
    client.scan_scripts([spk(1), spk(2)])
    assert len(fake.script_paths()) == 2 + 1  # LWK: 3 + 2


def test_cursor_ignored_by_server_is_an_error_not_a_loop(
    client: EsploraClient, fake: FakeEsplora
) -> None:
    fill(fake, spk(3), 40, 0)

    def first_page_forever(request: httpx.Request) -> httpx.Response | None:
        if "/txs/chain/" in request.url.path:
            request = httpx.Request(
                "GET", request.url.copy_with(path=request.url.path.rsplit("/", 1)[0])
            )
            return fake._route(request)
        return None

    fake.intercept = first_page_forever
    with pytest.raises(BackendProtocolError, match="did not advance"):
        client.scan_scripts([spk(3)])
    assert len(fake.script_paths()) == 2


def test_unconfirmed_tx_in_a_confirmed_page_is_refused(
    client: EsploraClient, fake: FakeEsplora
) -> None:
    fill(fake, spk(3), 1, 0)
    bogus = [{"txid": fake.fake_txid(99), "status": {"confirmed": False}}]
    fake.intercept = lambda r: httpx.Response(200, json=bogus) if "/chain" in r.url.path else None
    with pytest.raises(BackendProtocolError):
        client.scan_scripts([spk(3)])


def test_more_than_50_unconfirmed_are_all_found(client: EsploraClient, fake: FakeEsplora) -> None:
    """electrs lists 50 unconfirmed txs per script and cannot page them (LWK keeps those
    50); the stats count tells us more exist, the mempool listing finds them."""
    fake.lists_mempool = True
    expected = fill(fake, spk(5), 30, 57)
    other = fill(fake, spk(6), 0, 4, start=1000)  # unrelated mempool txs to sift out
    histories = client.scan_scripts([spk(5)])
    assert sorted(histories[0], key=str) == sorted(expected, key=str)
    assert len(histories[0]) == 87
    paths = fake.paths()
    assert paths.count("/api/mempool/txids") == 2  # with the chain state, then the sweep
    assert f"/api/scripthash/{scripthash(spk(5))}" in paths
    # Only the 11 mempool txs not listed on the first page are inspected one by one.
    assert sum(p.startswith("/api/tx/") for p in paths) == 7 + len(other)


def test_exactly_50_unconfirmed_costs_one_stats_request(
    client: EsploraClient, fake: FakeEsplora
) -> None:
    expected = fill(fake, spk(5), 0, 50)
    assert sorted(client.scan_scripts([spk(5)])[0], key=str) == sorted(expected, key=str)
    assert not any(p.startswith("/api/tx/") for p in fake.paths())  # no sweep
    assert len(fake.script_paths()) == 3  # txs, txs/chain (empty), scripthash stats


def test_scripts_are_scanned_in_parallel_in_order() -> None:
    fake = FakeEsplora(latency=0.05)
    scripts = [spk(i) for i in range(40)]
    expected = [fill(fake, s, i % 3, 0, start=100 * i) for i, s in enumerate(scripts)]
    with EsploraClient(
        "http://esplora.test", Network.LIQUID_TESTNET, concurrency=8, transport=fake.transport()
    ) as client:
        started = time.monotonic()
        assert client.scan_scripts(scripts) == expected
        elapsed = time.monotonic() - started
    requests = len(fake.script_paths())
    assert requests == 40 + sum(1 for i in range(40) if i % 3)  # 67
    assert fake.max_in_flight == 8
    # Sequential would take requests * 50 ms = 3.35 s; 8 at once need about 1/8 of that
    # (the bound leaves room for a loaded machine; max_in_flight above is the exact check).
    assert elapsed < requests * 0.05 * 0.6, (requests, elapsed)


def test_over_50_unconfirmed_without_mempool_listing_is_an_error(
    client: EsploraClient, fake: FakeEsplora
) -> None:
    """Returning 50 of 57 would make the wallet drop or miss txs (what LWK does): refuse,
    so a BackendChain moves on to a backend that can list them (Electrum)."""
    fill(fake, spk(5), 0, 57)
    fake.intercept = lambda r: (
        httpx.Response(404, text="endpoint does not exist")
        if "mempool/txids" in r.url.path
        else None
    )
    with pytest.raises(BackendError, match="over 50 unconfirmed") as info:
        client.scan_scripts([spk(5)])
    assert not isinstance(info.value, BackendProtocolError)


# -- rescans: a known confirmed history is not paged again --------------------------------


def test_a_rescan_reads_one_page_per_known_script(client: EsploraClient, fake: FakeEsplora) -> None:
    expected = fill(fake, spk(7), 60, 2)
    assert client.scan_scripts([spk(7)]) == [expected]
    assert len(fake.script_paths()) == 4  # 25 + 25 + 10, then the empty page
    fake.requests.clear()
    assert client.scan_scripts([spk(7)]) == [expected]
    assert fake.script_paths() == [f"/api/scripthash/{scripthash(spk(7))}/txs"]


def test_a_rescan_sees_new_blocks_confirmations_and_evictions_in_one_page(
    client: EsploraClient, fake: FakeEsplora
) -> None:
    expected = fill(fake, spk(7), 60, 2)
    client.scan_scripts([spk(7)])
    fake.requests.clear()
    fake.mine()  # height 10: a new tx, and the first unconfirmed one confirms in it
    confirming, evicted = expected[-2], expected[-1]
    fake.remove(spk(7), confirming.txid)
    fake.add(spk(7), confirming.txid, 10)
    fake.add(spk(7), fake.fake_txid(100), 10)
    fake.remove(spk(7), evicted.txid)
    tx_time = fake.headers[10].time
    assert client.scan_scripts([spk(7)]) == [
        [
            *expected[:-2],
            HistoryEntry(confirming.txid, 10, tx_time),
            HistoryEntry(fake.fake_txid(100), 10, tx_time),
        ]
    ]
    assert len(fake.script_paths()) == 1


def test_a_reorg_above_the_page_costs_one_page(client: EsploraClient, fake: FakeEsplora) -> None:
    """Block 8 replaced (the page reaches below it): a tx of it is back in the mempool."""
    expected = fill(fake, spk(7), 60, 0)
    client.scan_scripts([spk(7)])
    fake.requests.clear()
    fake.reorg(8)
    moved = next(e for e in expected if e.height == 8)
    fake.remove(spk(7), moved.txid)
    fake.add(spk(7), moved.txid, None)
    new_time = fake.headers[8].time
    again = [
        HistoryEntry(e.txid, 8, new_time) if e.height == 8 else e for e in expected if e != moved
    ]
    assert client.scan_scripts([spk(7)]) == [[*again, HistoryEntry(moved.txid, None, None)]]
    assert len(fake.script_paths()) == 1


def test_a_reorg_below_the_page_pages_everything_again(
    client: EsploraClient, fake: FakeEsplora
) -> None:
    """Block 1 replaced: its tx vanished; the page's oldest block changed hash with it."""
    expected = fill(fake, spk(7), 60, 0)
    client.scan_scripts([spk(7)])
    fake.requests.clear()
    fake.reorg(1)
    gone = expected[0]
    assert gone.height == 1
    fake.remove(spk(7), gone.txid)
    times = {h.height: h.time for h in fake.headers}
    assert client.scan_scripts([spk(7)]) == [
        [HistoryEntry(e.txid, e.height, times[e.height or 0]) for e in expected[1:]]
    ]
    assert len(fake.script_paths()) == 4  # 25 + 25 + 9, then the empty page


def test_a_script_that_lost_its_history_is_forgotten(
    client: EsploraClient, fake: FakeEsplora
) -> None:
    fill(fake, spk(7), 30, 0)
    client.scan_scripts([spk(7)])
    fake.histories[spk(7)] = []
    assert client.scan_scripts([spk(7)]) == [[]]
    expected = fill(fake, spk(7), 30, 0, start=200)  # other txs, the same blocks
    fake.requests.clear()
    assert client.scan_scripts([spk(7)]) == [expected]
    assert len(fake.script_paths()) == 3  # paged again: nothing of it is known
