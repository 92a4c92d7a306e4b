"""The regtest Esplora server: routes, JSON shapes and error texts of electrs, and LWK's
own EsploraClient (the lwk wheel) agreeing to the satoshi with the faucet's ledger and with
the real Liquid testnet wallet fixture."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import lwk
import pytest
from embit.liquid.transaction import LTransaction, TxInWitness, TxOutWitness
from lwk_regtest import DEFAULT_SIGNERS
from lwk_regtest._chain import FAUCET_SCRIPT, RegtestChain
from lwk_regtest._esplora_json import DISCOUNT_CT_START
from lwk_regtest._esplora_server import MAX_BODY_SIZE, EsploraServer
from lwk_regtest._faucet import Faucet
from shared_data import load_fixture

from lwk_core import BlockHeader, Network, verify_header
from lwk_core._hashes import sha256, sha256d

MNEMONIC = "abandon " * 11 + "about"
POLICY = Network.ELEMENTS_REGTEST.policy_asset
LWK_NET = lwk.Network.regtest_default()


class World:
    """A regtest chain with faucet payments to an LWK wallet, served over Esplora."""

    def __init__(self) -> None:
        self.chain = RegtestChain()
        self.faucet = Faucet(self.chain)
        self.descriptor = lwk.Signer(lwk.Mnemonic(MNEMONIC), LWK_NET).wpkh_slip77_descriptor()
        self.wollet = lwk.Wollet(LWK_NET, self.descriptor, None)
        self.addresses = [self.wollet.address(i).address() for i in range(6)]
        self.paid: dict[str, int] = {}  # txid -> sats paid to the wallet
        self.pay(0, 10_000)
        self.pay(1, 20_000)
        self.pay(2, 30_000)
        self.chain.mine()
        self.pay(3, 1_234)
        self.chain.mine(2)
        self.pay(0, 555)
        self.pay(4, 4_321)
        self.server = EsploraServer(self.chain).start()
        self.http = httpx.Client(base_url=self.server.url)

    def pay(self, index: int, sats: int) -> str:
        txid = self.faucet.pay(str(self.addresses[index]), sats)
        self.paid[txid] = sats
        return txid

    def script(self, index: int) -> bytes:
        return bytes(self.addresses[index].script_pubkey().bytes())

    def unconfidential(self, index: int) -> str:
        return str(self.addresses[index].to_unconfidential())

    def close(self) -> None:
        self.http.close()
        self.server.stop()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    w = World()
    yield w
    w.close()


def get(world: World, path: str, status: int = 200) -> httpx.Response:
    response = world.http.get(path)
    assert response.status_code == status, response.text
    return response


def get_json(world: World, path: str) -> Any:
    response = get(world, path)
    assert response.headers["content-type"] == "application/json"
    return response.json()


def error(world: World, path: str, status: int) -> str:
    response = get(world, path, status)
    assert response.headers["content-type"] == "text/plain"
    return response.text


# ------------------------------------------------------------------------- LWK as an oracle


def lwk_scan(world: World, client: Any) -> Any:
    wollet = lwk.Wollet(LWK_NET, world.descriptor, None)
    update = client.full_scan(wollet)
    assert update is not None
    wollet.apply_update(update)
    return wollet


@pytest.mark.lwk
@pytest.mark.parametrize("suffix", ["", "/api"])
def test_lwk_full_scan_agrees_with_the_faucet_ledger(world: World, suffix: str) -> None:
    wollet = lwk_scan(world, lwk.EsploraClient(world.server.url + suffix, LWK_NET))
    assert wollet.balance() == {POLICY: sum(world.paid.values())}
    txs = {str(tx.txid()): tx for tx in wollet.transactions()}
    assert set(txs) == set(world.paid)
    for txid, tx in txs.items():
        height = world.chain.tx_height(txid)
        assert tx.height() == height
        assert tx.timestamp() == (None if height is None else world.chain.block_time(height))
        assert tx.balance() == {POLICY: world.paid[txid]}


@pytest.mark.lwk
def test_lwk_parallel_client_over_concurrent_keep_alive_connections(world: World) -> None:
    builder = lwk.EsploraClientBuilder(base_url=world.server.url, network=LWK_NET, concurrency=8)
    wollet = lwk_scan(world, lwk.EsploraClient.from_builder(builder))
    assert wollet.balance() == {POLICY: sum(world.paid.values())}
    assert len(wollet.transactions()) == len(world.paid)


@pytest.fixture(scope="module")
def testnet() -> Iterator[tuple[dict[str, Any], EsploraServer]]:
    """The real Liquid testnet wallet of the fixtures, each tx at its real height and time."""
    fixture = load_fixture("liquid-testnet-wallet.json")
    chain = RegtestChain(Network.LIQUID_TESTNET)
    for tx in sorted(fixture["transactions"].values(), key=lambda t: t["height"]):
        raw = bytes.fromhex(tx["hex"])
        chain.append_block([raw], height=tx["height"], time=tx["timestamp"], validate=False)
    with EsploraServer(chain) as server:
        yield fixture, server


@pytest.mark.lwk
def test_lwk_syncs_the_real_testnet_wallet_to_the_satoshi(
    testnet: tuple[dict[str, Any], EsploraServer],
) -> None:
    fixture, server = testnet
    network = lwk.Network.testnet()
    wollet = lwk.Wollet(network, lwk.WolletDescriptor(fixture["descriptor"]), None)
    update = lwk.EsploraClient(server.url + "/api", network).full_scan(wollet)
    wollet.apply_update(update)
    expected = fixture["steps"][1]["expected"]
    assert wollet.balance() == expected["balance"]
    got = {str(tx.txid()): tx for tx in wollet.transactions()}
    assert len(got) == expected["tx_count"] == 64
    for want in expected["transactions"]:
        tx = got[want["txid"]]
        assert (tx.height(), tx.timestamp(), tx.fee()) == (
            want["height"],
            want["timestamp"],
            want["fee"],
        )
        assert tx.balance() == want["balance"]
    # LWK 0.19's request pattern: per address mempool, chain, chain/:last_seen.
    assert server.requests["GET /tx/:txid/raw"] == 64
    assert (
        server.requests["GET /address/:address/txs/mempool"]
        == (server.requests["GET /address/:address/txs/chain"])
    )


@pytest.mark.lwk
def test_discount_vsize_agrees_with_lwk(
    world: World, testnet: tuple[dict[str, Any], EsploraServer]
) -> None:
    """Shown for mempool txs and blocks from 2024-12-13 20:00 UTC on (electrs' rule)."""
    fixture, server = testnet
    cases = [(world.server, t, world.chain.tx_raw(t) or b"") for t in world.paid]
    cases += [(server, t, bytes.fromhex(v["hex"])) for t, v in fixture["transactions"].items()]
    shown = 0
    for srv, txid, raw in cases:
        tx = httpx.get(f"{srv.url}/tx/{txid}").json()
        if tx["status"].get("block_time", DISCOUNT_CT_START) < DISCOUNT_CT_START:
            assert "discount_vsize" not in tx
            assert "discount_weight" not in tx
            continue
        shown += 1
        assert tx["discount_vsize"] == lwk.Transaction.from_bytes(raw).discount_vsize()
        assert tx["discount_vsize"] == (tx["discount_weight"] + 3) // 4 < tx["weight"] // 4
    assert len(world.paid) < shown < len(cases)


# ----------------------------------------------------------------------------- chain tip


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_tip_is_plain_text_without_newline(world: World, prefix: str) -> None:
    response = get(world, prefix + "/blocks/tip/hash")
    assert response.text == world.chain.tip_hash()
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["cache-control"] == "public, max-age=10"
    assert get(world, prefix + "/blocks/tip/height").text == str(world.chain.tip_height())


def test_every_block_by_height_and_its_header(world: World) -> None:
    chain = world.chain
    # block 0 by height: the genesis of the network the chain stands in for (LWK's)
    assert get(world, "/block-height/0").text == lwk.Network.regtest_default().genesis_block_hash()
    for height in range(chain.tip_height() + 1):
        block_hash = (
            chain.block_hash(height) if height == 0 else get(world, f"/block-height/{height}").text
        )
        assert block_hash == chain.block_hash(height)
        header = bytes.fromhex(get(world, f"/block/{block_hash}/header").text)
        assert header == chain.header(height)
        # dynafed header signed 2 of 3: the hash skips the signblock witness
        verify_header(BlockHeader.parse(header), DEFAULT_SIGNERS.federation())
        hashed = len(DEFAULT_SIGNERS.unsigned(0x20000000, bytes(32), bytes(32), 0, 0))
        assert sha256d(header[:hashed])[::-1].hex() == block_hash
        assert get(world, f"/block/{block_hash.upper()}/header").text == header.hex()


def merkle_root(txids: list[str]) -> str:
    level = [bytes.fromhex(t)[::-1] for t in txids] or [bytes(32)]
    while len(level) > 1:
        level += level[-1:] * (len(level) % 2)
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0][::-1].hex()


