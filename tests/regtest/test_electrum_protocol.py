"""The embedded Electrum server on the wire: framing, batches, subscriptions, errors, TLS, faults.

Raw sockets only, so that what is checked is the bytes electrs would send (PROTOCOL 1).
"""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

import pytest
from lwk_oracle import FIXTURE, new_wallet
from lwk_regtest import DEFAULT_SIGNERS, Regtest
from lwk_regtest._electrum_server import ElectrumServer
from lwk_regtest._faucet import DEFAULT_FEE

from lwk_core import OutPoint, verify_header
from lwk_core._descriptor import WolletDescriptor
from lwk_core._hashes import electrum_scripthash, electrum_status, sha256d
from lwk_core._header import parse_headers
from lwk_core._network import Chain
from lwk_core._transaction import Transaction

TIMEOUT = 10


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        regtest.mine(2)
        yield regtest


class Conn:
    """A line-framed JSON-RPC connection that keeps every line it reads."""

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(TIMEOUT)
        self.sock = sock
        self.buffer = b""

    @classmethod
    def to(cls, url: str) -> Conn:
        host, port = url.split("//")[1].rsplit(":", 1)
        return cls(socket.create_connection((host, int(port))))

    def send(self, *requests: object) -> None:
        self.sock.sendall(b"".join(json.dumps(r).encode() + b"\n" for r in requests))

    def raw_line(self) -> bytes:
        while b"\n" not in self.buffer:
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("closed")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def line(self) -> Any:
        return json.loads(self.raw_line())

    def call(self, method: str, *params: object) -> Any:
        self.send({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        return self.line()

    def closed(self) -> bool:
        """True once the server has closed the connection (EOF or reset)."""
        try:
            while True:
                data = self.sock.recv(1 << 20)
                if not data:
                    return True
                self.buffer += data
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


def req(i: int, method: str, *params: object) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": i, "method": method, "params": list(params)}


@pytest.fixture
def conn(rt: Regtest) -> Iterator[Conn]:
    c = Conn.to(rt.electrum_url)
    yield c
    c.close()


def _status(history: list[tuple[str, int]]) -> str:
    """PROTOCOL 1.6, written out independently of the server."""
    return hashlib.sha256("".join(f"{t}:{h}:" for t, h in history).encode()).hexdigest()


def test_pipelined_lines_are_answered_in_order(rt: Regtest, conn: Conn) -> None:
    tip = rt.chain.tip_height()
    conn.send(
        req(7, "server.version", "test", "1.4"),
        req(3, "blockchain.block.header", tip),
        req(9, "server.ping"),
        req(1, "blockchain.block.header", 0),
        req(5, "blockchain.headers.subscribe"),
    )
    replies = [conn.line() for _ in range(5)]
    assert [r["id"] for r in replies] == [7, 3, 9, 1, 5]
    assert replies[0]["result"] == ["electrs-esplora 0.4.1", "1.4"]
    assert replies[1]["result"] == rt.chain.header(tip).hex()
    assert replies[2]["result"] is None
    assert replies[3]["result"] == rt.chain.header(0).hex()
    assert replies[4]["result"] == {"hex": rt.chain.header(tip).hex(), "height": tip}


def test_headers_are_linked_signed_block_headers(rt: Regtest, conn: Conn) -> None:
    tip = rt.chain.tip_height()
    result = conn.call("blockchain.block.headers", 0, tip + 5)["result"]
    assert result["count"] == tip + 1 and result["max"] == 2016
    raw = bytes.fromhex(result["hex"])
    # dynafed headers signed 2 of 3: 76 fixed bytes, the params (hashed), the witness
    hashed = len(DEFAULT_SIGNERS.unsigned(0x20000000, bytes(32), bytes(32), 0, 0))
    headers = parse_headers(raw)
    assert b"".join(h.to_bytes() for h in headers) == raw
    prev = bytes(32)
    for height, header in enumerate(headers):
        verify_header(header, DEFAULT_SIGNERS.federation())
        assert header.to_bytes()[4:36] == prev
        assert int.from_bytes(header.to_bytes()[72:76], "little") == height
        prev = sha256d(header.to_bytes()[:hashed])
        assert prev[::-1].hex() == rt.chain.block_hash(height)


def test_array_batch_is_answered_as_an_array(rt: Regtest, conn: Conn) -> None:
    conn.send([req(1, "server.ping"), req(2, "blockchain.block.header", 1), req(3, "nope")])
    replies = conn.line()
    assert isinstance(replies, list) and [r["id"] for r in replies] == [1, 2, 3]
    assert replies[1]["result"] == rt.chain.header(1).hex()
    assert replies[2]["error"] == {"code": -32601, "message": "unknown method nope"}
    conn.send([req(i, "server.ping") for i in range(21)])  # over MAX_ARRAY_BATCH: dropped
    assert conn.closed()


def test_status_hash_and_history_follow_electrs(rt: Regtest, conn: Conn) -> None:
    wallet = new_wallet("status")
    descriptor = WolletDescriptor(wallet.descriptor)
    funding = rt.faucet(wallet.address(0), 50_000)
    rt.mine(1)
    height = rt.chain.tip_height()
    unconfirmed = rt.faucet(wallet.address(0), 6_000)
    # spend the unconfirmed output: the spender has an unconfirmed parent (height -1)
    tx = Transaction.from_bytes(rt.chain.tx_raw(unconfirmed) or b"")
    spk = tx.outputs[0].script_pubkey
    secrets = tx.unblind(0, descriptor.blinding_private_key(spk))
    payee = new_wallet("status-payee").address(0)
    child = rt.spend(
        [(OutPoint(unconfirmed, 0), secrets)], payee, 1_000, change_address=wallet.address(1)
    )
    history = [(funding, height), (unconfirmed, 0), (child, -1)]

    scripthash = electrum_scripthash(spk)
    got = conn.call("blockchain.scripthash.get_history", scripthash)["result"]
    assert got == [
        {"tx_hash": funding, "height": height},
        {"tx_hash": unconfirmed, "height": 0, "fee": DEFAULT_FEE},
        {"tx_hash": child, "height": -1, "fee": DEFAULT_FEE},
    ]
    assert conn.call("blockchain.scripthash.subscribe", scripthash)["result"] == _status(history)
    mempool = conn.call("blockchain.scripthash.get_mempool", scripthash)["result"]
    assert [e["tx_hash"] for e in mempool] == [unconfirmed, child]
    unused = electrum_scripthash(descriptor.script_pubkey(Chain.EXTERNAL, 19))
    assert conn.call("blockchain.scripthash.subscribe", unused)["result"] is None


def test_status_hash_vector() -> None:
    vectors = json.loads((FIXTURE.parent / "elements-vectors.json").read_text())["electrum_status"]
    history = [(t, h) for t, h in vectors["history"]]
    assert electrum_status(history) == vectors["status"] == _status(history)
    assert electrum_status([]) is None


def test_subscriptions_push_notifications(rt: Regtest, conn: Conn) -> None:
    wallet = new_wallet("notify")
    spk = WolletDescriptor(wallet.descriptor).script_pubkey(Chain.EXTERNAL, 0)
    scripthash = electrum_scripthash(spk)
    conn.send(
        req(1, "blockchain.headers.subscribe"),
        req(2, "blockchain.scripthash.subscribe", scripthash),
    )
    assert conn.line()["result"]["height"] == rt.chain.tip_height()
    assert conn.line()["result"] is None

    txid = rt.faucet(wallet.address(0), 1_000)
    # The faucet returned once the push reached our socket: read without waiting.
    conn.sock.setblocking(False)
    pushed = conn.line()
    conn.sock.settimeout(TIMEOUT)
    assert pushed == {
        "jsonrpc": "2.0",
        "method": "blockchain.scripthash.subscribe",
        "params": [scripthash, _status([(txid, 0)])],
    }
    rt.mine(1)
    tip = rt.chain.tip_height()
    pushes = {m["method"]: m["params"] for m in (conn.line(), conn.line())}
    assert pushes["blockchain.headers.subscribe"] == [
        {"hex": rt.chain.header(tip).hex(), "height": tip}
    ]
    assert pushes["blockchain.scripthash.subscribe"] == [scripthash, _status([(txid, tip)])]

    assert conn.call("blockchain.scripthash.unsubscribe", scripthash)["result"] is True
    assert conn.call("blockchain.scripthash.unsubscribe", scripthash)["result"] is False
    rt.faucet(wallet.address(0), 1_001)  # no longer subscribed: nothing is pushed for it
    assert conn.call("server.ping") == {"jsonrpc": "2.0", "id": 1, "result": None}


def test_merkle_proof_reaches_the_header_root(rt: Regtest, conn: Conn) -> None:
    wallet = new_wallet("merkle")
    txids = [rt.faucet(wallet.address(i), 1_000 + i) for i in range(5)]
    rt.mine(1)
    height = rt.chain.tip_height()
    header = bytes.fromhex(conn.call("blockchain.block.header", height)["result"])
    for txid in txids:
        proof = conn.call("blockchain.transaction.get_merkle", txid, height)["result"]
        node, pos = bytes.fromhex(txid)[::-1], proof["pos"]
        for sibling in proof["merkle"]:
            s = bytes.fromhex(sibling)[::-1]
            node = sha256d(s + node) if pos & 1 else sha256d(node + s)
            pos >>= 1
        assert proof["block_height"] == height and node == header[36:68]
        assert (
            conn.call("blockchain.transaction.id_from_pos", height, proof["pos"])["result"] == txid
        )


def test_errors_have_electrs_shapes(rt: Regtest, conn: Conn) -> None:
    def error(*request: object) -> dict[str, object]:
        reply = conn.call(*request)  # type: ignore[arg-type]
        assert reply["id"] == 1 and "result" not in reply
        return dict(reply["error"])

    assert error("blockchain.scripthash.get_balance", "00" * 32) == {
        "code": -32601,
        "message": "unknown method blockchain.scripthash.get_balance",
    }
    assert error("blockchain.scripthash.get_history", "zz") == {
        "code": -32602,
        "message": "non-hex hash",
    }
    assert error("blockchain.scripthash.get_history") == {"code": -32602, "message": "missing hash"}
    assert error("blockchain.block.header", "x") == {
        "code": -32602,
        "message": "non-integer height",
    }
    assert error("blockchain.block.header", 10**6) == {"code": -32603, "message": "missing header"}
    assert error("blockchain.transaction.get", "11" * 32) == {
        "code": -32603,
        "message": "missing transaction",
    }
    assert error("blockchain.transaction.get", rt.chain.genesis_txid, True)["code"] == -32603
    assert error("blockchain.transaction.get_merkle", "11" * 32, 1) == {
        "code": -32603,
        "message": "tx not found or is unconfirmed",
    }
    assert error("blockchain.transaction.broadcast", "zz") == {
        "code": 2,
        "message": "sendrawtransaction RPC error -22: TX decode failed",
    }
    genesis = (rt.chain.tx_raw(rt.chain.genesis_txid) or b"").hex()
    assert error("blockchain.transaction.broadcast", genesis) == {
        "code": 2,
        "message": "sendrawtransaction RPC error -27: Transaction already in block chain",
    }
    conn.sock.sendall(b"{not json\n")
    assert conn.line() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "parse error"},
    }
    conn.send({"jsonrpc": "2.0", "method": "server.ping", "params": []})  # no id
    assert conn.line()["error"] == {"code": -32600, "message": "invalid request"}
    assert conn.call("server.ping")["result"] is None  # the connection survived all of it


