"""Against the embedded regtest Esplora server (real sockets, electrs' rules), and LWK.

Numbers measured here are printed with `pytest -s` (request counts, wall times).
"""

from __future__ import annotations

import collections
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import lwk
import pytest
from lwk_esplora import EsploraClient
from lwk_regtest import Faults, Regtest, RegtestChain
from shared_data import DATA, load_fixture, regtest_wallet_descriptor

from lwk_core import (
    BackendChain,
    BackendConnectError,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    BroadcastRejected,
    Chain,
    Network,
    RateLimited,
    Wollet,
)
from lwk_core._address import script_to_address

NETWORK = Network.ELEMENTS_REGTEST
DESCRIPTOR = regtest_wallet_descriptor()
ELSEWHERE = script_to_address(b"\x00\x14" + b"\x11" * 20, None, NETWORK)  # not the wallet's


@attrs.define
class Env:
    rt: Regtest
    arrivals: list[float]  # when the Esplora server received each request (its clock)

    @property
    def url(self) -> str:
        return self.rt.esplora_url + "/api"

    @property
    def chain(self) -> RegtestChain:
        return self.rt.chain

    @property
    def faults(self) -> Faults:
        return self.rt.esplora_faults

    def pay(self, address: str, sats: int) -> str:
        return self.rt.faucet(address, sats)

    def client(self, **kw: Any) -> EsploraClient:
        return EsploraClient(self.url, NETWORK, **kw)

    def routes(self) -> collections.Counter[str]:
        """Requests per route as the server counted them (Regtest has no public accessor)."""
        return self.rt._local_servers()[2].requests

    def total(self) -> int:
        return sum(self.routes().values())


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    with Regtest() as rt:
        arrivals: list[float] = []
        take = Faults.take

        def timed_take(faults: Faults) -> str | None:
            if faults is rt.esplora_faults:
                arrivals.append(time.monotonic())
            return take(faults)

        monkeypatch.setattr(Faults, "take", timed_take)
        yield Env(rt, arrivals)


def lwk_scan(url: str) -> tuple[Any, float]:
    wollet = lwk.Wollet(lwk.Network.regtest_default(), lwk.WolletDescriptor(DESCRIPTOR), None)
    client = lwk.EsploraClient(url, lwk.Network.regtest_default())
    started = time.monotonic()
    update = client.full_scan(wollet)
    if update:
        wollet.apply_update(update)
    return wollet, time.monotonic() - started


def fund(env: Env, wollet: Wollet) -> int:
    """A small history: confirmed payments to several indexes, then unconfirmed ones."""
    paid = 0
    for i, sats in enumerate([10_000, 20_000, 30_000, 40_000]):
        env.pay(wollet.address(i * 3).address(), sats)
        paid += sats
    env.chain.mine()
    for i, sats in enumerate([5_000, 6_000]):
        env.pay(wollet.address(2 + i * 20).address(), sats)  # index 22: a second batch
        paid += sats
    return paid


# -- the seed snippets, with only the import changed --------------------------------------


def test_seed_snippets_run_unchanged(env: Env) -> None:
    wollet = Wollet(NETWORK, DESCRIPTOR)
    paid = fund(env, wollet)

    # "Esplora Client" (Python tab), with `from lwk import EsploraClient, Network` replaced
    client = EsploraClient(url=env.url, network=Network.ELEMENTS_REGTEST)
    update = client.full_scan(wollet)
    if update:
        wollet.apply_update(update)
    # "Full Scan (Initial Sync)"
    balance = wollet.balance()
    assert balance.btc_balance() == paid
    assert update is not None and len(update.new_txs) == 6

    # "Incremental Sync": nothing new, then one new payment
    update = client.sync(wollet, 20)
    assert not (update and update.new_txs)
    env.pay(wollet.address(5).address(), 1_234)
    update = client.sync(wollet, 20)
    assert update and update.new_txs
    wollet.apply_update(update)
    assert wollet.balance().btc_balance() == paid + 1_234

    # "Regtest (Local Development)": positional arguments
    esplora_client = EsploraClient(env.url, Network.ELEMENTS_REGTEST)
    assert esplora_client.tip().height == env.chain.tip_height()
    esplora_client.ping()


