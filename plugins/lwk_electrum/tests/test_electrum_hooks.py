"""Each hook against the fake server: what is asked on the wire, what is checked, what is cached."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from electrum_fake import FakeElectrum, fail, notification
from lwk_electrum import ElectrumClient, ElectrumError, _requests, _subscriptions
from lwk_electrum import _plugin as plugin
from shared_data import load_fixture

from lwk_core import BackendProtocolError, HistoryEntry, MerkleProof, connect
from lwk_core._header import BlockHeader, merkle_branch, parse_block

VECTORS = load_fixture("elements-vectors.json")
WALLET = load_fixture("liquid-testnet-wallet.json")


def client(fake: FakeElectrum, **kw: Any) -> ElectrumClient:
    return ElectrumClient(fake.hostport, False, False, **kw)


def constant(value: Any) -> Any:
    return lambda params: value


def header(height: int, root: str = "11" * 32, time: int = 1_700_000_000) -> BlockHeader:
    return BlockHeader.legacy("22" * 32, root, time + height, height)


# -- tip and headers ----------------------------------------------------------------------


def vector_header(vector: dict[str, str]) -> str:
    if "block_hex" in vector:
        return parse_block(bytes.fromhex(vector["block_hex"]))[0].to_hex()
    if "dynafed" in vector["name"]:
        return vector["header_hex"][:-4]  # the fixture runs 2 bytes into the block (01 02)
    return vector["header_hex"]


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"][:20])
def test_tip_parses_real_headers(fake: FakeElectrum, vector: dict[str, str]) -> None:
    hex_header = vector_header(vector)
    parsed = BlockHeader.from_hex(hex_header)
    fake.handlers["blockchain.headers.subscribe"] = lambda params: {
        "hex": hex_header,
        "height": parsed.height,
    }
    tip = client(fake).tip()
    assert tip.block_hash() == vector["header_hash"]  # rust-elements' hash of this header
    assert (tip.height, tip.timestamp) == (parsed.height, parsed.time)
    assert tip.header == bytes.fromhex(hex_header)


@pytest.mark.parametrize(
    "answer",
    [
        {"hex": header(5).to_hex(), "height": 6},  # header says 5
        {"hex": header(5).to_hex() + "00", "height": 5},  # trailing byte
        {"hex": header(5).to_hex()[:-2], "height": 5},  # truncated
        {"hex": "zz", "height": 5},
        {"hex": 5, "height": 5},
        {"hex": header(5).to_hex()},
        {"hex": header(5).to_hex(), "height": True},
        [header(5).to_hex(), 5],
    ],
)
def test_tip_rejects_malformed_answers(fake: FakeElectrum, answer: Any) -> None:
    fake.handlers["blockchain.headers.subscribe"] = lambda params: answer
    with pytest.raises(BackendProtocolError):
        client(fake).tip()


def tip_answer(height: int) -> dict[str, Any]:
    return {"hex": header(height).to_hex(), "height": height}


def test_tip_follows_pushed_headers_without_asking(fake: FakeElectrum) -> None:
    fake.handlers["blockchain.headers.subscribe"] = lambda params: tip_answer(5)
    c = client(fake)
    assert c.tip().height == 5
    assert c.tip().height == 5
    fake.notify("blockchain.headers.subscribe", [tip_answer(6)])
    c.ping()  # the notification comes before this reply on the stream
    tip = c.tip()
    assert (tip.height, tip.header) == (6, header(6).to_bytes())
    assert fake.methods() == [
        "server.version",
        "blockchain.headers.subscribe",
        "server.ping",
    ]


def test_a_history_above_the_kept_tip_makes_the_next_tip_ask(fake: FakeElectrum) -> None:
    chain = {"height": 5}
    fake.handlers["blockchain.headers.subscribe"] = lambda params: tip_answer(chain["height"])
    index = Histories(fake)
    spk = b"\x51\x09"
    index.by_sh[scripthash(spk)] = [("0d" * 32, 5)]
    c = client(fake)
    assert c.tip().height == 5
    c.scan_scripts([spk])  # at the tip: the kept tip stands
    assert c.tip().height == 5
    assert fake.methods().count("blockchain.headers.subscribe") == 1
    # Block 6 confirms a payment; its header notification has not arrived yet.
    chain["height"] = 6
    index.by_sh[scripthash(spk)].append(("0e" * 32, 6))
    index.push(scripthash(spk))
    assert c.scan_scripts([spk])[0][-1] == HistoryEntry("0e" * 32, 6)
    assert c.tip().height == 6
    assert fake.methods().count("blockchain.headers.subscribe") == 2


def test_malformed_pushed_header_drops_the_connection(fake: FakeElectrum) -> None:
    fake.handlers["blockchain.headers.subscribe"] = lambda params: tip_answer(5)
    c = client(fake)
    assert c.tip().height == 5
    fake.gate = 2
    fake.between = [notification("blockchain.headers.subscribe", [{"hex": "zz", "height": 6}])]
    with pytest.raises(BackendProtocolError, match="malformed header notification"):
        c.connection.rpc.batch([("server.ping", []), ("server.ping", [])])
    fake.gate, fake.between = 0, []
    assert c.tip().height == 5  # reconnected, and asked again
    assert (fake.accepted, fake.methods().count("blockchain.headers.subscribe")) == (2, 2)


def test_a_kept_tip_is_asked_again_after_tip_max_age(
    fake: FakeElectrum, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that stopped pushing headers cannot freeze the tip."""
    fake.handlers["blockchain.headers.subscribe"] = lambda params: tip_answer(5)
    monkeypatch.setattr(_subscriptions, "TIP_MAX_AGE", 0.0)
    c = client(fake)
    c.tip()
    c.tip()
    assert fake.methods().count("blockchain.headers.subscribe") == 2


