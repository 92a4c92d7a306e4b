"""Every fault mode of the Esplora server, seen from a raw socket and from httpx."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import lwk
import pytest
from lwk_regtest._chain import RegtestChain
from lwk_regtest._esplora_server import LYING_TIP_OFFSET, OVERSIZED_BYTES, EsploraServer
from lwk_regtest._faucet import Faucet

from lwk_core import DecodeError, Network, TxidMismatch
from lwk_core._address import script_to_address
from lwk_core._header import BlockHeader
from lwk_core._transaction import Transaction

ADDRESS = script_to_address(b"\x00\x14" + bytes(range(20)), None, Network.ELEMENTS_REGTEST)


@pytest.fixture(scope="module")
def server() -> Iterator[EsploraServer]:
    chain = RegtestChain()
    faucet = Faucet(chain)
    for sats in (1_000, 2_000):
        faucet.pay(ADDRESS, sats)
    chain.mine()
    faucet.pay(ADDRESS, 3_000)
    with EsploraServer(chain) as srv:
        yield srv


@pytest.fixture(autouse=True)
def clean(server: EsploraServer) -> Iterator[None]:
    server.faults.clear()
    server.faults.latency = 0.0
    server.faults.retry_after = 1.0
    yield
    server.faults.clear()
    server.faults.latency = 0.0


def txid_of(server: EsploraServer) -> str:
    return server.chain.block_txids(1)[0]


def raw_exchange(server: EsploraServer, path: str) -> tuple[bytes, BaseException | None]:
    """Send one request on a fresh socket; everything received until EOF or an error."""
    host, port = server.url.removeprefix("http://").split(":")
    data, failure = b"", None
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except OSError as exc:
            failure = exc
    return data, failure


def normal(server: EsploraServer, path: str) -> httpx.Response:
    response = httpx.get(server.url + path)
    assert response.status_code == 200
    return response


def test_latency_delays_every_reply(server: EsploraServer) -> None:
    server.faults.latency = 0.3
    started = time.perf_counter()
    assert httpx.get(server.url + "/blocks/tip/height").text == str(server.chain.tip_height())
    assert time.perf_counter() - started >= 0.3


def test_refuse_closes_without_an_answer(server: EsploraServer) -> None:
    server.faults.set("refuse")
    data, _ = raw_exchange(server, "/blocks/tip/hash")
    assert data == b""
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(server.url + "/blocks/tip/hash")


def test_hang_never_answers_while_others_are_served(server: EsploraServer) -> None:
    server.faults.set("hang", remaining=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.url + "/blocks/tip/hash", timeout=0.5)
    assert normal(server, "/blocks/tip/hash").text == server.chain.tip_hash()


def test_stop_ends_hanging_requests_promptly() -> None:
    chain = RegtestChain()
    srv = EsploraServer(chain).start()
    srv.faults.set("hang")
    outcome: list[BaseException | int] = []

    def client() -> None:
        try:
            outcome.append(httpx.get(srv.url + "/blocks/tip/hash", timeout=10).status_code)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    while srv.faults.requests == 0:
        time.sleep(0.01)
    started = time.perf_counter()
    srv.stop()
    thread.join()
    assert time.perf_counter() - started < 1.0
    assert isinstance(outcome[0], httpx.RemoteProtocolError)


def test_reset_sends_half_a_reply_then_resets(server: EsploraServer) -> None:
    path = f"/tx/{txid_of(server)}/hex"
    full = normal(server, path).content
    server.faults.set("reset")
    data, failure = raw_exchange(server, path)
    assert isinstance(failure, ConnectionResetError)
    assert len(data) < len(full)
    assert b"HTTP/1.1 200 OK".startswith(data[:15])
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        httpx.get(server.url + path)


def test_truncate_promises_more_than_it_sends(server: EsploraServer) -> None:
    path = f"/tx/{txid_of(server)}/hex"
    full = normal(server, path).text
    server.faults.set("truncate")
    data, failure = raw_exchange(server, path)
    assert failure is None
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert f"Content-Length: {len(full)}".encode() in head
    assert body == full[: len(full) // 2].encode()
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(server.url + path)


@pytest.mark.parametrize("route", ["/blocks/tip/hash", "/address/{a}/txs/chain", "/tx/{t}/raw"])
def test_garbage_is_a_200_that_is_not_the_protocol(server: EsploraServer, route: str) -> None:
    server.faults.set("garbage")
    response = httpx.get(server.url + route.format(a=ADDRESS, t=txid_of(server)))
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)
    with pytest.raises(ValueError):
        bytes.fromhex(response.text)
    with pytest.raises(DecodeError):
        Transaction.from_bytes(response.content)


def test_oversized_is_a_huge_but_valid_answer(server: EsploraServer) -> None:
    server.faults.set("oversized", remaining=2)
    page = httpx.get(f"{server.url}/address/{ADDRESS}/txs/chain")
    assert page.headers["content-type"] == "application/json"
    assert len(page.content) >= OVERSIZED_BYTES
    assert isinstance(json.loads(page.content), list)
    raw = httpx.get(f"{server.url}/tx/{txid_of(server)}/raw")
    assert raw.headers["content-type"] == "application/octet-stream"
    assert len(raw.content) >= OVERSIZED_BYTES
    assert len(normal(server, f"/tx/{txid_of(server)}/raw").content) < 10_000


def test_wrong_tx_answers_another_transaction(server: EsploraServer) -> None:
    server.faults.set("wrong_tx")
    txid = txid_of(server)
    raw = httpx.get(f"{server.url}/tx/{txid}/raw").content
    other = Transaction.from_bytes(raw)
    assert other.txid != txid
    assert server.chain.tx_raw(other.txid) == raw
    with pytest.raises(TxidMismatch):
        Transaction.from_bytes(raw, expected_txid=txid)
    hex_text = httpx.get(f"{server.url}/tx/{txid}/hex").text
    assert Transaction.from_hex(hex_text).txid != txid
    assert normal(server, "/blocks/tip/hash").text == server.chain.tip_hash()  # not a tx route


def test_lying_tip_is_far_above_and_consistent(server: EsploraServer) -> None:
    chain = server.chain
    server.faults.set("lying_tip")
    lie = chain.tip_height() + LYING_TIP_OFFSET
    assert normal(server, "/blocks/tip/height").text == str(lie)
    fake_hash = normal(server, "/blocks/tip/hash").text
    header = BlockHeader.from_hex(normal(server, f"/block/{fake_hash}/header").text)
    assert (header.height, header.block_hash, header.prev_hash) == (
        lie,
        fake_hash,
        chain.tip_hash(),
    )
    assert normal(server, f"/block-height/{lie}").text == fake_hash


@pytest.mark.lwk
def test_lying_tip_fools_lwk(server: EsploraServer) -> None:
    server.faults.set("lying_tip")
    tip = lwk.EsploraClient(server.url, lwk.Network.regtest_default()).tip()
    assert tip.height() == server.chain.tip_height() + LYING_TIP_OFFSET


@pytest.mark.parametrize(("retry_after", "header"), [(1.0, "1"), (0.5, "0.5"), (30, "30")])
def test_http429_carries_retry_after(
    server: EsploraServer, retry_after: float, header: str
) -> None:
    server.faults.retry_after = retry_after
    server.faults.set("http429", remaining=1)
    response = httpx.get(server.url + "/blocks/tip/hash")
    assert response.status_code == 429
    assert response.headers["retry-after"] == header
    assert normal(server, "/blocks/tip/hash").text == server.chain.tip_hash()


def test_http500(server: EsploraServer) -> None:
    server.faults.set("http500")
    assert httpx.get(server.url + "/blocks/tip/hash").status_code == 500
    assert httpx.post(server.url + "/tx", content="00").status_code == 500


def test_a_counted_fault_applies_to_exactly_that_many_requests(server: EsploraServer) -> None:
    server.faults.set("http500", remaining=2)
    before = server.faults.requests
    with httpx.Client(base_url=server.url) as client:
        statuses = [client.get("/blocks/tip/height").status_code for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    assert server.faults.requests - before == 4
    assert server.faults.mode is None