def test_same_wallet_as_lwk_with_fewer_requests(env: Env) -> None:
    wollet = Wollet(NETWORK, DESCRIPTOR)
    fund(env, wollet)
    env.faults.latency = 0.005  # a LAN; LWK's requests are sequential, ours are not

    client = env.client()
    started = time.monotonic()
    update = client.full_scan(wollet)
    ours_time = time.monotonic() - started
    assert update is not None
    wollet.apply_update(update)
    ours_requests = env.total()

    env.routes().clear()
    theirs, lwk_time = lwk_scan(env.url)
    lwk_requests = env.total()

    assert dict(wollet.balance()) == {str(a): v for a, v in theirs.balance().items()}
    ours_txs = {
        (t.txid, t.height, t.timestamp, t.type, t.fee, tuple(sorted(t.balance.items())))
        for t in wollet.transactions()
    }
    lwk_txs = {
        (
            str(t.txid()),
            t.height(),
            t.timestamp(),
            t.type(),
            t.fee(),
            tuple(sorted((str(a), v) for a, v in t.balance().items())),
        )
        for t in theirs.transactions()
    }
    assert ours_txs == lwk_txs and len(ours_txs) == 6
    print(
        f"\nfull scan, 6 txs: ours {ours_requests} requests {ours_time:.3f}s; "
        f"LWK {lwk_requests} requests {lwk_time:.3f}s"
    )
    assert ours_requests < lwk_requests
    assert ours_time < lwk_time


def test_rescans_page_only_the_scripts_a_change_touches(env: Env) -> None:
    """Counted at the server. Nothing new: each request for histories costs the chain
    state (tip hash, mempool txids) and no page; the scan's tip hash once more. After a
    block confirming the two unconfirmed payments: the new block's header and txids (no
    tx new to the client: the embedded chain's blocks hold no coinbase), and pages for
    just the two scripts paid (their confirmed history is new: one more page each to
    prove its end)."""
    wollet = Wollet(NETWORK, DESCRIPTOR)
    fund(env, wollet)  # 4 confirmed payments, 2 unconfirmed to other scripts
    client = env.client()
    update = client.full_scan(wollet)
    assert update is not None
    wollet.apply_update(update)
    env.routes().clear()

    assert client.full_scan(wollet) is None
    routes = dict(env.routes())
    reads = routes.pop("GET /mempool/txids")
    assert routes == {"GET /blocks/tip/hash": reads + 1}

    env.routes().clear()
    env.chain.mine()
    update = client.full_scan(wollet)
    assert update is not None and len(update.txid_height_new) == 2
    wollet.apply_update(update)
    routes = dict(env.routes())
    reads = routes.pop("GET /mempool/txids")
    assert routes == {
        "GET /blocks/tip/hash": reads + 1,
        "GET /block/:hash/header": 1,
        "GET /block/:hash/txids": 1,
        "GET /scripthash/:scripthash/txs": 2,
        "GET /scripthash/:scripthash/txs/chain/:last_seen": 2,
    }
    assert all(t.height == env.chain.tip_height() for t in wollet.transactions()[:2])


# -- paging -------------------------------------------------------------------------------


def history_truth(env: Env, spk: bytes) -> list[tuple[str, int | None]]:
    return [(txid, h if h > 0 else None) for txid, h in env.chain.history(spk)]


def test_paging_more_than_25_confirmed(env: Env) -> None:
    wollet = Wollet(NETWORK, DESCRIPTOR)
    spk = wollet.descriptor.script_pubkey(Chain.EXTERNAL, 0)
    address = script_to_address(spk, None, NETWORK)  # explicit payments: no proofs, fast
    for block in range(3):
        for _ in range(10 + block):  # 33 confirmed over 3 blocks
            env.pay(address, 1_000)
        env.chain.mine()
    for _ in range(7):
        env.pay(address, 1_000)
    env.routes().clear()
    (history,) = env.client().scan_scripts([spk])
    assert sorted((e.txid, e.height) for e in history) == sorted(history_truth(env, spk))
    assert len(history) == 40
    # Electrum's order (confirmed by height, then unconfirmed); within a block it varies.
    assert [e.height for e in history] == [1] * 10 + [2] * 11 + [3] * 12 + [None] * 7
    assert all(e.block_time == env.chain.block_time(e.height) for e in history if e.height)
    assert env.routes() == {
        "GET /scripthash/:scripthash/txs": 1,  # 7 unconfirmed + newest 25 confirmed
        "GET /scripthash/:scripthash/txs/chain/:last_seen": 2,  # the other 8, then []
        # the chain state the history is valid as of (lwk_esplora._fresh)
        "GET /blocks/tip/hash": 1,
        "GET /mempool/txids": 1,
        "GET /block/:hash/header": 1,
    }