def test_block_json_status_and_txids(world: World) -> None:
    chain = world.chain
    tip = chain.tip_height()
    for height in range(tip + 1):
        block_hash = chain.block_hash(height)
        txids = chain.block_txids(height)
        block = get_json(world, f"/block/{block_hash}")
        raws = [chain.tx_raw(t) or b"" for t in txids]
        times = sorted(chain.block_time(h) for h in range(max(0, height - 10), height + 1))
        assert block == {
            "id": block_hash,
            "height": height,
            "version": 0x20000000,
            "timestamp": chain.block_time(height),
            "tx_count": len(txids),
            "size": len(chain.header(height)) + 1 + sum(map(len, raws)),
            "weight": block["weight"],
            "merkle_root": merkle_root(txids),
            "previousblockhash": chain.block_hash(height - 1) if height else None,
            "mediantime": times[len(times) // 2],
            "ext": block["ext"],
        }
        # the signblock witness: the empty dummy, two signatures, the 2-of-3 script
        witness = block["ext"]["signblock_witness"]
        assert block["ext"] == {"signblock_witness": witness}
        assert [witness[0], len(witness), witness[-1]] == ["", 4, DEFAULT_SIGNERS.script.hex()]
        assert get_json(world, f"/block/{block_hash}/txids") == txids
        status = get_json(world, f"/block/{block_hash}/status")
        expected: dict[str, object] = {"in_best_chain": True, "height": height}
        if height < tip:
            expected["next_best"] = chain.block_hash(height + 1)
        assert status == expected
    genesis = chain.block_hash(0)
    assert get(world, f"/block/{genesis}/txid/0").text == chain.block_txids(0)[0]
    assert error(world, f"/block/{genesis}/txid/1", 404) == "tx index out of range"


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/block-height/999", 404, "Block not found"),
        ("/block-height/x1", 400, "Invalid number"),
        ("/block-height/-1", 400, "Invalid number"),
        (f"/block/{'00' * 32}", 404, "Block not found"),
        (f"/block/{'00' * 32}/header", 404, "Block not found"),
        (f"/block/{'00' * 32}/txids", 404, "Block not found"),
        ("/block/xyz/header", 400, "Invalid hex string"),
        (f"/tx/{'ab' * 32}", 404, "Transaction not found"),
        (f"/tx/{'ab' * 32}/raw", 404, "Transaction not found"),
        (f"/tx/{'ab' * 32}/hex", 404, "Transaction not found"),
        (f"/tx/{'ab' * 32}/outspends", 404, "Transaction not found"),
        (f"/tx/{'ab' * 32}/merkle-proof", 404, "Transaction not found or is unconfirmed"),
        (f"/tx/{'ab' * 31}/raw", 400, "Invalid hex string"),
        ("/scripthash/1234/txs", 400, "Invalid scripthash"),
        ("/nope", 404, 'endpoint does not exist "/nope"'),
        ("/tx/", 400, "Invalid hex string"),  # electrs matches an empty segment as the txid
        (f"/tx/{'ab' * 32}/", 404, f'endpoint does not exist "/tx/{"ab" * 32}/"'),
        ("/api/nope", 404, 'endpoint does not exist "/nope"'),
    ],
)
def test_error_statuses_and_texts_are_electrs(
    world: World, path: str, status: int, text: str
) -> None:
    assert error(world, path, status) == text