def _funded_output(rt: Regtest, wallet_name: str, sats: int) -> tuple[Any, OutPoint, Any]:
    """A fresh wallet, a faucet payment to its address 0, and that output's secrets."""
    wallet = new_wallet(wallet_name)
    txid = rt.faucet(wallet.address(0), sats)
    tx = Transaction.from_bytes(rt.chain.tx_raw(txid) or b"")
    key = WolletDescriptor(wallet.descriptor).blinding_private_key(tx.outputs[0].script_pubkey)
    return wallet, OutPoint(txid, 0), tx.unblind(0, key)


def test_broadcast_double_spends(rt: Regtest, conn: Conn) -> None:
    wallet, outpoint, secrets = _funded_output(rt, "double", 10_000)
    rt.mine(1)
    first, second = (
        rt.build_spend(
            [(outpoint, secrets)], wallet.address(1), sats, change_address=wallet.address(2)
        )
        for sats in (1_000, 2_000)
    )
    first_txid = conn.call("blockchain.transaction.broadcast", first.hex())["result"]
    assert first_txid == Transaction.from_bytes(first).txid and rt.chain.in_mempool(first_txid)
    # a double spend of a mempool tx replaces it (RBF)
    second_txid = conn.call("blockchain.transaction.broadcast", second.hex())["result"]
    assert rt.chain.mempool_txids()[-1] == second_txid and not rt.chain.in_mempool(first_txid)
    assert rt.chain.tx_raw(first_txid) is None
    rt.mine(1)
    # once the spend is confirmed, another double spend is refused
    assert conn.call("blockchain.transaction.broadcast", first.hex())["error"] == {
        "code": 2,
        "message": "sendrawtransaction RPC error -25: bad-txns-inputs-missingorspent",
    }