def headers_handler(served_max: int = 2016) -> Any:
    """blockchain.block.headers as electrs answers it, at most `served_max` per call."""

    def answer(params: list[int]) -> dict[str, Any]:
        start, count = params[0], min(params[1], served_max)
        hex_headers = "".join(header(h).to_hex() for h in range(start, start + count))
        return {"count": count, "hex": hex_headers, "max": served_max}

    return answer


def test_header_ranges_bridge_close_heights_and_respect_the_cap() -> None:
    assert _requests.header_ranges([9, 3, 7, 3, 40, 41], 2016) == [(3, 7), (40, 2)]
    assert _requests.header_ranges([3, 7, 9], 4) == [(3, 1), (7, 3)]  # no range longer than 4
    assert _requests.header_ranges([5, 100], 2016) == [(5, 1), (100, 1)]


def test_block_headers_by_ranges_in_one_burst(fake: FakeElectrum) -> None:
    fake.handlers["blockchain.block.headers"] = headers_handler()
    c = client(fake)
    fake.gate = 2  # the two ranges must come in one burst
    assert c.block_headers([7, 3, 7, 9, 60]) == {h: header(h).to_bytes() for h in (3, 7, 9, 60)}
    assert [m for m in fake.methods() if m.startswith("blockchain.")] == [
        "blockchain.block.headers"
    ] * 2


def test_block_headers_asks_on_where_the_server_cut_a_range(fake: FakeElectrum) -> None:
    fake.handlers["blockchain.block.headers"] = headers_handler(served_max=2)
    c = client(fake)
    assert c.block_headers([3, 7]) == {h: header(h).to_bytes() for h in (3, 7)}
    assert fake.methods().count("blockchain.block.headers") == 3  # 3-4, 5-6, 7


@pytest.mark.parametrize(
    "answer",
    [
        {"count": 1, "hex": header(3).to_hex() + header(4).to_hex()},  # more than said
        {"count": 2, "hex": header(3).to_hex()},  # fewer than said
        {"count": 0, "hex": ""},  # nothing: would never end
        {"count": 1, "hex": header(3).to_hex()[:-2]},
        {"count": 1, "hex": "zz"},
        [header(3).to_hex()],
    ],
)
def test_block_headers_rejects_malformed_ranges(fake: FakeElectrum, answer: Any) -> None:
    fake.handlers["blockchain.block.headers"] = constant(answer)
    with pytest.raises(BackendProtocolError, match="header"):
        client(fake).block_headers([3])


# -- histories -----------------------------------------------------------------------------

SPK = bytes.fromhex(VECTORS["scripthash"]["script_pubkey"])
SPK_ESPLORA = VECTORS["scripthash"]["esplora"]


def test_scan_uses_the_reversed_script_hash_and_maps_mempool_heights(fake: FakeElectrum) -> None:
    history = [[txid, height] for txid, height in VECTORS["electrum_status"]["history"]]
    electrum_sh = bytes.fromhex(SPK_ESPLORA)[::-1].hex()  # Electrum's is the reversed one
    fake.handlers["blockchain.scripthash.subscribe"] = lambda params: (
        VECTORS["electrum_status"]["status"] if params == [electrum_sh] else None
    )
    fake.handlers["blockchain.scripthash.get_history"] = lambda params: [
        {"tx_hash": t, "height": h, **({"fee": 100} if h <= 0 else {})} for t, h in history
    ]
    assert client(fake).scan_scripts([SPK]) == [
        [HistoryEntry(t, h if h > 0 else None) for t, h in history]
    ]
    assert ("blockchain.scripthash.get_history", [electrum_sh]) in [
        (m, p) for _, m, p in fake.requests
    ]