def test_more_than_50_unconfirmed(env: Env) -> None:
    """electrs lists 50 unconfirmed txs per script, without paging. LWK keeps 50 and misses
    the rest; this client finds them via /mempool/txids or, when the server cannot list
    its mempool, refuses with a BackendError (a BackendChain fails over)."""
    wollet = Wollet(NETWORK, DESCRIPTOR)
    spk = wollet.descriptor.script_pubkey(Chain.EXTERNAL, 0)
    address = script_to_address(spk, None, NETWORK)
    for _ in range(30):
        env.pay(address, 1_000)
    env.chain.mine()
    for _ in range(55):
        env.pay(address, 1_000)
    truth = history_truth(env, spk)
    assert len(truth) == 85

    lwk_view = lwk.EsploraClient(env.url, lwk.Network.regtest_default())
    theirs = lwk.Wollet(lwk.Network.regtest_default(), lwk.WolletDescriptor(DESCRIPTOR), None)
    update = lwk_view.full_scan(theirs)
    assert update is not None
    theirs.apply_update(update)
    lwk_txids = {str(t.txid()) for t in theirs.transactions()}
    assert len(lwk_txids) == 80  # 30 confirmed + 50 of the 55 unconfirmed

    serves_mempool = httpx.get(env.url + "/mempool/txids").status_code == 200
    client = env.client()
    if serves_mempool:
        (history,) = client.scan_scripts([spk])
        assert sorted((e.txid, e.height) for e in history) == sorted(truth)
    else:
        with pytest.raises(BackendError, match="over 50 unconfirmed"):
            client.scan_scripts([spk])


# -- rate limits and failures -------------------------------------------------------------


def test_retry_after_is_honoured_by_the_wire(env: Env) -> None:
    env.faults.retry_after = 0.4
    env.faults.set("http429", 1)
    client = env.client()
    client.ping()
    first, second = env.arrivals
    assert second - first >= 0.4  # measured where the server receives them
    assert env.routes() == {"GET /blocks/tip/height": 2}


def test_persistent_429_is_rate_limited(env: Env) -> None:
    env.faults.retry_after = 0.05
    env.faults.set("http429")
    with pytest.raises(RateLimited) as info:
        env.client(max_retries=3).ping()
    assert info.value.retry_after == pytest.approx(0.05)
    assert env.total() == 4


@pytest.mark.parametrize(
    ("mode", "error", "requests", "bound"),
    [
        ("http500", BackendProtocolError, 1, 1.0),  # not retried
        ("garbage", BackendProtocolError, 1, 1.0),
        ("oversized", BackendProtocolError, 1, 3.0),  # 32 MiB announced: refused unread
        ("refuse", BackendConnectError, 3, 1.5),  # 2 retries, 10 ms backoff in tests
        ("reset", BackendConnectError, 3, 1.5),
        ("truncate", BackendConnectError, 3, 1.5),
        ("hang", BackendTimeout, 2, 2 * 0.3 + 1.0),  # one retry of a 0.3 s timeout
    ],
)
def test_failures_end_typed_within_bounds(
    env: Env, mode: str, error: type[BackendError], requests: int, bound: float
) -> None:
    env.faults.set(mode)
    # Only "hang" is about the timeout; the others get time enough for a loaded server to
    # answer (building the 32 MiB reply can take longer than 0.3 s), so no attempt times out.
    client = env.client(timeout=0.3 if mode == "hang" else 5.0, max_retries=2)
    started = time.monotonic()
    with pytest.raises(error):
        client.tip()
    elapsed = time.monotonic() - started
    assert elapsed < bound, elapsed
    if mode == "hang":
        assert elapsed >= 2 * 0.3  # each attempt waited its full timeout
    assert env.total() == requests
    client.close()
    env.faults.clear()


def test_wrong_tx_is_caught_by_core(env: Env) -> None:
    txid = env.pay(ELSEWHERE, 1_000)
    env.faults.set("wrong_tx", 1)
    with pytest.raises(BackendProtocolError, match="hashing to"):
        env.client().get_tx(txid)


# -- parallelism --------------------------------------------------------------------------


