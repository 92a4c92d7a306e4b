"""Transport behaviour: URLs, retries, Retry-After, caps, typed errors (in-process fake)."""

from __future__ import annotations

import email.utils
import itertools
import json
import ssl
import threading
import time
from typing import Any

import certifi
import httpx
import pytest
from esplora_fake import FakeEsplora
from lwk_esplora import EsploraClient, _http, _response, _retry
from lwk_esplora._response import MAX_BODY
from lwk_esplora._retry import parse_retry_after

from lwk_core import (
    BackendConnectError,
    BackendProtocolError,
    BackendTimeout,
    InsecureTransport,
    MerkleProof,
    Network,
    RateLimited,
)
from lwk_core._proofs import check_headers


def make(fake: FakeEsplora, url: str = "http://esplora.test/api", **kw: object) -> EsploraClient:
    return EsploraClient(url, Network.LIQUID_TESTNET, transport=fake.transport(), **kw)  # type: ignore[arg-type]


# -- URLs and construction ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://blockstream.info/liquidtestnet/api", "https://blockstream.info:443"),
        ("http://user:secret@127.0.0.1:3002/?token=abc", "http://127.0.0.1:3002"),
        ("https://[::1]:8443/api/", "https://[::1]:8443"),
        ("http://localhost/api", "http://localhost:80"),
    ],
)
def test_name_is_scheme_host_port_only(url: str, name: str) -> None:
    client = EsploraClient(url, Network.LIQUID)
    assert client.name == name
    assert repr(client) == f"<EsploraClient {name}>"


def test_construction_does_no_io() -> None:
    calls: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    EsploraClient("https://10.255.255.1/api", Network.LIQUID, transport=httpx.MockTransport(record))
    EsploraClient(url="https://no-such-host.invalid/api", network=Network.LIQUID_TESTNET)
    assert calls == []