@pytest.mark.parametrize(
    "history",
    [
        {"tx_hash": "aa" * 32, "height": 1},
        ["aa" * 32],
        [{"tx_hash": "aa" * 31, "height": 1}],
        [{"tx_hash": "zz" * 32, "height": 1}],
        [{"height": 1}],
        [{"tx_hash": "aa" * 32, "height": "1"}],
        [{"tx_hash": "aa" * 32, "height": -2}],
        [{"tx_hash": "aa" * 32, "height": True}],
        [{"tx_hash": "aa" * 32}],
    ],
)
def test_scan_rejects_nonsense_histories(fake: FakeElectrum, history: Any) -> None:
    fake.handlers["blockchain.scripthash.subscribe"] = lambda params: "cd" * 32
    fake.handlers["blockchain.scripthash.get_history"] = lambda params: history
    with pytest.raises(BackendProtocolError):
        client(fake).scan_scripts([SPK])


@pytest.mark.parametrize("status", [5, "abc", ["cd" * 32]])
def test_scan_rejects_nonsense_statuses(fake: FakeElectrum, status: Any) -> None:
    fake.handlers["blockchain.scripthash.subscribe"] = lambda params: status
    with pytest.raises(BackendProtocolError, match="status"):
        client(fake).scan_scripts([SPK])


class Histories:
    """A server-side script index: scripthash -> [(txid, height)], with electrs' status."""

    def __init__(self, fake: FakeElectrum) -> None:
        self.fake = fake
        self.by_sh: dict[str, list[tuple[str, int]]] = {}
        fake.handlers["blockchain.scripthash.subscribe"] = lambda p: self.status(p[0])
        fake.handlers["blockchain.scripthash.get_history"] = lambda p: [
            {"tx_hash": t, "height": h} for t, h in self.by_sh.get(p[0], [])
        ]

    def status(self, sh: str) -> str | None:
        history = self.by_sh.get(sh)
        if not history:
            return None
        return hashlib.sha256("".join(f"{t}:{h}:" for t, h in history).encode()).hexdigest()

    def push(self, sh: str) -> None:
        """Notify the script's new status, as a server does to its subscribers."""
        self.fake.notify("blockchain.scripthash.subscribe", [sh, self.status(sh)])


def scripthash(spk: bytes) -> str:
    return hashlib.sha256(spk).digest()[::-1].hex()


def test_an_unchanged_rescan_asks_nothing_and_a_pushed_status_its_history(
    fake: FakeElectrum,
) -> None:
    index = Histories(fake)
    scripts = [bytes([0x51, i]) for i in range(20)]
    for i in (2, 5, 11):
        index.by_sh[scripthash(scripts[i])] = [(f"{i:02x}" * 32, 100 + i)]
    c = client(fake, timeout=2)
    c.ping()
    # First scan: every script is new to the client; its subscription tells whether it has
    # a history, and only those with one (2, 5, 11) have it asked, in the same exchange
    # (after the 20 subscriptions, written in one burst).
    before = len(fake.requests)
    first = c.scan_scripts(scripts)
    assert [i for i, h in enumerate(first) if h] == [2, 5, 11]
    assert first[5] == [HistoryEntry("05" * 32, 105)]
    sent = [(m, p[0]) for _, m, p in fake.requests[before:]]
    shs = [scripthash(s) for s in scripts]
    assert sent == [("blockchain.scripthash.subscribe", sh) for sh in shs] + [
        ("blockchain.scripthash.get_history", shs[i]) for i in (2, 5, 11)
    ]

    # Subscribed on this connection, every status is current (a change would be pushed):
    # nothing is asked.
    before = len(fake.requests)
    assert c.scan_scripts(scripts) == first
    assert fake.requests[before:] == []

    # A payment to script 5 arrives: the server pushes its new status, and the next scan
    # asks exactly that history, nothing else.
    sh5 = scripthash(scripts[5])
    index.by_sh[sh5].append(("ee" * 32, 0))
    index.push(sh5)
    before = len(fake.requests)
    third = c.scan_scripts(scripts)
    assert third[5] == [HistoryEntry("05" * 32, 105), HistoryEntry("ee" * 32, None)]
    assert [(m, p) for _, m, p in fake.requests[before:]] == [
        ("blockchain.scripthash.get_history", [sh5])
    ]
    assert [h for i, h in enumerate(third) if i != 5] == [h for i, h in enumerate(first) if i != 5]