def test_requests_run_in_parallel(env: Env) -> None:
    wollet = Wollet(NETWORK, DESCRIPTOR)
    scripts = [wollet.descriptor.script_pubkey(Chain.EXTERNAL, i) for i in range(40)]
    for spk in scripts[:10]:
        env.pay(script_to_address(spk, None, NETWORK), 1_000)
    env.chain.mine()
    env.faults.latency = 0.05
    client = env.client(concurrency=8)
    started = time.monotonic()
    histories = client.scan_scripts(scripts)
    elapsed = time.monotonic() - started
    requests = env.total()
    assert [len(h) for h in histories] == [1] * 10 + [0] * 30
    # one per script, one empty chain page per used script; the chain state first (tip
    # hash and mempool at once, then the tip's header)
    assert requests == 40 + 10 + 3
    print(
        f"\n{len(scripts)} scripts: {requests} requests in {elapsed:.3f}s "
        f"(sequential: {requests * 0.05:.2f}s)"
    )
    # Sequential takes at least requests x 50 ms (the server sleeps before each reply); 8 at
    # once take about 1/8 of it. The bound leaves room for a loaded machine.
    assert elapsed < requests * 0.05 * 0.6


def test_parallel_results_keep_order_under_jitter(env: Env) -> None:
    txids = [env.pay(ELSEWHERE, 1_000 + i) for i in range(24)]
    env.faults.latency = 0.01
    raws = env.client().get_raw_txs(txids)
    assert raws == [env.chain.tx_raw(t) for t in txids]


# -- broadcast ----------------------------------------------------------------------------


def test_broadcast_and_typed_rejection(env: Env) -> None:
    txid = env.pay(ELSEWHERE, 5_000)
    raw = env.chain.tx_raw(txid)
    assert raw is not None
    env.chain.evict(txid)
    client = env.client()
    assert client.broadcast(raw) == txid
    assert env.chain.in_mempool(txid)
    env.chain.mine()
    conflicting = env.chain.tx_raw(txid)
    env.pay(ELSEWHERE, 6_000)  # unrelated
    with pytest.raises(BroadcastRejected) as info:
        client.broadcast(conflicting)  # type: ignore[arg-type]
    assert info.value.reason.startswith("sendrawtransaction RPC error")
    assert not isinstance(info.value, BackendError)  # a chain must not fail over on it


def test_concurrent_callers_share_one_client(env: Env) -> None:
    """More caller threads than connections: no request may be queued inside httpx's pool,
    where httpcore 1.0.9 can close a connection under a queued request (issue #1110: a
    "Bad file descriptor" retry, or a hang for the whole read timeout)."""
    client = env.client(concurrency=2, timeout=5)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(8):
                assert client.tip().height == env.chain.tip_height()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # Not one retry (a hang would also end in a retry): one tip hash per call, and the
    # header only until some call of each thread has read it (then the hash is known).
    routes = env.routes()
    assert routes["GET /blocks/tip/hash"] == 8 * 8
    assert 1 <= routes["GET /block/:hash/header"] <= 8
    assert env.total() == 8 * 8 + routes["GET /block/:hash/header"]


# -- the real Liquid testnet wallet of the fixture ----------------------------------------

FIXTURE_PATH = DATA / "liquid-testnet-wallet.json"


def check_fixture_step(wollet: Wollet, expected: dict[str, Any]) -> None:
    assert dict(wollet.balance()) == expected["balance"]
    got = [
        {
            "txid": t.txid,
            "type": t.type,
            "fee": t.fee,
            "balance": dict(t.balance),
            "height": t.height,
            "timestamp": t.timestamp,
        }
        for t in wollet.transactions()
    ]
    assert got == expected["transactions"]
    assert len(wollet.utxos()) == expected["utxo_count"]
    assert len(wollet.txos()) == expected["txo_count"]


