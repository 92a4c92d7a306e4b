"""Broadcast: typed rejections, and no blind resend after an ambiguous failure."""

from __future__ import annotations

import httpx
import pytest
from esplora_fake import FakeEsplora
from lwk_esplora import EsploraClient

from lwk_core import (
    BackendProtocolError,
    BackendTimeout,
    BroadcastRejected,
    DecodeError,
    Network,
    RateLimited,
)
from lwk_core._transaction import Transaction

REJECT = "sendrawtransaction RPC error -26: bad-txns-inputs-missingorspent"


@pytest.fixture
def raw(fake: FakeEsplora) -> bytes:
    return next(iter(fake.raw.values()))


def test_broadcast_posts_hex_and_returns_txid(
    client: EsploraClient, fake: FakeEsplora, raw: bytes
) -> None:
    txid = Transaction.from_bytes(raw).txid
    assert client.broadcast(raw.hex()) == txid
    assert client.broadcast(Transaction.from_bytes(raw)) == txid
    assert fake.broadcasts == [raw, raw]
    assert fake.paths("POST") == ["/api/tx", "/api/tx"]


def test_rejection_is_typed_with_the_node_reason(
    client: EsploraClient, fake: FakeEsplora, raw: bytes
) -> None:
    fake.intercept = lambda r: httpx.Response(400, text=REJECT) if r.method == "POST" else None
    with pytest.raises(BroadcastRejected) as info:
        client.broadcast(raw)
    assert info.value.reason == REJECT
    assert len(fake.requests) == 1  # a rejection is final


def test_undecodable_bytes_are_refused_before_sending(
    client: EsploraClient, fake: FakeEsplora
) -> None:
    with pytest.raises(DecodeError):
        client.broadcast(b"\x02\x00\x00")
    assert fake.requests == []


def test_timeout_then_tx_known_is_success_without_resend(
    client: EsploraClient, fake: FakeEsplora, raw: bytes
) -> None:
    """The POST reached the server but the answer was lost: check, don't resend."""

    def lost_answer(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST":
            fake._route(request)  # the server takes the tx...
            raise httpx.ReadTimeout("timed out", request=request)  # ...the answer is lost
        return None

    fake.intercept = lost_answer
    txid = Transaction.from_bytes(raw).txid
    assert client.broadcast(raw) == txid
    assert fake.paths("POST") == ["/api/tx"]
    assert fake.paths() == [f"/api/tx/{txid}/raw"]


def test_connection_lost_before_the_server_got_it_is_resent(
    client: EsploraClient, fake: FakeEsplora, raw: bytes
) -> None:
    txid = Transaction.from_bytes(raw).txid
    del fake.raw[txid]  # unknown to the server until broadcast
    drops = iter([True])

    def drop_first(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST" and next(drops, False):
            raise httpx.RemoteProtocolError("Server disconnected", request=request)
        return None

    fake.intercept = drop_first
    assert client.broadcast(raw) == txid
    assert fake.paths("POST") == ["/api/tx", "/api/tx"]
    assert fake.broadcasts == [raw]


def test_resend_rejected_as_already_known_is_success(
    client: EsploraClient, fake: FakeEsplora, raw: bytes
) -> None:
    """Check said unknown (e.g. a lagging replica), the resend says already known."""
    txid = Transaction.from_bytes(raw).txid
    posts = iter(["timeout", "reject"])
    status_checks = iter([404])

    def flaky(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST":
            if next(posts) == "timeout":
                raise httpx.WriteTimeout("timed out", request=request)
            return httpx.Response(400, text="txn-already-in-mempool")
        code = next(status_checks, None)
        return None if code is None else httpx.Response(code, text="Transaction not found")

    fake.intercept = flaky
    assert client.broadcast(raw) == txid
    assert len(fake.paths("POST")) == 2


def test_timeouts_on_every_attempt_end_typed(fake: FakeEsplora, raw: bytes) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fake.intercept = hang
    with (
        EsploraClient(
            "http://esplora.test/api",
            Network.LIQUID_TESTNET,
            max_retries=2,
            transport=fake.transport(),
        ) as client,
        pytest.raises(BackendTimeout),
    ):
        client.broadcast(raw)
    assert len(fake.paths("POST")) == 1  # the status check timed out too: no blind resend


def test_wrong_txid_answer_is_a_protocol_error(
    client: EsploraClient, fake: FakeEsplora, raw: bytes
) -> None:
    fake.intercept = lambda r: httpx.Response(200, text="ab" * 32) if r.method == "POST" else None
    with pytest.raises(BackendProtocolError, match="answered txid"):
        client.broadcast(raw)


def test_rate_limited_broadcast_is_retried_then_typed(fake: FakeEsplora, raw: bytes) -> None:
    """429 means "not processed": resent with backoff, and no status check is needed."""
    fake.intercept = lambda r: httpx.Response(429, headers={"Retry-After": "0.01"})
    with (
        EsploraClient(
            "http://esplora.test/api",
            Network.LIQUID_TESTNET,
            max_retries=2,
            transport=fake.transport(),
        ) as client,
        pytest.raises(RateLimited),
    ):
        client.broadcast(raw)
    assert fake.paths("POST") == ["/api/tx"] * 3
    assert fake.paths("GET") == []
