"""Fuzzing every parser that reads network or user input: nothing but our own errors escape.

Two levels:

- each parser alone (Electrum history/tip/header/error/broadcast-reason validators,
  Esplora text/JSON/page/mempool/Retry-After parsers, URLs, network names), fed random
  values, random JSON and mutations of valid answers;
- whole scans through a man-in-the-middle that passes the real regtest servers' answers
  on and falsifies some of them (mutated JSON, bytes, ids, statuses, cut, oversized or
  missing replies, dropped connections): the scan and `apply_update` may only raise
  `lwk_core.LwkError`, and what is accepted holds only real transactions with their true
  amounts (a liar can hide a payment, never invent or alter one), and with `verify_merkle`
  only true heights.

Each parser runs EXAMPLES examples by default and each scan fuzzer SCAN_EXAMPLES;
`pytest -m slow` runs DEEP of each, plus the transaction, header, descriptor and address
fuzzers of tests/test_*.py with their own oracles (their 300-example versions run by default
in those files).
"""

from __future__ import annotations

import collections
import copy
import email.utils
import json
import re
import socket
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import test_descriptor  # type: ignore[import-not-found]
import test_header  # type: ignore[import-not-found]
import test_transaction  # type: ignore[import-not-found]
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lwk_electrum import _plugin as electrum_plugin
from lwk_electrum._connection import ElectrumConnection
from lwk_electrum._endpoint import Endpoint
from lwk_electrum._errors import ElectrumError, broadcast_reason
from lwk_electrum._headers import parse_header, parse_tip
from lwk_electrum._scan import parse_history
from lwk_electrum._session import ElectrumSession
from lwk_esplora import EsploraClient, _retry
from lwk_esplora import _parse as esplora
from lwk_esplora._response import MAX_BODY, Reply
from lwk_esplora._retry import parse_retry_after
from lwk_esplora._steps import _tx_scripts
from lwk_regtest import Regtest, RegtestChain
from reliability_support import (
    FundedWallet,
    chain_height_of,
    chain_tip,
    fund,
    summary,
    sync_into,
)

from lwk_core import (
    BackendChain,
    BackendProtocolError,
    BlockHeader,
    BroadcastRejected,
    Chain,
    Client,
    DecodeError,
    LwkError,
    Network,
    UpdateError,
    connect,
)
from lwk_core._address import address_to_script, script_to_address
from lwk_core._header import parse_block

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

EXAMPLES = 300
SCAN_EXAMPLES = 150  # a whole scan per example (each unblinds a few outputs)
DEEP = 10_000
DEEP_TIMEOUT = 3600  # seconds, per deep test (the default pytest timeout is 120)
BACKEND = "tcp://fuzz.invalid:1"
HEX64 = re.compile(r"[0-9a-f]{64}")

Check = Callable[[Any], None]

# -- strategies -----------------------------------------------------------------------------

KEYS = [
    "tx_hash",
    "height",
    "hex",
    "txid",
    "status",
    "confirmed",
    "block_height",
    "block_time",
    "block_hash",
    "merkle",
    "pos",
    "mempool_stats",
    "tx_count",
    "vout",
    "vin",
    "prevout",
    "scriptpubkey",
    "code",
    "message",
    "id",
    "result",
    "error",
    "method",
    "params",
    "jsonrpc",
]
hex64 = st.binary(min_size=32, max_size=32).map(bytes.hex)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | hex64
    | st.text("0123456789abcdefABCDEF", max_size=90)
    | st.sampled_from([0, -1, 1, 2**31, 2**32, 2**63, -(2**63)])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place inside a JSON value, the root included."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _tweak(draw: st.DrawFn, value: Any) -> Any:
    """A plausible wrong value of the same kind: what a buggy or lying server sends."""
    if isinstance(value, bool):
        return draw(st.sampled_from([not value, int(value), str(value).lower()]))
    if isinstance(value, int):
        return draw(st.sampled_from([value + 1, value - 1, 0, -1, -value, 2**32, 2**63, 10**30]))
    if isinstance(value, str):
        pos = draw(st.integers(0, len(value)))
        ch = draw(st.sampled_from(list("0aAfgG :\n\x00é")))
        edits = [value[:pos] + ch + value[pos + 1 :], value[:pos], value.upper(), value + ch, ""]
        return draw(st.sampled_from(edits))
    if isinstance(value, list):
        if not value:
            return [draw(json_values)]
        return draw(st.sampled_from([[*value, value[-1]], value[::-1], value[1:], []]))
    if isinstance(value, dict):
        return {**value, draw(st.sampled_from(KEYS)): draw(json_values)}
    return draw(st.sampled_from([0, "", [], {}]))


