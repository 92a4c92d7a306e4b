"""Block headers against rust-elements' vectors, and Merkle roots/branches."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared_data import load_fixture

from lwk_core._errors import DecodeError
from lwk_core._hashes import sha256d
from lwk_core._header import (
    BlockHeader,
    merkle_branch,
    merkle_root,
    merkle_root_from_branch,
    parse_block,
    parse_headers,
)


@cache
def vectors() -> list[dict[str, Any]]:
    data = load_fixture("elements-vectors.json")
    result: list[dict[str, Any]] = data["vectors"]
    assert len(result) == 3
    return result


def block_vector() -> dict[str, Any]:
    return next(v for v in vectors() if "block_hex" in v)


def signed_vector() -> dict[str, Any]:
    return next(v for v in vectors() if "2-of-3" in v["name"])


def dynafed_vector() -> dict[str, Any]:
    return next(v for v in vectors() if "dynafed" in v["name"])


def dynafed_header_bytes() -> bytes:
    """The fixture's dynafed hex continues 2 bytes past the header (01 02: the start of the
    block's transaction list), as in the rust-elements block it was cut from."""
    raw = bytes.fromhex(dynafed_vector()["header_hex"])
    assert raw[-2:] == b"\x01\x02"
    return raw[:-2]


def test_whole_block_vector() -> None:
    v = block_vector()
    header, txs = parse_block(bytes.fromhex(v["block_hex"]))
    assert header.block_hash == v["header_hash"]
    assert not header.is_dynafed and header.version == 0x20000000 and header.height == 2
    assert header.challenge == b"\x51" and header.solution == b""
    assert len(txs) == 1 and txs[0].inputs[0].is_coinbase
    assert txs[0].txid == header.merkle_root == merkle_root([txs[0].txid])
    first = txs[0].outputs[0]
    assert first.value == 0
    assert first.asset == "b2e15d0d7a0c94e4e2ce0fe6e8691b9e451377f6e46e8045a86f7c4b5d4f0f23"
    raw = bytes.fromhex(v["block_hex"])
    assert raw.startswith(header.to_bytes())
    assert BlockHeader.parse(header.to_bytes()) == header
    with pytest.raises(DecodeError):
        parse_block(raw + b"\x00")
    with pytest.raises(DecodeError):
        BlockHeader.parse(raw)  # a header followed by transactions is not one header


def test_signed_legacy_vector() -> None:
    v = signed_vector()
    h = BlockHeader.from_hex(v["header_hex"])
    assert h.block_hash == v["header_hash"]
    assert len(h.challenge) == 105 and len(h.solution) == 144
    assert h.to_hex() == v["header_hex"] and not h.is_dynafed and h.height == 3
    # The hash covers the challenge but not the solution.
    raw = bytes.fromhex(v["header_hex"])
    assert h.block_hash == sha256d(raw[: 76 + 1 + 105])[::-1].hex()


def test_dynafed_vector() -> None:
    raw = dynafed_header_bytes()
    h = BlockHeader.parse(raw)
    assert h.block_hash == dynafed_vector()["header_hash"]
    assert h.is_dynafed and h.version == 0x20000000  # bit 31 masked off
    assert raw[:4] == bytes.fromhex("000000a0")
    assert [len(w) for w in h.signblock_witness] == [0, 72, 71, 72, 105]
    assert h.challenge == h.solution == b"" and h.to_bytes() == raw
    with pytest.raises(DecodeError):
        BlockHeader.from_hex(dynafed_vector()["header_hex"])  # the 2 extra bytes


def test_dynafed_compact_and_null_params() -> None:
    """Compact current params (type 1), null proposed (type 0): the hash stops before the
    signblock witness, which can change without changing the block hash."""
    fixed = bytes.fromhex("000000a0") + b"\x11" * 32 + b"\x22" * 32 + bytes(4) + bytes(4)
    compact = b"\x01" + b"\x01\x51" + (400).to_bytes(4, "little") + b"\x33" * 32
    hashed = fixed + compact + b"\x00"
    for witness in (b"\x00", b"\x02\x01\xaa\x00"):
        h = BlockHeader.parse(hashed + witness)
        assert h.is_dynafed and h.block_hash == sha256d(hashed)[::-1].hex()
        assert h.prev_hash == "11" * 32 and h.to_bytes() == hashed + witness
    assert BlockHeader.parse(hashed + b"\x02\x01\xaa\x00").signblock_witness == (b"\xaa", b"")


def test_parse_headers_splits_variable_length_headers() -> None:
    block_header = parse_block(bytes.fromhex(block_vector()["block_hex"]))[0].to_bytes()
    parts = [block_header, bytes.fromhex(signed_vector()["header_hex"]), dynafed_header_bytes()]
    headers = parse_headers(b"".join(parts * 2))
    hashes = [block_vector()["header_hash"], signed_vector()["header_hash"]]
    assert [h.block_hash for h in headers] == [*hashes, dynafed_vector()["header_hash"]] * 2
    assert parse_headers(b"") == []
    with pytest.raises(DecodeError):
        parse_headers(b"".join(parts)[:-1])