def test_oversized_line_is_refused(rt: Regtest) -> None:
    server = ElectrumServer(rt.chain, max_line=1_000).start()
    try:
        c = Conn.to(server.url)
        c.sock.sendall(
            json.dumps(req(1, "blockchain.transaction.broadcast", "ab" * 400)).encode() + b"\n"
        )
        assert c.line()["error"]["code"] == 2  # under the cap: answered
        c.sock.sendall(b"[" + b" " * 1_500)  # over the cap without a newline
        assert c.line() == {
            "jsonrpc": "2.0",
            "id": None,
            "error": {"code": -32600, "message": "request too large"},
        }
        assert c.closed()
    finally:
        server.stop()


def test_tls_port_needs_the_pinned_certificate(rt: Regtest) -> None:
    port = int(rt.electrum_ssl_url.rsplit(":", 1)[1])
    assert rt.electrum_ssl_url == f"ssl://localhost:{port}"
    with pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(
            socket.create_connection(("127.0.0.1", port)), server_hostname="localhost"
        )
    pinned = ssl.create_default_context(cadata=rt.cert_pem.decode())
    with pinned.wrap_socket(
        socket.create_connection(("127.0.0.1", port)), server_hostname="localhost"
    ) as s:
        der = s.getpeercert(binary_form=True)
        assert hashlib.sha256(der or b"").hexdigest() == rt.cert_fingerprint
        c = Conn(s)
        c.send(req(1, "server.ping"), req(2, "blockchain.block.header", 0))
        assert [c.line()["id"], c.line()["result"]] == [1, rt.chain.header(0).hex()]