def test_unknown_block_and_transaction_have_no_404_status(world: World) -> None:
    assert get_json(world, f"/block/{'00' * 32}/status") == {"in_best_chain": False}
    assert get_json(world, f"/tx/{'ab' * 32}/status") == {"confirmed": False}


def test_addresses_of_another_network_or_malformed_are_refused(world: World) -> None:
    testnet_address = "tex1qntw9m0j2e93n84x975t47ddhgkzx3x8lhfv2nj"
    assert error(world, f"/address/{testnet_address}/txs", 400) == "Address on invalid network"
    assert error(world, "/address/notanaddress/txs", 400)


# --------------------------------------------------------------------------- transactions


def base_size(raw: bytes) -> int:
    """Size without witness, from embit (independent of lwk_core's parser)."""
    tx = LTransaction.parse(raw)
    for txin in tx.vin:
        txin.witness = TxInWitness()
    for out in tx.vout:
        out.witness = TxOutWitness()
    return len(tx.serialize())


def test_tx_json_of_a_blinded_faucet_payment(world: World) -> None:
    chain = world.chain
    txid = next(t for t in world.paid if chain.tx_height(t) is not None)
    raw = chain.tx_raw(txid) or b""
    tx = get_json(world, f"/tx/{txid}")
    height = chain.tx_height(txid)
    assert height is not None
    assert tx["status"] == {
        "confirmed": True,
        "block_height": height,
        "block_hash": chain.block_hash(height),
        "block_time": chain.block_time(height),
    }
    assert (tx["txid"], tx["size"]) == (txid, len(raw))
    assert tx["weight"] == 3 * base_size(raw) + len(raw)
    assert tx["fee"] == chain.tx_fee(txid) == world.faucet.fee
    parsed = LTransaction.parse(raw)
    assert (tx["version"], tx["locktime"]) == (parsed.version, parsed.locktime)
    for vin, txin in zip(tx["vin"], parsed.vin, strict=True):
        assert (vin["txid"], vin["vout"]) == (txin.txid.hex(), txin.vout)
        assert (vin["is_coinbase"], vin["is_pegin"]) == (False, False)
        assert vin["sequence"] == txin.sequence
        assert vin["prevout"]["scriptpubkey"] == FAUCET_SCRIPT.hex()
        assert vin["prevout"]["scriptpubkey_type"] == "v0_p2wpkh"
        assert vin["prevout"]["asset"] == POLICY
        assert "issuance" not in vin
    kinds = [vout["scriptpubkey_type"] for vout in tx["vout"]]
    assert kinds.count("fee") == 1
    fee = tx["vout"][kinds.index("fee")]
    assert fee == {
        "scriptpubkey": "",
        "scriptpubkey_type": "fee",
        "value": world.faucet.fee,
        "asset": POLICY,
    }
    ours = [v for v in tx["vout"] if v["scriptpubkey"] in {world.script(i).hex() for i in range(6)}]
    assert len(ours) == 1
    (out,) = ours
    assert set(out) == {
        "scriptpubkey",
        "scriptpubkey_type",
        "scriptpubkey_address",
        "valuecommitment",
        "assetcommitment",
    }
    index = next(i for i in range(6) if world.script(i).hex() == out["scriptpubkey"])
    assert out["scriptpubkey_address"] == world.unconfidential(index)
    assert out["valuecommitment"][:2] in ("08", "09")
    assert out["assetcommitment"][:2] in ("0a", "0b")