def test_fixture_wallet_matches_lwk(monkeypatch: pytest.MonkeyPatch) -> None:
    """64 real testnet txs at their real heights and times; expected figures by LWK 0.19."""
    fixture = load_fixture("liquid-testnet-wallet.json")
    first, second = fixture["steps"]
    with Regtest.from_fixture(FIXTURE_PATH, step=0) as rt:
        server = rt._local_servers()[2]
        wollet = Wollet(Network.LIQUID_TESTNET, fixture["descriptor"])
        client = EsploraClient(rt.esplora_url + "/api", Network.LIQUID_TESTNET)
        rt.esplora_faults.latency = 0.002
        started = time.monotonic()
        update = client.full_scan(wollet)
        ours = (sum(server.requests.values()), time.monotonic() - started)
        assert update is not None and len(update.new_txs) == 63
        wollet.apply_update(update)
        check_fixture_step(wollet, first["expected"])

        server.requests.clear()
        theirs = lwk.Wollet(
            lwk.Network.testnet(), lwk.WolletDescriptor(fixture["descriptor"]), None
        )
        lwk_client = lwk.EsploraClient(rt.esplora_url + "/api", lwk.Network.testnet())
        started = time.monotonic()
        lwk_update = lwk_client.full_scan(theirs)
        lwk_stats = (sum(server.requests.values()), time.monotonic() - started)
        assert lwk_update is not None
        theirs.apply_update(lwk_update)
        assert dict(wollet.balance()) == {str(a): v for a, v in theirs.balance().items()}
        print(
            f"\nfixture wallet, 63 txs, 2 ms latency: ours {ours[0]} requests {ours[1]:.2f}s; "
            f"LWK {lwk_stats[0]} requests {lwk_stats[1]:.2f}s"
        )
        assert ours[0] < lwk_stats[0]

        assert client.full_scan(wollet) is None  # nothing changed: LWK returns None too
        rt.extend_fixture(1)
        update = client.sync(wollet, 20)
        assert update is not None and len(update.new_txs) == 1
        wollet.apply_update(update)
        check_fixture_step(wollet, second["expected"])


# -- proxies ------------------------------------------------------------------------------


class _ForwardProxy(http.server.ThreadingHTTPServer):
    """A plain-HTTP forward proxy: requests arrive with absolute URIs and are relayed."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ForwardProxy

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        upstream = httpx.get(self.path)
        self.send_response(upstream.status_code)
        self.send_header("Content-Length", str(len(upstream.content)))
        self.end_headers()
        self.wfile.write(upstream.content)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_requests_go_through_the_proxy(env: Env) -> None:
    proxy = _ForwardProxy()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        host, port = proxy.server_address[:2]
        client = env.client(proxy=f"http://{host!s}:{port}")
        assert client.tip().height == env.chain.tip_height()
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert [p.split("/api/", 1)[1].split("/")[0] for p in proxy.seen] == ["blocks", "block"]
    assert all(p.startswith(env.rt.esplora_url) for p in proxy.seen)


def test_an_unreachable_proxy_is_a_connect_error(env: Env) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    client = env.client(proxy=f"http://127.0.0.1:{port}", max_retries=1)
    with pytest.raises(BackendConnectError):
        client.ping()
    assert env.total() == 0  # the server itself was never contacted


@pytest.mark.slow
@pytest.mark.parametrize("latency", [0.0, 0.02])
def test_200_tx_wallet_against_lwk(env: Env, latency: float) -> None:
    """LWK 0.19 makes ~600 sequential requests for a 200-tx wallet: we must need fewer."""
    env.rt.fund_wallet(DESCRIPTOR, 200)
    env.faults.latency = latency
    wollet = Wollet(NETWORK, DESCRIPTOR)
    env.routes().clear()
    started = time.monotonic()
    update = env.client().full_scan(wollet)
    ours = (env.total(), time.monotonic() - started)
    assert update is not None
    wollet.apply_update(update)
    env.routes().clear()
    theirs, lwk_time = lwk_scan(env.url)
    lwk_requests = env.total()
    assert dict(wollet.balance()) == {str(a): v for a, v in theirs.balance().items()}
    assert len(wollet.transactions()) == len(theirs.transactions()) == 200
    print(
        f"\n200-tx wallet, {latency * 1000:.0f} ms latency: ours {ours[0]} requests "
        f"{ours[1]:.2f}s; LWK {lwk_requests} requests {lwk_time:.2f}s"
    )
    assert ours[0] < lwk_requests


# -- in a failover chain ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["http429", "http500", "hang", "garbage"])
def test_chain_fails_over_from_esplora_to_electrum(env: Env, mode: str) -> None:
    wollet = Wollet(NETWORK, DESCRIPTOR)
    paid = fund(env, wollet)
    env.faults.retry_after = 0.01
    env.faults.set(mode)
    esplora = env.client(timeout=0.3, max_retries=1)
    with BackendChain([esplora, env.rt.electrum_url], network=NETWORK) as chain:
        update = chain.full_scan(wollet)
    assert update is not None
    wollet.apply_update(update)
    assert wollet.balance().btc_balance() == paid
    assert env.total() >= 1  # Esplora was tried first
