"""Bad answers from a Waterfalls server end in typed errors, quickly; a chain fails over."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pyrage
import pytest
from lwk_regtest import Regtest, RegtestChain
from lwk_regtest.testing import new_wallet_descriptor
from lwk_waterfalls import WaterfallsClient

from lwk_core import (
    AllBackendsFailed,
    BackendChain,
    BackendProtocolError,
    BackendTimeout,
    Chain,
    Network,
    Wollet,
    WolletDescriptor,
    connect,
)

NETWORK = Network.ELEMENTS_REGTEST
TXID = "ab" * 32
Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, **options: object) -> WaterfallsClient:
    return WaterfallsClient(
        "waterfalls+http://waterfalls.test",
        NETWORK,
        send_descriptor=True,
        transport=httpx.MockTransport(handler),
        max_retries=0,
        **options,  # type: ignore[arg-type]
    )


def _server(waterfalls: Callable[[httpx.Request], httpx.Response]) -> Handler:
    """A fake server: a valid recipient, and `waterfalls` for the waterfalls routes."""
    recipient = str(pyrage.x25519.Identity.generate().to_public())

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/block-height/0":  # which chain: the wallet's
            return httpx.Response(200, text=NETWORK.genesis_hash)
        if request.url.path == "/v1/server_recipient":
            return httpx.Response(200, text=recipient)
        if request.url.path.endswith("/waterfalls"):
            return waterfalls(request)
        return httpx.Response(404, text="endpoint not found")

    return handle


def _scan(client: WaterfallsClient) -> None:
    client.full_scan(Wollet(NETWORK, new_wallet_descriptor()))


def _page(request: httpx.Request, histories: list[list[object]], **extra: object) -> httpx.Response:
    page = int(request.url.params.get("page", "0"))
    seen = {"elwpkh(x/0/*)": histories, "elwpkh(x/1/*)": histories}
    return httpx.Response(200, json={"txs_seen": seen, "page": page, "tip": "00" * 32, **extra})


@pytest.mark.parametrize(
    "body",
    [b"<html>garbage</html>", b"[]", b'{"txs_seen": 5}', b'{"txs_seen": {"k": [[{"txid": 1}]]}}'],
)
def test_garbage_is_a_protocol_error(body: bytes) -> None:
    client = _client(_server(lambda request: httpx.Response(200, content=body)))
    with pytest.raises(BackendProtocolError):
        _scan(client)


@pytest.mark.parametrize(
    "body",
    [
        b"{}",  # JSON, not CBOR
        bytes.fromhex("a0"),  # a map, not the response array
        bytes.fromhex("82a1616b81815820" + "11" * 32 + "00"),  # an entry that is no array
        bytes.fromhex("83a0005810" + "00" * 16),  # a 16-byte tip
        bytes.fromhex("9f"),  # cut short
    ],
)
def test_cbor_garbage_is_a_protocol_error(body: bytes) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/waterfalls.cbor"):
            return httpx.Response(200, content=body)
        return _server(lambda r: httpx.Response(404))(request)

    with pytest.raises(BackendProtocolError):
        _scan(_client(handle, cbor=True))


def test_a_recipient_that_is_no_age_key() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/block-height/0":
            return httpx.Response(200, text=NETWORK.genesis_hash)
        return httpx.Response(200, text="age1notakey")

    with pytest.raises(BackendProtocolError, match="age X25519"):
        _scan(_client(handle))


def test_pages_that_never_end() -> None:
    asked: list[int] = []

    def waterfalls(request: httpx.Request) -> httpx.Response:
        asked.append(int(request.url.params["page"]))
        return _page(request, [[] for _ in range(1_000)])

    started = time.monotonic()
    with pytest.raises(BackendProtocolError, match="never end"):
        _scan(_client(_server(waterfalls)))
    assert asked == list(range(11)) and time.monotonic() - started < 30


def test_another_page_than_asked() -> None:
    def waterfalls(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"txs_seen": {}, "page": 7})

    with pytest.raises(BackendProtocolError, match="another page"):
        _scan(_client(_server(waterfalls)))


def test_a_server_that_never_decrypts() -> None:
    recipients = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/block-height/0":
            return httpx.Response(200, text=NETWORK.genesis_hash)
        if request.url.path == "/v1/server_recipient":
            recipients.append(1)
            return httpx.Response(200, text=str(pyrage.x25519.Identity.generate().to_public()))
        return httpx.Response(422, text="CannotDecrypt")

    with pytest.raises(BackendProtocolError, match="422"):
        _scan(_client(handle))
    assert len(recipients) == 2  # fetched again once, then given up


def test_has_more_naming_a_stranger() -> None:
    stranger = WolletDescriptor(new_wallet_descriptor()).unconfidential_address(
        Chain.EXTERNAL, 0, NETWORK
    )

    def waterfalls(request: httpx.Request) -> httpx.Response:
        entry = {"txid": TXID, "height": 5, "block_timestamp": 1}
        return _page(request, [[entry]] + [[] for _ in range(19)], has_more=[stranger])

    with pytest.raises(BackendProtocolError, match="has_more"):
        _scan(_client(_server(waterfalls)))


def test_a_truncated_history_that_never_advances() -> None:
    descriptor = WolletDescriptor(new_wallet_descriptor())
    address = descriptor.unconfidential_address(Chain.EXTERNAL, 0, NETWORK)
    entry = {"txid": TXID, "height": 5, "block_timestamp": 1}

    def waterfalls(request: httpx.Request) -> httpx.Response:
        histories = [[entry]] + [[] for _ in range(19)]
        if "addresses" in request.url.params:
            return httpx.Response(
                200,
                json={"txs_seen": {"addresses": [[entry]]}, "page": 1, "has_more": [address]},
            )
        return _page(request, histories, has_more=[address])

    with pytest.raises(BackendProtocolError, match="nothing new"):
        _client(_server(waterfalls)).full_scan(Wollet(NETWORK, descriptor))


def test_txids_that_do_not_hash(lwk_regtest: Regtest) -> None:
    rt = lwk_regtest
    descriptor = new_wallet_descriptor()
    rt.faucet(WolletDescriptor(descriptor).address(Chain.EXTERNAL, 0, rt.network), 1_000)
    rt.faucet(WolletDescriptor(descriptor).address(Chain.EXTERNAL, 1, rt.network), 1_001)
    client = WaterfallsClient(rt.waterfalls_url, rt.network, send_descriptor=True)
    rt.waterfalls_server.faults.set("wrong_tx")
    try:
        with pytest.raises(BackendProtocolError):
            client.full_scan(Wollet(rt.network, descriptor))
    finally:
        rt.waterfalls_server.faults.set(None)


def test_a_hanging_descriptor_scan_times_out_and_fails_over(lwk_regtest: Regtest) -> None:
    rt = lwk_regtest
    descriptor = new_wallet_descriptor()
    rt.faucet(WolletDescriptor(descriptor).address(Chain.EXTERNAL, 0, rt.network), 2_000)
    client = WaterfallsClient(
        rt.waterfalls_url, rt.network, send_descriptor=True, timeout=0.5, max_retries=0
    )
    client.ping()  # the recipient is not cached yet: the hang hits it or the scan
    rt.waterfalls_server.faults.set("hang")
    try:
        started = time.monotonic()
        with pytest.raises(BackendTimeout):
            client.full_scan(Wollet(rt.network, descriptor))
        assert time.monotonic() - started < 3
        wollet = Wollet(rt.network, descriptor)
        update = BackendChain([client, rt.esplora_url], network=rt.network).full_scan(wollet)
    finally:
        rt.waterfalls_server.faults.set(None)
    assert update is not None
    wollet.apply_update(update)
    assert wollet.balance().btc_balance() == 2_000


def test_json_of_the_real_server_is_read() -> None:
    """The shape of RCasatta/waterfalls docs/API.md (v4 with tip_meta, mempool height 0)."""
    block = "11" * 32
    answers = {
        "/v4/waterfalls": {
            "txs_seen": {
                "elwpkh(x/0/*)#abcdefgh": [
                    [{"txid": TXID, "height": 7, "block_hash": block, "block_timestamp": 99}],
                    [{"txid": "cd" * 32, "height": 0, "v": 1}],
                ],
                "elwpkh(x/1/*)#abcdefgh": [],
            },
            "page": 0,
            "tip_meta": {"b": block, "t": 99, "h": 7},
        }
    }

    def waterfalls(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(answers[request.url.path]).encode())

    client = _client(_server(waterfalls))
    descriptor = WolletDescriptor(new_wallet_descriptor())
    found = client.scan_descriptor(descriptor, gap_limit=20, to_index=0)
    assert found is not None
    assert [[(e.txid, e.height, e.block_time) for e in h] for h in found[Chain.EXTERNAL]] == [
        [(TXID, 7, 99)],
        [("cd" * 32, None, None)],
    ]
    assert found[Chain.INTERNAL] == []


@pytest.mark.parametrize("lie", ["height", "hash"])
def test_a_wrong_tip_is_refused(lie: str) -> None:
    chain = RegtestChain(NETWORK)
    chain.mine(2)
    height, tip_hash = chain.tip_height(), chain.tip_hash()
    header = chain.header(height - 1 if lie == "hash" else height).hex()

    def waterfalls(request: httpx.Request) -> httpx.Response:
        meta = {"b": tip_hash, "t": 1, "h": height + (lie == "height")}
        return _page(request, [[] for _ in range(20)], tip_meta=meta)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/block/{tip_hash}/header":
            return httpx.Response(200, text=header)
        return _server(waterfalls)(request)

    with pytest.raises(BackendProtocolError, match=r"tip said height|another block"):
        _scan(_client(handle))


def test_a_private_chain_never_sends_the_descriptor_to_a_public_server(
    lwk_regtest: Regtest,
) -> None:
    rt = lwk_regtest
    descriptor = new_wallet_descriptor()
    public = WaterfallsClient(rt.waterfalls_url, rt.network, send_descriptor=True)
    own = connect("http://127.0.0.1:9", rt.network, timeout=1.0)  # the caller's, down
    before = set(rt.waterfalls_server.learned)
    with pytest.raises(AllBackendsFailed):
        BackendChain([own, public], private=1).full_scan(Wollet(rt.network, descriptor))
    assert set(rt.waterfalls_server.learned) == before