def test_raw_and_hex(world: World) -> None:
    for txid in world.paid:
        raw = world.chain.tx_raw(txid)
        response = get(world, f"/tx/{txid}/raw")
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.content == raw
        assert get(world, f"/api/tx/{txid.upper()}/hex").text == (raw or b"").hex()


def test_tx_status_confirmed_and_mempool(world: World) -> None:
    for txid in world.paid:
        height = world.chain.tx_height(txid)
        status = get_json(world, f"/tx/{txid}/status")
        assert status["confirmed"] is (height is not None)
        if height is None:
            assert status == {"confirmed": False}
        else:
            assert status["block_hash"] == world.chain.block_hash(height)


def test_merkle_proof_folds_to_the_header_merkle_root(world: World) -> None:
    for txid in world.paid:
        height = world.chain.tx_height(txid)
        if height is None:
            continue
        proof = get_json(world, f"/tx/{txid}/merkle-proof")
        assert proof["block_height"] == height
        node, pos = bytes.fromhex(txid)[::-1], proof["pos"]
        for sibling in proof["merkle"]:
            pair = (
                (bytes.fromhex(sibling)[::-1], node)
                if pos & 1
                else (node, bytes.fromhex(sibling)[::-1])
            )
            node, pos = sha256d(pair[0] + pair[1]), pos >> 1
        assert node == world.chain.header(height)[36:68]