def test_clients_share_the_default_tls_context_per_ca_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpx would load certifi's bundle for each client; the default context is made once
    per CA source, and SSL_CERT_FILE still picks another one (as httpx's default does)."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    def verify(**options: Any) -> _response.Settings:
        return _response.Settings("https://e.test/api", Network.LIQUID, **options)

    first = verify().client_arguments()["verify"]
    assert isinstance(first, ssl.SSLContext)
    assert verify().client_arguments()["verify"] is first
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    other = verify().client_arguments()["verify"]
    assert isinstance(other, ssl.SSLContext) and other is not first
    untrusted = verify(trust_env=False).client_arguments()["verify"]  # SSL_CERT_FILE ignored
    assert untrusted is not other
    assert verify(trust_env=False).client_arguments()["verify"] is untrusted
    assert verify(verify=False).client_arguments()["verify"] is False


@pytest.mark.parametrize("url", ["http://esplora.test/api", "http://esplora.test/api/"])
def test_base_path_is_a_prefix(fake: FakeEsplora, url: str) -> None:
    with make(fake, url) as client:
        client.ping()
    assert fake.paths() == ["/api/blocks/tip/height"]


def test_missing_api_prefix_gives_a_hint() -> None:
    fake = FakeEsplora()
    fake.intercept = lambda r: (
        None if r.url.path.startswith("/api/") else httpx.Response(404, text="not found")
    )
    with (
        make(fake, "http://esplora.test") as client,
        pytest.raises(BackendProtocolError, match="base URL"),
    ):
        client.ping()


@pytest.mark.parametrize("url", ["ftp://x/api", "esplora.test/api", "http:///api"])
def test_bad_urls_are_rejected(url: str) -> None:
    with pytest.raises(ValueError):
        EsploraClient(url, Network.LIQUID)


def test_network_is_required() -> None:
    with pytest.raises(TypeError):
        EsploraClient("https://x/api", "liquid")  # type: ignore[arg-type]


def test_headers_are_sent_and_never_shown(fake: FakeEsplora) -> None:
    seen: list[str] = []
    fake.intercept = lambda r: seen.append(r.headers["authorization"]) or None  # type: ignore[func-returns-value]
    headers = {"Authorization": "Bearer s3cret"}
    with pytest.raises(InsecureTransport) as refused:  # plain http: only when opted in
        make(fake, headers=headers)
    assert "s3cret" not in str(refused.value)
    with make(fake, headers=headers, allow_insecure_auth=True) as client:
        client.ping()
        assert "s3cret" not in repr(client) + client.name
    assert seen == ["Bearer s3cret"]


# -- tip and timestamps ------------------------------------------------------------------


def test_tip_parses_and_checks_the_header(client: EsploraClient, fake: FakeEsplora) -> None:
    tip = client.tip()
    last = fake.headers[-1]
    assert (tip.height, tip.hash, tip.timestamp, tip.header) == (
        last.height,
        last.block_hash,
        last.time,
        last.to_bytes(),
    )
    assert fake.paths() == ["/api/blocks/tip/hash", f"/api/block/{last.block_hash}/header"]


def test_tip_header_is_read_again_only_for_a_new_hash(
    client: EsploraClient, fake: FakeEsplora
) -> None:
    first = client.tip()
    assert client.tip() == first  # the same hash: the same header, not asked again
    fake.mine()
    new = fake.headers[-1]
    assert (client.tip().height, client.tip().hash) == (new.height, new.block_hash)
    assert fake.paths() == [
        "/api/blocks/tip/hash",
        f"/api/block/{first.hash}/header",
        "/api/blocks/tip/hash",
        "/api/blocks/tip/hash",
        f"/api/block/{new.block_hash}/header",
        "/api/blocks/tip/hash",
    ]


def test_tip_with_a_header_of_another_block_is_refused(
    client: EsploraClient, fake: FakeEsplora
) -> None:
    other = fake.headers[3].to_hex()
    fake.intercept = lambda r: (
        httpx.Response(200, text=other) if r.url.path.endswith("/header") else None
    )
    with pytest.raises(BackendProtocolError, match="hashes to"):
        client.tip()


def test_block_headers_and_hash_cache(client: EsploraClient, fake: FakeEsplora) -> None:
    assert client.block_headers([2, 5, 2]) == {
        2: fake.headers[2].to_bytes(),
        5: fake.headers[5].to_bytes(),
    }
    assert len(fake.paths()) == 4
    client.block_headers([2])
    assert len(fake.paths()) == 5  # the header of a known block hash is not fetched again


# -- answers that are not what the endpoint serves --------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(200, json={"txid": "ab"}),
        httpx.Response(200, json=[{"txid": "zz" * 32, "status": {"confirmed": False}}]),
        httpx.Response(200, json=[{"txid": "ab" * 32, "status": {"confirmed": True}}]),
        httpx.Response(
            200, json=[{"txid": "ab" * 32, "status": {"confirmed": True, "block_height": -1}}]
        ),
        httpx.Response(200, content=b"\xff\xfe["),
    ],
)
def test_garbage_history_is_a_protocol_error(fake: FakeEsplora, answer: httpx.Response) -> None:
    fake.intercept = lambda r: answer
    with make(fake) as client, pytest.raises(BackendProtocolError):
        client.scan_scripts([b"\x51"])


@pytest.mark.parametrize("declared", [True, False])
def test_oversized_answers_are_cut(fake: FakeEsplora, declared: bool) -> None:
    chunk = b"[" + b" " * (1 << 20)

    def huge(request: httpx.Request) -> httpx.Response:
        if declared:
            return httpx.Response(200, content=chunk * 5)
        return httpx.Response(200, content=iter([chunk] * 50))  # chunked, no length

    fake.intercept = huge
    with make(fake) as client, pytest.raises(BackendProtocolError, match="cap"):
        client.scan_scripts([b"\x51"])
    assert MAX_BODY == 4 << 20


def test_unknown_tx_is_typed(client: EsploraClient) -> None:
    with pytest.raises(BackendProtocolError, match="not found"):
        client.get_raw_txs(["ab" * 32])


def test_get_raw_txs_keeps_order(client: EsploraClient, fake: FakeEsplora) -> None:
    txids = sorted(fake.raw)[:20]
    assert client.get_raw_txs(txids) == [fake.raw[t] for t in txids]


# -- retries -----------------------------------------------------------------------------


def test_retry_after_is_honoured(fake: FakeEsplora) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "0.3"}, text="slow down")])
    fake.intercept = lambda r: next(answers, None)
    with make(fake) as client:
        client.ping()
    (first, *_), (second, *_) = fake.requests
    assert second - first >= 0.3


def test_retry_after_as_http_date() -> None:
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= (parse_retry_after(date, now=now) or 0) <= 31
    assert parse_retry_after("3600") == 60.0  # capped
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after(None) is None