@st.composite
def mutated_json(draw: st.DrawFn, value: Any) -> Any:
    """`value` with one to three places replaced, deleted, tweaked or retyped."""
    value = copy.deepcopy(value)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(value))))
        op = draw(st.sampled_from(["replace", "delete", "tweak", "retype"]))
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        if op == "delete" and path:
            del parent[path[-1]]
            continue
        current = parent[path[-1]] if path else value
        if op == "replace":
            new = draw(json_values)
        elif op == "tweak":
            new = _tweak(draw, current)
        else:
            new = draw(st.sampled_from([str(current), [current], {"x": current}, None]))
        if path:
            parent[path[-1]] = new
        else:
            value = new
    return value


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(b)))
        op = draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        if op == "set" and pos < len(b):
            b[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            b[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del b[pos : pos + draw(st.integers(1, 8))]
        else:
            del b[pos:]
    return bytes(b)


def valid_or_mutated(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Random JSON, valid answers, and valid answers mutated."""
    return json_values | valid | valid.flatmap(mutated_json)


def text_bodies(valid: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """Bodies of Esplora's text answers: random bytes, valid texts, mutated valid texts."""
    encoded = valid.map(str.encode)
    return st.binary(max_size=80) | encoded | encoded.flatmap(mutated_bytes)


# -- running a target -----------------------------------------------------------------------


def run(strategy: st.SearchStrategy[Any], check: Check, examples: int) -> None:
    """Run `check` on `examples` values of `strategy` (no example database: nothing written)."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(strategy)
    def fuzz(value: Any) -> None:
        check(value)

    fuzz()


# -- Electrum validators --------------------------------------------------------------------


def _header_seeds() -> list[bytes]:
    """Legacy regtest headers and the fixture's signed, dynafed and block headers."""
    chain = RegtestChain()
    chain.mine(2)
    block = bytes.fromhex(test_header.block_vector()["block_hex"])
    return [
        chain.header(0),
        chain.header(2),
        bytes.fromhex(test_header.signed_vector()["header_hex"]),
        test_header.dynafed_header_bytes(),
        parse_block(block)[0].to_bytes(),
    ]


HEADER_SEEDS = _header_seeds()
header_hexes = st.sampled_from(HEADER_SEEDS).map(bytes.hex) | st.sampled_from(HEADER_SEEDS).flatmap(
    mutated_bytes
).map(bytes.hex)


def check_history(value: Any) -> None:
    try:
        entries = parse_history(value, backend=BACKEND)
    except BackendProtocolError:
        return
    assert len(entries) == len(value)
    for entry, item in zip(entries, value, strict=True):
        assert HEX64.fullmatch(entry.txid) and entry.txid == item["tx_hash"].lower()
        assert entry.height == (item["height"] if item["height"] > 0 else None)


def check_tip(value: Any) -> None:
    try:
        tip = parse_tip(value, backend=BACKEND)
    except BackendProtocolError:
        return
    header = BlockHeader.from_hex(value["hex"])
    assert tip.height == value["height"]  # core checks it is the header's (Client.tip)
    assert (tip.hash, tip.timestamp, tip.header) == (
        header.block_hash,
        header.time,
        header.to_bytes(),
    )


def check_header(value: tuple[Any, int | None]) -> None:
    raw, height = value
    try:
        header = parse_header(raw, height, backend=BACKEND)
    except BackendProtocolError:
        return
    assert height is None or header.height == height
    assert header.to_bytes() == bytes.fromhex(raw)


def check_error_reply(value: Any) -> None:
    error = ElectrumError.from_reply(value, backend=BACKEND)
    assert isinstance(error, ElectrumError) and isinstance(error.message, str)
    assert error.code is None or (type(error.code) is int)
    assert len(error.reason) <= 600  # long server texts are cut in the message


def check_broadcast_reason(message: str) -> None:
    reason = broadcast_reason(message)
    assert isinstance(reason, str)
    if "{" not in message and (m := re.search(r"RPC error -?\d+: (.+)", message, re.DOTALL)):
        assert reason == m.group(1).strip()


histories = st.lists(
    st.fixed_dictionaries(
        {"tx_hash": hex64, "height": st.integers(-2, 10**6)}, optional={"fee": st.integers()}
    ),
    max_size=4,
)
tips = st.sampled_from(HEADER_SEEDS).map(
    lambda h: {"hex": h.hex(), "height": BlockHeader.parse(h).height}
)
broadcast_messages = (
    st.text(max_size=200)
    | json_values.map(lambda v: "sendrawtransaction RPC error: " + json.dumps(v))
    | st.text(max_size=60).map(lambda t: "sendrawtransaction RPC error -26: " + t)
)

# -- Esplora parsers ------------------------------------------------------------------------


def only_malformed(parse: Callable[[Any], Any], verify: Callable[[Any, Any], None]) -> Check:
    """A check: `parse` either raises the module's Malformed or returns what `verify` accepts."""

    def check(value: Any) -> None:
        try:
            result = parse(value)
        except esplora.Malformed:
            return
        verify(value, result)

    return check


def _verify_hash(body: bytes, result: str) -> None:
    assert HEX64.fullmatch(result) and result == body.decode().strip().lower()


def _verify_int(body: bytes, result: int) -> None:
    assert 0 <= result <= 2**32 - 1 and result == int(body.decode().strip())


def _verify_hex(body: bytes, result: bytes) -> None:
    assert result == bytes.fromhex(body.decode().strip())


def _verify_json(body: bytes, result: Any) -> None:
    assert json.dumps(result) == json.dumps(json.loads(body))


def _verify_page(value: Any, result: list[esplora.PageEntry]) -> None:
    assert len(result) == len(value)
    for entry, item in zip(result, value, strict=True):
        assert HEX64.fullmatch(entry.txid) and entry.txid == item["txid"].lower()
        assert (entry.height is None) == (not item["status"]["confirmed"])


def _verify_count(value: Any, result: int) -> None:
    assert 0 <= result <= 2**32 - 1 and result == value["mempool_stats"]["tx_count"]


def _verify_txids(value: Any, result: list[str]) -> None:
    assert result == [t.lower() for t in value] and all(HEX64.fullmatch(t) for t in result)


def _verify_scripts(value: Any, result: set[str]) -> None:
    assert all(isinstance(s, str) and s == s.lower() for s in result)
    assert len(result) <= len(value["vout"]) + len(value["vin"])


def check_retry_after(text: str) -> None:
    wait = parse_retry_after(text)
    assert wait is None or 0.0 <= wait <= 60.0


def check_reply_message(body: bytes) -> None:
    text = Reply(500, body).message()
    assert text.isprintable() and len(text) <= 300
    assert not re.search(r"[0-9a-fA-F]{64}", text)  # hashes may identify scripts: elided


statuses = st.fixed_dictionaries(
    {"confirmed": st.just(True), "block_height": st.integers(0, 10**6)},
    optional={"block_time": st.integers(0, 2**32), "block_hash": hex64},
) | st.just({"confirmed": False})
pages = st.lists(st.fixed_dictionaries({"txid": hex64, "status": statuses}), max_size=4)
tx_jsons = st.fixed_dictionaries(
    {
        "vout": st.lists(st.fixed_dictionaries({"scriptpubkey": hex64}), max_size=3),
        "vin": st.lists(
            st.fixed_dictionaries(
                {"prevout": st.none() | st.fixed_dictionaries({"scriptpubkey": hex64})}
            ),
            max_size=3,
        ),
    }
)
http_dates = st.datetimes(timezones=st.just(UTC)).map(email.utils.format_datetime)
retry_texts = (
    st.text(max_size=40)
    | st.floats().map(str)
    | st.integers().map(str)
    | http_dates
    | http_dates.flatmap(lambda d: mutated_bytes(d.encode())).map(lambda b: b.decode("latin-1"))
)

# -- user input -----------------------------------------------------------------------------


def check_connect(url: str) -> None:
    """A URL from the user: a client (no I/O yet), an LwkError or a ValueError."""
    try:
        client = connect(url, Network.ELEMENTS_REGTEST, timeout=1)
    except (LwkError, ValueError):
        return
    assert isinstance(client, Client)
    client.close()


def check_network_name(name: str) -> None:
    try:
        network = Network.from_name(name)
    except ValueError:
        return
    assert network is Network.from_name(network.value)


urls = st.text(max_size=60) | st.builds(
    lambda scheme, host, port, tail: f"{scheme}://{host}:{port}{tail}",
    st.sampled_from(["tcp", "ssl", "http", "https", "TCP", "ftp", ""]),
    st.sampled_from(["127.0.0.1", "[::1]", "localhost", "", "exa mple", "ü.example"])
    | st.text(max_size=12),
    st.integers(-5, 70_000).map(str) | st.text(max_size=6),
    st.sampled_from(["", "/", "/api", "/a?b#c", "@x"]) | st.text(max_size=8),
)

# -- the existing fuzzers, deeper (their oracles, reused) -----------------------------------


def check_address(text: str) -> None:
    try:
        decoded = address_to_script(text)
    except DecodeError:
        return
    assert script_to_address(*decoded).lower() == text.lower()


@st.composite
def mutated_fixture_tx(draw: st.DrawFn) -> bytes:
    raw = draw(st.sampled_from(sorted(test_transaction.fixture_txs().values(), key=len)[:16]))
    return draw(mutated_bytes(raw))


PARSERS: dict[str, tuple[st.SearchStrategy[Any], Check]] = {
    "electrum.history": (valid_or_mutated(histories), check_history),
    "electrum.tip": (valid_or_mutated(tips), check_tip),
    "electrum.header": (
        st.tuples(header_hexes | json_values, st.none() | st.integers(-1, 3)),
        check_header,
    ),
    "electrum.error_reply": (json_values, check_error_reply),
    "electrum.broadcast_reason": (broadcast_messages, check_broadcast_reason),
    "esplora.hash": (
        text_bodies(hex64 | hex64.map(str.upper) | hex64.map(lambda h: f" {h}\n")),
        only_malformed(esplora.parse_hash, _verify_hash),
    ),
    "esplora.height": (
        text_bodies(st.integers(-10, 2**33).map(str)),
        only_malformed(esplora.parse_int, _verify_int),
    ),
    "esplora.hex": (
        text_bodies(st.binary(max_size=40).map(bytes.hex)),
        only_malformed(esplora.parse_hex, _verify_hex),
    ),
    "esplora.json": (
        st.binary(max_size=80)
        | json_values.map(lambda v: json.dumps(v).encode()).flatmap(
            lambda b: st.just(b) | mutated_bytes(b)
        ),
        only_malformed(esplora.parse_json, _verify_json),
    ),
    "esplora.history_page": (
        valid_or_mutated(pages),
        only_malformed(esplora.parse_history_page, _verify_page),
    ),
    "esplora.mempool_count": (
        valid_or_mutated(
            st.fixed_dictionaries(
                {"mempool_stats": st.fixed_dictionaries({"tx_count": st.integers(0, 100)})}
            )
        ),
        only_malformed(esplora.parse_mempool_count, _verify_count),
    ),
    "esplora.txids": (
        valid_or_mutated(st.lists(hex64, max_size=4)),
        only_malformed(esplora.parse_txids, _verify_txids),
    ),
    "esplora.tx_scripts": (
        valid_or_mutated(tx_jsons),
        only_malformed(_tx_scripts, _verify_scripts),
    ),
    "esplora.retry_after": (retry_texts, check_retry_after),
    "esplora.error_text": (
        st.binary(max_size=400) | hex64.map(lambda h: f"no {h} here".encode()),
        check_reply_message,
    ),
    "user.url": (urls, check_connect),
    "user.network": (
        st.text(max_size=20) | st.sampled_from([n.value for n in Network]),
        check_network_name,
    ),
}

DEEP_ONLY: dict[str, tuple[st.SearchStrategy[Any], Check]] = {
    "core.transaction": (
        st.binary(max_size=400) | mutated_fixture_tx(),
        test_transaction.parse_or_decode_error,
    ),
    "core.header": (
        st.binary(max_size=300) | st.sampled_from(HEADER_SEEDS).flatmap(mutated_bytes),
        test_header.parse_or_decode_error,
    ),
    "core.descriptor": (
        st.text(max_size=300) | test_descriptor._mutated(),
        test_descriptor._parse_or_descriptor_error,
    ),
    "core.address": (st.text(max_size=150), check_address),
}


@pytest.mark.parametrize("target", sorted(PARSERS))
def test_parser_raises_only_its_typed_error(target: str) -> None:
    run(*PARSERS[target], EXAMPLES)


@pytest.mark.slow
@pytest.mark.timeout(DEEP_TIMEOUT)
@pytest.mark.parametrize("target", sorted(PARSERS | DEEP_ONLY))
def test_parser_deep(target: str) -> None:
    run(*(PARSERS | DEEP_ONLY)[target], DEEP)


# -- whole scans through a falsifying man-in-the-middle -------------------------------------

ODDS = 12  # about one reply in ODDS is falsified
Falsify = Callable[[bytes], tuple[bytes, bool]]  # honest line -> (bytes sent, then EOF?)
ELECTRUM_FAULTS = [
    "json",
    "result",
    "error",
    "id",
    "bytes",
    "cut",
    "cut+eof",
    "drop",
    "eof",
    "garbage",
    "notify",
    "duplicate",
    "oversized",
]
ESPLORA_FAULTS = [
    "status",
    "json",
    "random_json",
    "bytes",
    "cut",
    "empty",
    "garbage",
    "oversized",
    "raise",
]
FUZZ_MAX_LINE = 64 * 1024
RETRY_AFTER = [
    "0",
    "0.001",
    "-3",
    "nan",
    "inf",
    "1e999",
    "soon",
    "",
    "Thu, 01 Jan 1970 00:00:00 GMT",
]
NOTIFICATIONS = ["blockchain.headers.subscribe", "blockchain.scripthash.subscribe", "x"]


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


@pytest.fixture(scope="module")
def wallet(rt: Regtest) -> FundedWallet:
    """Payments at contiguous indexes (found with any gap limit), one of an issued asset."""
    funded = fund(rt, 7, [30_000])
    funded.pay_asset(rt, 4_444, index=1)
    funded.pay(rt, 8_000, chain=Chain.INTERNAL, index=0)
    rt.mine(1)
    funded.pay(rt, 1_500, index=1)
    return funded


def check_scan(
    rt: Regtest,
    wallet: FundedWallet,
    client: Client,
    gap_limit: int,
    injected: list[str],
    *,
    heights_verified: bool,
) -> str:
    """Scan and apply; only LwkError may escape; what is accepted must be true."""
    wollet = wallet.wollet()
    try:
        update = client.sync(wollet, gap_limit)
    except LwkError as exc:
        return type(exc).__name__
    assert update is not None  # a fresh wallet learns at least the tip
    try:
        wollet.apply_update(update)
    except UpdateError:
        return "UpdateError"
    paid = {p.txid: p for p in wallet.payments}
    for txo in wollet.txos():  # hiding a payment is possible, inventing or altering one not
        assert txo.outpoint.txid in paid
        assert (txo.asset, txo.value) == (
            paid[txo.outpoint.txid].asset,
            paid[txo.outpoint.txid].sats,
        )
    for tx in wollet.transactions():
        assert rt.chain.tx_raw(tx.txid) is not None
        if heights_verified and tx.height is not None:
            assert tx.height == rt.chain.tx_height(tx.txid)
    if not injected:
        assert summary(wollet) == wallet.truth(chain_height_of(rt), chain_tip(rt))
    return "ok"


class MitmSocket(socket.socket):
    """The Electrum client's socket: request lines go to the real server, and each reply
    line comes back through `falsify`. A silent server times out at once."""

    def __init__(self, upstream: str, falsify: Falsify, chunk: int) -> None:
        mine, peer = socket.socketpair()
        peer.close()
        super().__init__(fileno=mine.detach())
        endpoint = Endpoint.from_url(upstream)
        self._up = socket.create_connection((endpoint.host, endpoint.port), timeout=5)
        self._replies = self._up.makefile("rb")
        self._falsify = falsify
        self._chunk = chunk
        self._out = bytearray()
        self._eof = False

    def sendall(self, data: ReadableBuffer, flags: int = 0, /) -> None:
        payload = bytes(data)
        self._up.sendall(payload)
        for _ in range(payload.count(b"\n")):
            line = self._replies.readline()
            if not self._eof:
                sent, self._eof = self._falsify(line)
                self._out += sent

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        if self._out:
            n = min(bufsize, self._chunk, len(self._out))
            data = bytes(self._out[:n])
            del self._out[:n]
            return data
        if self._eof:
            return b""
        raise TimeoutError("the server says nothing")

    def close(self) -> None:
        self._replies.close()
        self._up.close()
        super().close()


class MitmConnection(ElectrumConnection):
    def __init__(self, upstream: str, falsify: Falsify, chunk: int) -> None:
        super().__init__(Endpoint.from_url(BACKEND), timeout=1.0, max_line=FUZZ_MAX_LINE)
        self._upstream, self._falsify, self._chunk = upstream, falsify, chunk

    def _open(self) -> socket.socket:
        return MitmSocket(self._upstream, self._falsify, self._chunk)


def _line(message: Any) -> bytes:
    return json.dumps(message).encode() + b"\n"


def electrum_falsifier(data: st.DataObject, injected: list[str]) -> Falsify:
    def falsify(line: bytes) -> tuple[bytes, bool]:
        if data.draw(st.integers(0, ODDS)) < ODDS:
            return line, False
        kind = data.draw(st.sampled_from(ELECTRUM_FAULTS))
        injected.append(kind)
        event(f"electrum fault {kind}")
        reply = json.loads(line)
        if kind == "json":
            key = "result" if "result" in reply else "error"
            return _line({**reply, key: data.draw(mutated_json(reply.get(key)))}), False
        if kind == "result":
            return _line({**reply, "result": data.draw(json_values)}), False
        if kind == "error":
            return _line(
                {"jsonrpc": "2.0", "id": reply["id"], "error": data.draw(json_values)}
            ), False
        if kind == "id":
            return _line({**reply, "id": data.draw(json_values)}), False
        if kind == "bytes":
            return data.draw(mutated_bytes(line)), False
        if kind in ("cut", "cut+eof"):
            return line[: data.draw(st.integers(0, len(line) - 1))], kind == "cut+eof"
        if kind in ("drop", "eof"):
            return b"", kind == "eof"
        if kind == "garbage":
            return data.draw(st.binary(max_size=64)) + b"\n", False
        if kind == "notify":
            method = data.draw(st.sampled_from(NOTIFICATIONS))
            note = {"jsonrpc": "2.0", "method": method, "params": data.draw(json_values)}
            return _line(note) + line, False
        if kind == "duplicate":
            return line + line, False
        return b'{"id":' + str(
            reply["id"]
        ).encode() + b',"result":"' + b"0" * FUZZ_MAX_LINE + b'"}\n', False

    return falsify


def esplora_transport(
    upstream: httpx.Client, data: st.DataObject, injected: list[str]
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        honest = upstream.request(request.method, request.url.path, content=request.content)
        status, body = honest.status_code, honest.content
        headers = {"content-type": honest.headers.get("content-type", "text/plain")}
        if data.draw(st.integers(0, ODDS)) < ODDS:
            return httpx.Response(status, headers=headers, content=body)
        kind = data.draw(st.sampled_from(ESPLORA_FAULTS))
        injected.append(kind)
        event(f"esplora fault {kind}")
        if kind == "status":
            status = data.draw(st.sampled_from([204, 301, 400, 404, 418, 429, 500, 502, 503, 504]))
            headers["retry-after"] = data.draw(st.sampled_from(RETRY_AFTER))
        elif kind == "json":
            try:
                value = json.loads(body)
            except ValueError:
                value = body.decode("latin-1")
            body = json.dumps(data.draw(mutated_json(value))).encode()
        elif kind == "random_json":
            body = json.dumps(data.draw(json_values)).encode()
        elif kind == "bytes":
            body = data.draw(mutated_bytes(body))
        elif kind == "cut":
            body = body[: data.draw(st.integers(0, max(len(body) - 1, 0)))]
        elif kind == "empty":
            body = b""
        elif kind == "garbage":
            body = data.draw(st.binary(max_size=64))
        elif kind == "oversized":
            body = b"0" * (MAX_BODY + 1)
        else:
            error = data.draw(
                st.sampled_from(
                    [
                        httpx.ConnectError,
                        httpx.ReadTimeout,
                        httpx.RemoteProtocolError,
                        httpx.ReadError,
                    ]
                )
            )
            raise error("injected", request=request)
        return httpx.Response(status, headers=headers, content=body)

    return httpx.MockTransport(handler)


def fuzz_electrum_scans(
    rt: Regtest, wallet: FundedWallet, examples: int
) -> collections.Counter[str]:
    outcomes: collections.Counter[str] = collections.Counter()

    def check(data: st.DataObject) -> None:
        verify = data.draw(st.booleans(), label="verify_merkle")
        gap_limit = data.draw(st.integers(1, 3), label="gap_limit")
        chunk = data.draw(st.sampled_from([65536, 4096, 97, 13]), label="recv chunk")
        injected: list[str] = []
        rpc = MitmConnection(rt.electrum_url, electrum_falsifier(data, injected), chunk)
        session = ElectrumSession(rpc)
        client = Client(
            session,
            name=rpc.name,
            network=rt.network,
            plugin=electrum_plugin,
            verify_merkle=verify,
        )
        try:
            outcome = check_scan(rt, wallet, client, gap_limit, injected, heights_verified=verify)
        finally:
            client.close()
        outcomes[outcome if injected or outcome != "ok" else "ok (no fault)"] += 1
        outcomes.update(f"fault {kind}" for kind in injected)

    run(st.data(), check, examples)
    return outcomes


def fuzz_esplora_scans(
    rt: Regtest, wallet: FundedWallet, examples: int
) -> collections.Counter[str]:
    outcomes: collections.Counter[str] = collections.Counter()
    upstream = httpx.Client(base_url=rt.esplora_url)

    def check(data: st.DataObject) -> None:
        verify = data.draw(st.booleans(), label="verify_merkle")
        gap_limit = data.draw(st.integers(1, 3), label="gap_limit")
        injected: list[str] = []
        client = EsploraClient(
            "http://esplora.fuzz",
            rt.network,
            timeout=1.0,
            max_retries=1,
            concurrency=1,  # every draw from this thread, in a reproducible order
            transport=esplora_transport(upstream, data, injected),
            verify_merkle=verify,
        )
        try:
            outcome = check_scan(rt, wallet, client, gap_limit, injected, heights_verified=verify)
        finally:
            client.close()
        outcomes[outcome if injected or outcome != "ok" else "ok (no fault)"] += 1
        outcomes.update(f"fault {kind}" for kind in injected)

    with upstream:
        run(st.data(), check, examples)
    return outcomes


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without the real 0.5 s backoff base (the waits are not what is tested here)."""
    monkeypatch.setattr(_retry, "BACKOFF_BASE", 0.0)


def assert_both_outcomes(outcomes: collections.Counter[str]) -> None:
    """The fuzzer reached both ends: clean scans equal to the truth, and typed failures."""
    print(dict(outcomes))
    assert outcomes["ok (no fault)"] > 0
    assert sum(n for name, n in outcomes.items() if not name.startswith("ok")) > 0


def test_electrum_scans_through_a_lying_server(rt: Regtest, wallet: FundedWallet) -> None:
    assert_both_outcomes(fuzz_electrum_scans(rt, wallet, SCAN_EXAMPLES))


@pytest.mark.usefixtures("no_backoff")
def test_esplora_scans_through_a_lying_server(rt: Regtest, wallet: FundedWallet) -> None:
    assert_both_outcomes(fuzz_esplora_scans(rt, wallet, SCAN_EXAMPLES))


@pytest.mark.slow
@pytest.mark.timeout(DEEP_TIMEOUT)
def test_electrum_scans_deep(rt: Regtest, wallet: FundedWallet) -> None:
    assert_both_outcomes(fuzz_electrum_scans(rt, wallet, DEEP))


@pytest.mark.slow
@pytest.mark.timeout(DEEP_TIMEOUT)
@pytest.mark.usefixtures("no_backoff")
def test_esplora_scans_deep(rt: Regtest, wallet: FundedWallet) -> None:
    assert_both_outcomes(fuzz_esplora_scans(rt, wallet, DEEP))


# -- defects this review found, each pinned by a test (all fixed) ------------------------


def rewriting_client(
    rt: Regtest, upstream: httpx.Client, rewrite: Callable[[str, bytes], bytes]
) -> EsploraClient:
    """An Esplora client whose answers come from the real server, bodies passed through
    `rewrite(path, body)`."""

    def handler(request: httpx.Request) -> httpx.Response:
        honest = upstream.request(request.method, request.url.path, content=request.content)
        body = rewrite(request.url.path, honest.content)
        return httpx.Response(honest.status_code, headers=honest.headers, content=body)

    return EsploraClient(
        "http://esplora.fuzz", rt.network, timeout=1.0, transport=httpx.MockTransport(handler)
    )


def test_esplora_json_numbers_are_parsed_or_malformed() -> None:
    """Numbers up to Python's 4,300-digit conversion limit are plain JSON values."""
    assert esplora.parse_json(b"[" + b"7" * 4300 + b"]") == [int("7" * 4300)]
    with pytest.raises(esplora.Malformed):
        esplora.parse_json(b"[" * 100_000)


def test_esplora_huge_json_integer_fails_over(
    rt: Regtest, wallet: FundedWallet, caplog: pytest.LogCaptureFixture
) -> None:
    """A 5,000-digit integer (beyond Python's conversion limit) is a protocol error."""

    def huge(path: str, body: bytes) -> bytes:
        return b"[" + b"1" * 5000 + b"]" if "/scripthash/" in path else body

    with httpx.Client(base_url=rt.esplora_url) as upstream:
        liar = rewriting_client(rt, upstream, huge)
        honest = connect(rt.electrum_url, rt.network)
        wollet = wallet.wollet()
        with BackendChain([liar, honest]) as chain:
            sync_into(chain, wollet)
    assert summary(wollet) == wallet.truth(chain_height_of(rt), chain_tip(rt))
    assert "BackendProtocolError" in caplog.text  # the failover's logged cause


def test_esplora_confirmed_height_zero_fails_over(
    rt: Regtest, wallet: FundedWallet, caplog: pytest.LogCaptureFixture
) -> None:
    """The genesis block holds no wallet transaction: a refusal of the scan, not the Update."""

    def height_zero(path: str, body: bytes) -> bytes:
        if "/scripthash/" not in path:
            return body
        page = json.loads(body)
        for item in page:
            if item["status"]["confirmed"]:
                item["status"]["block_height"] = 0
        return json.dumps(page).encode()

    with httpx.Client(base_url=rt.esplora_url) as upstream:
        liar = rewriting_client(rt, upstream, height_zero)
        honest = connect(rt.electrum_url, rt.network)
        wollet = wallet.wollet()
        with BackendChain([liar, honest]) as chain:
            sync_into(chain, wollet)
    assert summary(wollet) == wallet.truth(chain_height_of(rt), chain_tip(rt))
    assert "BackendProtocolError" in caplog.text  # the failover's logged cause


def test_broadcast_reason_reads_both_electrs_shapes() -> None:
    assert broadcast_reason("sendrawtransaction RPC error -26: txn-mempool-conflict ") == (
        "txn-mempool-conflict"
    )
    nested = 'sendrawtransaction RPC error: {"code":-26,"message":"bad-txns-in-belowout"}'
    assert broadcast_reason(nested) == "bad-txns-in-belowout"


def test_electrum_broadcast_error_with_deep_nesting_is_typed(
    rt: Regtest, wallet: FundedWallet
) -> None:
    """A server's reject text nesting deeper than Python's recursion limit stays text."""
    message = 'sendrawtransaction RPC error: {"code":-26,"message":' + "[" * 5_000
    error = {"code": 1, "message": message}

    def reject(line: bytes) -> tuple[bytes, bool]:
        reply = json.loads(line)
        if isinstance(reply.get("result"), list):  # server.version: keep the handshake
            return line, False
        return _line({"jsonrpc": "2.0", "id": reply["id"], "error": error}), False

    rpc = MitmConnection(rt.electrum_url, reject, 65536)
    client = Client(ElectrumSession(rpc), name=rpc.name, network=rt.network, plugin=electrum_plugin)
    raw = rt.chain.tx_raw(wallet.payments[0].txid)
    assert raw is not None
    with client, pytest.raises(BroadcastRejected) as info:
        client.broadcast(raw)
    assert info.value.reason == message  # the node's verdict, its text kept whole