def test_a_history_is_cached_under_its_own_status_only(fake: FakeElectrum) -> None:
    """A history that changed between the subscribe and the get_history of one burst is not
    served later for the status the subscribe reported."""
    index = Histories(fake)
    spk = b"\x51\x07"
    sh = scripthash(spk)
    confirmed = [("0a" * 32, 100)]
    index.by_sh[sh] = confirmed
    old_status = index.status(sh)
    # A mempool transaction appears after the subscribe was answered, then is dropped.
    fake.handlers["blockchain.scripthash.subscribe"] = lambda p: old_status
    index.by_sh[sh] = [*confirmed, ("0b" * 32, 0)]
    c = client(fake)
    assert c.scan_scripts([spk]) == [[HistoryEntry("0a" * 32, 100), HistoryEntry("0b" * 32, None)]]
    index.by_sh[sh] = confirmed
    before = len(fake.requests)
    assert c.scan_scripts([spk]) == [[HistoryEntry("0a" * 32, 100)]]
    assert fake.methods()[before:] == ["blockchain.scripthash.get_history"]
    # Fetched under that status now: the next rescan is served from the cache.
    before = len(fake.requests)
    assert c.scan_scripts([spk]) == [[HistoryEntry("0a" * 32, 100)]]
    assert fake.methods()[before:] == []


def test_a_connection_dropped_while_idle_is_never_answered_from(fake: FakeElectrum) -> None:
    index = Histories(fake)
    scripts = [b"\x51\x01", b"\x51\x02"]
    shs = [scripthash(s) for s in scripts]
    index.by_sh[shs[0]] = [("0a" * 32, 10)]
    c = client(fake)
    first = c.scan_scripts(scripts)
    fake.drop_all()  # the server goes away between scans: no push tells what follows
    index.by_sh[shs[1]] = [("0b" * 32, 11)]
    before = len(fake.requests)
    assert c.scan_scripts(scripts) == [first[0], [HistoryEntry("0b" * 32, 11)]]
    # Reconnected: the subscriptions restored (their statuses void until then), then the
    # history of the one whose status changed.
    assert [(m, p) for _, m, p in fake.requests[before:]] == [
        ("server.version", ["lwk-electrum 0.1", "1.4"]),
        *[("blockchain.scripthash.subscribe", [sh]) for sh in shs],
        ("blockchain.scripthash.get_history", [shs[1]]),
    ]


def test_a_server_that_does_not_push_is_trusted_until_the_connection_is_restored(
    fake: FakeElectrum,
) -> None:
    """The trust assumption (README): a script's status comes from the server's pushes; a
    server that changes a history without pushing is believed until the next reconnect."""
    index = Histories(fake)
    spk = b"\x51\x03"
    sh = scripthash(spk)
    c = client(fake)
    assert c.scan_scripts([spk]) == [[]]
    index.by_sh[sh] = [("0c" * 32, 12)]  # and no push
    before = len(fake.requests)
    assert c.scan_scripts([spk]) == [[]]  # what the server last said
    assert fake.requests[before:] == []
    fake.drop_all()
    assert c.scan_scripts([spk]) == [[HistoryEntry("0c" * 32, 12)]]


def test_after_a_broadcast_the_next_scan_asks_the_statuses_again(fake: FakeElectrum) -> None:
    """The server's push about a broadcast transaction may come after its reply: the next
    scan asks (as LWK's, which always asks), so a wallet sees what it just sent."""
    index = Histories(fake)
    spk = b"\x51\x04"
    sh = scripthash(spk)
    fake.handlers["blockchain.transaction.broadcast"] = lambda params: TXID
    c = client(fake)
    assert c.scan_scripts([spk]) == [[]]
    assert c.connection.broadcast(bytes.fromhex(TX_HEX)) == TXID
    index.by_sh[sh] = [(TXID, 0)]  # in the server's mempool, not pushed yet
    before = len(fake.requests)
    assert c.scan_scripts([spk]) == [[HistoryEntry(TXID, None)]]
    assert fake.methods()[before:] == [
        "blockchain.scripthash.subscribe",
        "blockchain.scripthash.get_history",
    ]
    before = len(fake.requests)
    assert c.scan_scripts([spk]) == [[HistoryEntry(TXID, None)]]
    assert fake.requests[before:] == []