def test_outspends_of_the_premine(world: World) -> None:
    genesis = world.chain.block_txids(0)[0]
    outspends = get_json(world, f"/tx/{genesis}/outspends")
    spenders: dict[int, tuple[str, int]] = {}
    for txid in world.paid:
        for vin, txin in enumerate(LTransaction.parse(world.chain.tx_raw(txid) or b"").vin):
            if txin.txid.hex() == genesis:
                spenders[txin.vout] = (txid, vin)
    assert spenders
    for vout, spend in enumerate(outspends):
        if vout not in spenders:
            assert spend == {"spent": False}
            continue
        txid, vin = spenders[vout]
        assert spend == {
            "spent": True,
            "txid": txid,
            "vin": vin,
            "status": get_json(world, f"/tx/{txid}/status"),
        }
        assert get_json(world, f"/tx/{genesis}/outspend/{vout}") == spend


# ----------------------------------------------------------------------- script histories


def test_address_stats_utxos_and_histories(world: World) -> None:
    address = world.unconfidential(0)
    confirmed = [t for t in world.paid if world.chain.tx_height(t) is not None]
    mine = [t for t in world.paid if world.script(0) in _scripts(world, t)]
    assert len(mine) == 2
    chain_tx, mempool_tx = sorted(mine, key=lambda t: t not in confirmed)
    stats = get_json(world, f"/address/{address}")
    assert stats == {
        "address": address,
        "chain_stats": {"tx_count": 1, "funded_txo_count": 1, "spent_txo_count": 0},
        "mempool_stats": {"tx_count": 1, "funded_txo_count": 1, "spent_txo_count": 0},
    }
    assert [t["txid"] for t in get_json(world, f"/address/{address}/txs")] == [mempool_tx, chain_tx]
    assert [t["txid"] for t in get_json(world, f"/address/{address}/txs/chain")] == [chain_tx]
    assert [t["txid"] for t in get_json(world, f"/address/{address}/txs/mempool")] == [mempool_tx]
    utxos = get_json(world, f"/address/{address}/utxo")
    assert [(u["txid"], u["status"]["confirmed"]) for u in utxos] == [
        (chain_tx, True),
        (mempool_tx, False),
    ]
    for utxo in utxos:
        out = LTransaction.parse(world.chain.tx_raw(utxo["txid"]) or b"").vout[utxo["vout"]]
        assert out.script_pubkey.data == world.script(0)
        assert utxo["valuecommitment"] == out.value.hex()
        assert utxo["assetcommitment"] == out.asset.hex()
        assert utxo["noncecommitment"] == out.ecdh_pubkey.hex()
        assert utxo["range_proof"] == out.witness.range_proof.data.hex()
        assert utxo["surjection_proof"] == out.witness.surjection_proof.data.hex()
        assert "value" not in utxo and "asset" not in utxo


def _scripts(world: World, txid: str) -> list[bytes]:
    return [o.script_pubkey.data for o in LTransaction.parse(world.chain.tx_raw(txid) or b"").vout]


def test_confidential_address_and_scripthash_routes_agree(world: World) -> None:
    confidential = str(world.addresses[1])
    digest = sha256(world.script(1))
    by_address = get_json(world, f"/address/{confidential}/txs")
    assert by_address == get_json(world, f"/address/{world.unconfidential(1)}/txs")
    assert by_address == get_json(world, f"/scripthash/{digest.hex()}/txs")
    assert len(by_address) == 1
    # Esplora's script hash is NOT reversed: the reversed one is an unknown (empty) script
    assert get_json(world, f"/scripthash/{digest[::-1].hex()}/txs") == []
    stats = get_json(world, f"/scripthash/{digest.hex()}")
    assert stats["scripthash"] == digest.hex()
    assert stats["chain_stats"]["tx_count"] == 1