def test_legacy_builder_reproduces_the_vector() -> None:
    original = parse_block(bytes.fromhex(block_vector()["block_hex"]))[0]
    built = BlockHeader.legacy(
        original.prev_hash, original.merkle_root, original.time, original.height
    )
    assert built == original and built.to_bytes() == original.to_bytes()
    signed = BlockHeader.from_hex(signed_vector()["header_hex"])
    rebuilt = BlockHeader.legacy(
        signed.prev_hash,
        signed.merkle_root,
        signed.time,
        signed.height,
        challenge=signed.challenge,
        solution=signed.solution,
    )
    assert rebuilt.to_bytes() == signed.to_bytes()
    assert rebuilt.block_hash == signed_vector()["header_hash"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prev_hash": "zz"},
        {"prev_hash": "00" * 31},
        {"time": -1},
        {"height": 1 << 32},
        {"version": 0x80000000},
    ],
)
def test_legacy_builder_rejects_bad_fields(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "prev_hash": "00" * 32,
        "merkle_root": "11" * 32,
        "time": 1,
        "height": 1,
    }
    args.update(kwargs)
    with pytest.raises(ValueError):
        BlockHeader.legacy(**args)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        bytes(76),  # no challenge
        bytes.fromhex("00000080") + bytes(72) + b"\x03",  # dynafed params of an unknown type
        bytes.fromhex("00000080") + bytes(72) + b"\x00\x00\xff" + b"\xff" * 8,  # absurd witness
        bytes(76) + b"\xfd\x01\x00",  # non-canonical challenge length
    ],
)
def test_malformed_headers(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        BlockHeader.parse(raw)


# --- Merkle -------------------------------------------------------------------------------------

# Bitcoin block 100000: Elements computes the header's merkle root the same way.
BLOCK_100000 = [
    "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
    "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
    "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
    "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
]
ROOT_100000 = "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766"


def test_merkle_root_of_a_known_block() -> None:
    assert merkle_root(BLOCK_100000) == ROOT_100000
    for pos, txid in enumerate(BLOCK_100000):
        assert merkle_root_from_branch(txid, merkle_branch(BLOCK_100000, pos), pos) == ROOT_100000


def test_merkle_branch_from_first_principles() -> None:
    def h(x: str) -> bytes:
        return bytes.fromhex(x)[::-1]

    a, b, c = (sha256d(bytes([i])).hex() for i in range(3))
    ab = sha256d(h(a) + h(b))
    cc = sha256d(h(c) + h(c))  # an odd node pairs with itself
    assert merkle_root([a, b, c]) == sha256d(ab + cc)[::-1].hex()
    assert merkle_branch([a, b, c], 2) == [c, ab[::-1].hex()]
    assert merkle_branch([a, b, c], 0) == [b, cc[::-1].hex()]
    assert merkle_branch([a], 0) == [] and merkle_root([a]) == a


@pytest.mark.parametrize("n", range(1, 18))
def test_every_branch_verifies(n: int) -> None:
    txids = [sha256d(i.to_bytes(2, "big")).hex() for i in range(n)]
    root = merkle_root(txids)
    for pos in range(n):
        branch = merkle_branch(txids, pos)
        assert merkle_root_from_branch(txids[pos], branch, pos) == root
        if n > 1:
            assert merkle_root_from_branch(txids[(pos + 1) % n], branch, pos) != root


def test_merkle_root_from_branch_rejects_garbage() -> None:
    branch = merkle_branch(BLOCK_100000, 1)
    for txid, br, pos in [
        ("zz", branch, 1),
        (BLOCK_100000[1], ["00" * 31, branch[1]], 1),
        (BLOCK_100000[1], branch, 4),  # does not fit a depth-2 branch
        (BLOCK_100000[1], branch, -1),
    ]:
        with pytest.raises(DecodeError):
            merkle_root_from_branch(txid, br, pos)
    with pytest.raises(ValueError):
        merkle_root([])
    with pytest.raises(ValueError):
        merkle_branch(BLOCK_100000, 4)


# --- fuzz ---------------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_or_decode_error(raw: bytes) -> None:
    try:
        headers = parse_headers(raw)
    except DecodeError:
        return
    assert b"".join(h.to_bytes() for h in headers) == raw
    for h in headers:
        assert BlockHeader.parse(h.to_bytes()) == h


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(raw: bytes) -> None:
    parse_or_decode_error(raw)


@FUZZ
@given(
    st.sampled_from(["block", "signed", "dynafed"]),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=3),
    st.integers(0, 3),
)
def test_fuzz_mutated_headers(which: str, edits: list[tuple[int, int]], cut: int) -> None:
    raw = {
        "block": lambda: parse_block(bytes.fromhex(block_vector()["block_hex"]))[0].to_bytes(),
        "signed": lambda: bytes.fromhex(signed_vector()["header_hex"]),
        "dynafed": dynafed_header_bytes,
    }[which]()
    b = bytearray(raw)
    for pos, value in edits:
        b[pos % len(b)] = value
    start = (edits[0][0] * 7) % len(b)
    del b[start : start + cut]
    parse_or_decode_error(bytes(b))


@FUZZ
@given(st.binary(min_size=1, max_size=40))
def test_fuzz_block_tail(tail: bytes) -> None:
    header = parse_block(bytes.fromhex(block_vector()["block_hex"]))[0].to_bytes()
    try:
        h, txs = parse_block(header + tail)
    except DecodeError:
        return
    assert header + tail == h.to_bytes() + bytes([len(txs)]) + b"".join(t.to_bytes() for t in txs)