def test_plain_port_drops_a_tls_handshake(rt: Regtest) -> None:
    raw = socket.create_connection(("127.0.0.1", int(rt.electrum_url.rsplit(":", 1)[1])))
    context = ssl.create_default_context()
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        context.wrap_socket(raw, server_hostname="localhost")


@pytest.fixture
def faults(rt: Regtest) -> Iterator[Any]:
    yield rt.electrum_faults
    rt.electrum_faults.clear()
    rt.electrum_faults.latency = 0.0


def test_fault_wrong_tx_and_lying_tip(rt: Regtest, conn: Conn, faults: Any) -> None:
    txid = rt.faucet(new_wallet("fault").address(0), 1_000)
    faults.set("wrong_tx", 1)
    assert conn.call("server.ping")["result"] is None  # not consumed by another method
    wrong = conn.call("blockchain.transaction.get", txid)["result"]
    assert Transaction.from_hex(wrong).txid != txid
    right = conn.call("blockchain.transaction.get", txid)["result"]
    assert right == (rt.chain.tx_raw(txid) or b"").hex()
    faults.set("lying_tip", 1)
    assert (
        conn.call("blockchain.headers.subscribe")["result"]["height"]
        == rt.chain.tip_height() + 1000
    )


@pytest.mark.parametrize("mode", ["truncate", "reset", "garbage", "refuse"])
def test_fault_breaks_the_reply(rt: Regtest, conn: Conn, faults: Any, mode: str) -> None:
    faults.set(mode, 1)
    conn.send(req(1, "blockchain.block.header", 0))
    if mode == "garbage":
        with pytest.raises(ValueError):
            conn.line()
        assert conn.call("server.ping")["result"] is None
        return
    if mode == "refuse":
        assert conn.closed() and conn.buffer == b""
        return
    assert conn.closed() and b"\n" not in conn.buffer  # never a whole reply
    if mode == "truncate":  # a clean FIN after the first half of the reply
        reply = {"jsonrpc": "2.0", "id": 1, "result": rt.chain.header(0).hex()}
        full = json.dumps(reply, separators=(",", ":")).encode()
        assert 0 < len(conn.buffer) < len(full) and full.startswith(conn.buffer)