def test_an_unused_address_answers_empty_lists(world: World) -> None:
    address = world.unconfidential(5)
    for route in ("/txs", "/txs/chain", "/txs/mempool", "/utxo", f"/txs/chain/{'ab' * 32}"):
        assert get_json(world, f"/address/{address}{route}") == []
    zeros = {"tx_count": 0, "funded_txo_count": 0, "spent_txo_count": 0}
    assert get_json(world, f"/address/{address}") == {
        "address": address,
        "chain_stats": zeros,
        "mempool_stats": zeros,
    }


# ------------------------------------------------------------------------------ broadcast


def test_broadcast_accepts_rejects_and_caps_the_body(world: World) -> None:
    chain = world.chain
    txid = list(world.paid)[-1]  # the payment to address 4, alone in the mempool
    raw = chain.tx_raw(txid) or b""
    chain.evict(txid)
    assert not chain.in_mempool(txid)
    response = world.http.post("/tx", content=raw.hex())
    assert (response.status_code, response.text) == (200, txid)
    assert chain.in_mempool(txid)
    assert world.http.post("/api/tx", content=raw.hex()).text == txid  # already accepted
    confirmed = next(t for t in world.paid if chain.tx_height(t) is not None)
    rejected = world.http.post("/tx", content=(chain.tx_raw(confirmed) or b"").hex())
    assert (rejected.status_code, rejected.text) == (
        400,
        "sendrawtransaction RPC error -27: Transaction already in block chain",
    )
    decode_failed = (
        "sendrawtransaction RPC error -22: TX decode failed. "
        "Make sure the tx has at least one input."
    )
    for body in ("zz", raw.hex() + "0", raw.hex()[:-2], raw.hex() + "\n", ""):
        bad = world.http.post("/tx", content=body)
        assert (bad.status_code, bad.text) == (400, decode_failed)
    too_big = world.http.post("/tx", content=b"0" * (MAX_BODY_SIZE + 2))
    assert (too_big.status_code, too_big.text) == (413, "Request body too large")


@pytest.mark.lwk
def test_lwk_broadcast_posts_hex_and_reads_the_txid(world: World) -> None:
    chain = world.chain
    txid = next(t for t in world.paid if chain.in_mempool(t))
    raw = chain.tx_raw(txid) or b""
    chain.evict(txid)
    client = lwk.EsploraClient(world.server.url, LWK_NET)
    assert str(client.broadcast(lwk.Transaction.from_bytes(raw))) == txid
    assert chain.in_mempool(txid)


# -------------------------------------------------------------------------------- serving


def test_keep_alive_and_nodelay_make_sequential_requests_cheap(world: World) -> None:
    """One connection, one send per reply: 200 requests take nowhere near 200 x 40 ms."""
    with httpx.Client(base_url=world.server.url) as client:
        started = time.perf_counter()
        for _ in range(200):
            assert client.get("/blocks/tip/height").text == str(world.chain.tip_height())
        elapsed = time.perf_counter() - started
    assert elapsed < 200 * 0.04 / 2, elapsed  # half of what delayed ACKs alone would cost


def test_pipelined_requests_on_one_connection(world: World) -> None:
    host, port = world.server.url.removeprefix("http://").split(":")
    request = f"GET /blocks/tip/height HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request * 3)
        data = b""
        while data.count(b"HTTP/1.1 200 OK") < 3 or not data.endswith(
            str(world.chain.tip_height()).encode()
        ):
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    assert data.count(b"Content-Length: ") == 3


def test_ten_concurrent_keep_alive_clients(world: World) -> None:
    expected = {t: world.chain.tx_raw(t) for t in world.paid}
    failures: list[str] = []

    def worker() -> None:
        with httpx.Client(base_url=world.server.url) as client:
            for _ in range(10):
                for txid, raw in expected.items():
                    if client.get(f"/tx/{txid}/raw").content != raw:
                        failures.append(txid)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_requests_are_counted_per_route(world: World) -> None:
    before = world.server.requests.copy()
    get(world, f"/tx/{next(iter(world.paid))}/raw")
    get(world, "/api/blocks/tip/hash")
    error(world, "/nope", 404)
    after = world.server.requests
    assert after - before == {
        "GET /tx/:txid/raw": 1,
        "GET /blocks/tip/hash": 1,
        "unknown": 1,
    }