def test_statuses_are_checked_before_error_replies_and_subscriptions_kept(
    fake: FakeElectrum,
) -> None:
    index = Histories(fake)
    scripts = [b"\x51\x01", b"\x51\x02"]
    index.by_sh[scripthash(scripts[1])] = [("0c" * 32, 3)]
    fake.handlers["blockchain.scripthash.get_history"] = fail(
        {"code": 1, "message": "Too many history entries"}
    )
    c = client(fake)
    with pytest.raises(ElectrumError, match="Too many"):
        c.scan_scripts(scripts)
    assert c.connection.rpc.connected  # an error reply, the stream in step
    fake.drop_all()
    c.ping()  # reconnects, restoring both subscriptions made by the failed scan
    assert fake.methods()[-3:] == ["blockchain.scripthash.subscribe"] * 2 + ["server.ping"]


# -- SPV ------------------------------------------------------------------------------------


def test_merkle_proofs_pipelined_and_typed(fake: FakeElectrum) -> None:
    block = [f"{i:02x}" * 32 for i in range(1, 6)]
    proofs = {
        txid: {"block_height": 50, "merkle": merkle_branch(block, i), "pos": i}
        for i, txid in enumerate(block)
    }
    fake.handlers["blockchain.transaction.get_merkle"] = lambda params: proofs[params[0]]
    c = client(fake)
    fake.gate = 2  # both in one burst
    assert c.merkle_proofs([(block[3], 50), (block[1], 50)]) == [
        MerkleProof(50, tuple(merkle_branch(block, 3)), 3),
        MerkleProof(50, tuple(merkle_branch(block, 1)), 1),
    ]
    with fake._lock:
        asked = [params for _, method, params in fake.requests if "get_merkle" in method]
    assert asked == [[block[3], 50], [block[1], 50]]


@pytest.mark.parametrize(
    "answer",
    [
        {"block_height": 50, "merkle": "nope", "pos": 3},
        {"block_height": "50", "merkle": [], "pos": 3},
        {"block_height": 50, "merkle": [1], "pos": 3},
        {"block_height": 50, "merkle": []},
        ["11" * 32],
    ],
)
def test_malformed_merkle_proofs_are_protocol_errors(fake: FakeElectrum, answer: Any) -> None:
    fake.handlers["blockchain.transaction.get_merkle"] = constant(answer)
    with pytest.raises(BackendProtocolError, match="merkle proof"):
        client(fake).merkle_proofs([("11" * 32, 50)])


# -- transactions and broadcast ---------------------------------------------------------------

TXID, TX = next(iter(WALLET["transactions"].items()))
TX_HEX = TX["hex"]


def test_get_tx_pipelined_and_checked(fake: FakeElectrum) -> None:
    fake.handlers["blockchain.transaction.get"] = lambda params: TX_HEX
    c = client(fake)
    tx = c.get_tx(TXID)
    assert (tx.txid, tx.size()) == (TXID, len(TX_HEX) // 2)
    fake.handlers["blockchain.transaction.get"] = lambda params: "not hex"
    with pytest.raises(BackendProtocolError, match="not hex"):
        c.get_raw_txs([TXID])
    fake.handlers["blockchain.transaction.get"] = fail("missing transaction")
    with pytest.raises(ElectrumError, match="missing transaction"):
        c.get_raw_txs([TXID])
    fake.handlers["blockchain.transaction.get"] = lambda params: TX_HEX
    with pytest.raises(BackendProtocolError, match="hashing to"):  # core re-hashes
        c.get_tx("ab" * 32)


def test_broadcast_returns_the_txid_and_checks_it(fake: FakeElectrum) -> None:
    fake.handlers["blockchain.transaction.broadcast"] = lambda params: TXID
    c = client(fake)
    assert c.broadcast(TX_HEX) == TXID
    assert fake.requests[-1][2] == [TX_HEX]
    fake.handlers["blockchain.transaction.broadcast"] = lambda params: "ab" * 32
    with pytest.raises(BackendProtocolError, match="broadcast answered txid"):
        c.broadcast(bytes.fromhex(TX_HEX))


# -- plugin wiring ------------------------------------------------------------------------


def test_connect_by_url_and_options(fake: FakeElectrum, fresh_plugins: None) -> None:
    c = connect(f"tcp://{fake.hostport}", None, timeout=5)
    assert isinstance(c, ElectrumClient)
    assert c.connection.rpc.timeout == 5
    c.ping()
    assert fake.methods() == ["server.version", "server.ping"]
    with pytest.raises(TypeError):
        connect(f"tcp://{fake.hostport}", None, no_such_option=1)
    assert sorted(plugin.lwk_schemes()) == ["ssl", "tcp"]