def test_fault_oversized_hang_and_latency(rt: Regtest, conn: Conn, faults: Any) -> None:
    before = faults.requests
    faults.set("oversized", 1)
    conn.send(req(1, "server.ping"))
    huge = conn.raw_line()
    assert len(huge) > 30_000_000 and json.loads(huge)["id"] == 1
    faults.latency = 0.2
    start = time.monotonic()
    assert conn.call("server.ping")["result"] is None
    assert time.monotonic() - start >= 0.2
    faults.latency = 0.0
    faults.set("hang", 1)
    conn.sock.settimeout(0.5)
    conn.send(req(1, "server.ping"))
    with pytest.raises(TimeoutError):
        conn.raw_line()
    assert faults.requests == before + 3


def test_latency_delays_replies_in_flight_without_queueing_reads(conn: Conn, faults: Any) -> None:
    """A request read while an earlier reply is still delayed is answered `latency` after it
    arrived, not `latency` after the earlier reply went out: two requests 0.1 s apart get
    their replies about 0.1 s apart (a server that sleeps per read would space them 1 s)."""
    faults.latency = 1.0
    conn.send(req(1, "server.ping"))
    time.sleep(0.1)  # a separate read at the server
    conn.send(req(2, "server.ping"))
    assert conn.line()["id"] == 1
    first = time.monotonic()
    assert conn.line()["id"] == 2
    gap = time.monotonic() - first
    faults.latency = 0.0
    assert gap < 0.6


def test_round_trips_count_requests_sent_after_a_reply(conn: Conn, faults: Any) -> None:
    """Requests written while no reply has come are one round trip, however many reads they
    take (the replies wait until none arrived for `quiet`); one sent after reading a reply
    is one more."""
    before = faults.round_trips
    faults.quiet = 0.5
    try:
        conn.send(req(1, "server.ping"))
        time.sleep(0.1)  # a separate read at the server, before any reply
        conn.send(req(2, "server.ping"), req(3, "server.ping"))
        assert [conn.line()["id"] for _ in range(3)] == [1, 2, 3]
        assert faults.round_trips == before + 1
        assert conn.call("server.ping")["result"] is None
        assert faults.round_trips == before + 2
    finally:
        faults.quiet = 0.0


def test_fee_and_history_of_unknown_script(rt: Regtest, conn: Conn) -> None:
    assert conn.call("blockchain.scripthash.get_history", "00" * 32)["result"] == []
    assert conn.call("blockchain.relayfee")["result"] == pytest.approx(1e-6)


def test_subscription_cap_refuses_new_scripts_with_electrs_error(rt: Regtest) -> None:
    """Blockstream/electrs PR #251: past --electrum-subscription-limit a new script's
    subscribe gets error code 1, a held one is still answered, the connection stays open,
    and the cap is per connection."""
    server = rt.electrum_server
    server.max_subscriptions = 2
    hashes = [hashlib.sha256(bytes([i])).hexdigest() for i in range(3)]
    first, second = Conn.to(rt.electrum_url), Conn.to(rt.electrum_url)
    try:
        first.send(*(req(i, "blockchain.scripthash.subscribe", h) for i, h in enumerate(hashes)))
        replies = [first.line() for _ in hashes]
        assert [r.get("result", "refused") for r in replies] == [None, None, "refused"]
        assert replies[2]["error"]["code"] == 1
        assert first.call("blockchain.scripthash.subscribe", hashes[0])["result"] is None
        assert first.call("blockchain.scripthash.get_history", hashes[2])["result"] == []
        assert second.call("blockchain.scripthash.subscribe", hashes[2])["result"] is None
        assert server.peak_subscriptions >= 2
        assert rt.request_counts()["electrum"]["peak_subscriptions"] == server.peak_subscriptions
        server.max_subscriptions = 0
        third = Conn.to(rt.electrum_url)
        assert third.call("blockchain.scripthash.subscribe", hashes[0])["error"]["code"] == 1
        third.close()
        with pytest.raises(ValueError):
            server.max_subscriptions = -1
    finally:
        server.max_subscriptions = None
        first.close()
        second.close()


def test_subscription_cap_reaches_a_child_process() -> None:
    with Regtest(process=True, electrum_max_subscriptions=1) as child:
        conn = Conn.to(child.electrum_url)
        try:
            hashes = [hashlib.sha256(bytes([i])).hexdigest() for i in range(2)]
            assert conn.call("blockchain.scripthash.subscribe", hashes[0])["result"] is None
            assert conn.call("blockchain.scripthash.subscribe", hashes[1])["error"]["code"] == 1
        finally:
            conn.close()
        assert child.request_counts()["electrum"]["peak_subscriptions"] == 1