def test_persistent_429_ends_in_rate_limited(fake: FakeEsplora) -> None:
    fake.intercept = lambda r: httpx.Response(429, headers={"Retry-After": "0.01"})
    with make(fake, max_retries=3) as client, pytest.raises(RateLimited) as info:
        client.ping()
    assert len(fake.requests) == 4
    assert info.value.retry_after == pytest.approx(0.01)


def test_503_without_retry_after_backs_off_exponentially(fake: FakeEsplora) -> None:
    fake.intercept = lambda r: httpx.Response(503)
    with make(fake, max_retries=4) as client, pytest.raises(RateLimited):
        client.ping()
    times = [t for t, *_ in fake.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # base 10 ms (test setting), doubling, jitter within [d/2, d]
    for n, gap in enumerate(gaps):
        assert 0.01 * 2**n / 2 <= gap <= 0.01 * 2**n + 0.5  # slack for a loaded machine


def test_rate_limit_pauses_every_worker(fake: FakeEsplora) -> None:
    """One 429 stops all parallel requests for the Retry-After time, not just one."""
    lock = threading.Lock()
    limited: list[str] = []  # the path answered 429 (not always the first to arrive)

    def once(request: httpx.Request) -> httpx.Response | None:
        with lock:
            if limited or "txs" not in request.url.path:
                return None
            limited.append(request.url.path)
        return httpx.Response(429, headers={"Retry-After": "0.5"})

    fake.intercept = once
    fake.latency = 0.02
    with make(fake, concurrency=4) as client:
        client.scan_scripts([bytes([i]) for i in range(12)])
    limited_path = limited[0]
    limited_at = next(t for t, _, path in fake.requests if path == limited_path)
    arrivals = [t for t, *_ in fake.requests]
    # Requests already past the pause check when the 429 came back may still arrive (the
    # other workers, plus scheduling slack); after that, nothing until Retry-After.
    quiet = [t for t in arrivals if limited_at + 0.2 < t < limited_at + 0.5]
    assert quiet == []
    retried = [t for t, _, path in fake.requests if path == limited_path][1:]
    assert len(retried) == 1 and retried[0] >= limited_at + 0.5
    assert len(set(fake.script_paths())) == 12  # every script still asked


def test_http_500_is_not_retried(fake: FakeEsplora) -> None:
    fake.intercept = lambda r: httpx.Response(500, text="internal error on " + "ab" * 32)
    with make(fake) as client, pytest.raises(BackendProtocolError) as info:
        client.ping()
    assert len(fake.requests) == 1
    assert "ab" * 32 not in str(info.value)  # hashes in server texts are elided


@pytest.mark.parametrize(
    ("error", "requests"),
    [
        (httpx.RemoteProtocolError, 4),  # dropped: retried max_retries (3) times
        (httpx.ReadError, 4),
        (httpx.ConnectError, 2),  # refused, DNS, TLS: retried once, to fail over fast
    ],
)
def test_connection_errors_are_retried_then_typed(
    fake: FakeEsplora, error: type[httpx.TransportError], requests: int
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error("connection problem", request=request)

    fake.intercept = fail
    with make(fake, max_retries=3) as client, pytest.raises(BackendConnectError):
        client.ping()
    assert len(fake.requests) == requests


def test_timeouts_are_retried_once(fake: FakeEsplora) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fake.intercept = hang
    with make(fake) as client, pytest.raises(BackendTimeout):
        client.tip()
    assert len(fake.requests) == 2


@pytest.mark.parametrize(("status", "error"), [(502, BackendConnectError), (504, BackendTimeout)])
def test_gateway_errors(fake: FakeEsplora, status: int, error: type[Exception]) -> None:
    fake.intercept = lambda r: httpx.Response(status)
    with make(fake, max_retries=1) as client, pytest.raises(error):
        client.ping()
    assert len(fake.requests) == 2


def test_redirects_are_not_followed(fake: FakeEsplora) -> None:
    fake.intercept = lambda r: httpx.Response(301, headers={"Location": "https://elsewhere/"})
    with make(fake) as client, pytest.raises(BackendProtocolError, match="redirect"):
        client.ping()
    assert len(fake.requests) == 1


def merkle_proof_answer(body: Any) -> Any:
    return lambda r: (
        httpx.Response(200, json=body) if r.url.path.endswith("/merkle-proof") else None
    )


def test_merkle_proofs_are_asked_per_txid_and_typed(
    client: EsploraClient, fake: FakeEsplora
) -> None:
    fake.intercept = merkle_proof_answer({"block_height": 7, "merkle": ["ab" * 32], "pos": 1})
    assert (
        client.merkle_proofs([("11" * 32, 7), ("22" * 32, 7)])
        == [MerkleProof(7, ("ab" * 32,), 1)] * 2
    )
    assert sorted(p for p in fake.paths() if p.endswith("merkle-proof")) == [
        f"/api/tx/{'11' * 32}/merkle-proof",
        f"/api/tx/{'22' * 32}/merkle-proof",
    ]


@pytest.mark.parametrize(
    "body",
    [[], {"block_height": 7, "merkle": "ab", "pos": 1}, {"merkle": [], "pos": 0}, "x"],
)
def test_malformed_merkle_proofs_are_protocol_errors(
    client: EsploraClient, fake: FakeEsplora, body: Any
) -> None:
    fake.intercept = merkle_proof_answer(body)
    with pytest.raises(BackendProtocolError, match="merkle-proof"):
        client.merkle_proofs([("11" * 32, 7)])


def test_block_at_the_wrong_height_is_refused(client: EsploraClient, fake: FakeEsplora) -> None:
    """/block-height/5 answering the hash of block 2 (cached or not) is a lie the scan's
    check of the headers refuses."""
    client.block_headers([2])
    lie = fake.headers[2].block_hash
    fake.intercept = lambda r: (
        httpx.Response(200, text=lie) if r.url.path.endswith("/block-height/5") else None
    )
    reply = client.block_headers([5])
    with pytest.raises(BackendProtocolError, match="at height 5, got one at height 2"):
        check_headers(reply, [5], None, backend=client.name)


def test_rate_limit_waits_are_bounded_per_request(
    fake: FakeEsplora, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waits add up to at most MAX_RETRY_WAIT (60 s; 0.5 s here) before RateLimited, so a
    BackendChain is not held for max_retries long Retry-After waits."""
    monkeypatch.setattr(_retry, "MAX_RETRY_WAIT", 0.5)
    fake.intercept = lambda r: httpx.Response(429, headers={"Retry-After": "0.3"})
    started = time.monotonic()
    with make(fake, max_retries=5) as client, pytest.raises(RateLimited) as info:
        client.ping()
    assert len(fake.requests) == 2  # a second 0.3 s wait would pass 0.5 s
    assert 0.3 <= time.monotonic() - started < 1.5  # five waits would take 1.5 s
    assert info.value.retry_after == pytest.approx(0.3)


@pytest.mark.parametrize(
    "body",
    [
        b"[" + b"1" * 5000 + b"]",  # json raises a plain ValueError past 4,300 digits
        b"[" * 100_000,  # RecursionError
        json.dumps(
            [{"txid": "ab" * 32, "status": {"confirmed": True, "block_height": 0}}]
        ).encode(),  # core refuses height 0 at apply time: refuse it here, so a chain fails over
    ],
)
def test_hostile_json_is_a_protocol_error(fake: FakeEsplora, body: bytes) -> None:
    fake.intercept = lambda r: httpx.Response(200, content=body)
    with make(fake) as client, pytest.raises(BackendProtocolError):
        client.scan_scripts([b"\x51"])


# -- parallel calls ------------------------------------------------------------------------


def test_map_starts_nothing_after_a_failure() -> None:
    """A worker freed by a failing call must not start the next one: against a hanging
    server each would cost its timeouts again before the chain could fail over."""
    settings = _response.Settings(
        "http://esplora.test/api",
        Network.LIQUID_TESTNET,
        timeout=5.0,
        concurrency=2,
        headers=None,
        proxy=None,
        max_retries=0,
        verify=True,
    )
    session = _http.HttpSession(settings, transport=None)
    started: list[int] = []
    running, release = threading.Event(), threading.Event()

    def call(item: int) -> int:
        started.append(item)
        if item == 0:
            running.wait(2)
            raise BackendTimeout("hang", backend="test")
        running.set()
        release.wait(0.5)  # item 1 is still running when item 0 fails
        return item

    try:
        with pytest.raises(BackendTimeout, match="hang"):
            session.map(call, list(range(10)))
        assert sorted(started) == [0, 1]
        release.set()
        assert session.map(lambda item: item * 2, list(range(10))) == list(range(0, 20, 2))
    finally:
        session.close()
