"""Transaction parsing against LWK's fixture wallet, the lwk wheel, and hand-built edge cases."""

from __future__ import annotations

import pickle
import struct
from functools import cache
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared_data import load_fixture

from lwk_core._errors import DecodeError, TxidMismatch
from lwk_core._hashes import fast_merkle_root, sha256d
from lwk_core._reader import Reader
from lwk_core._transaction import Transaction, read_transaction
from lwk_core._types import TxOutSecrets

TESTNET_POLICY = "144c654344aa716d6f3abcc1ca90e5641e4e2a7f633bc09fe3baf64585819a49"


@cache
def wallet() -> dict[str, Any]:
    data: dict[str, Any] = load_fixture("liquid-testnet-wallet.json")
    return data


def fixture_txs() -> dict[str, bytes]:
    return {txid: bytes.fromhex(t["hex"]) for txid, t in wallet()["transactions"].items()}


# --- a serializer for hand-built transactions (Elements' src/primitives/transaction.h) ---


def varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    return b"\xfe" + struct.pack("<I", n)


def vb(b: bytes) -> bytes:
    return varint(len(b)) + b


def txin(
    prev: bytes = b"\x11" * 32,
    index: int = 0,
    script_sig: bytes = b"",
    sequence: int = 0xFFFFFFFE,
    issuance: bytes = b"",
) -> bytes:
    return prev + struct.pack("<I", index) + vb(script_sig) + struct.pack("<I", sequence) + issuance


def explicit_value(v: int) -> bytes:
    return b"\x01" + v.to_bytes(8, "big")


def txout(
    asset: bytes = b"\x01" + b"\x22" * 32,
    value: bytes = explicit_value(1000),
    nonce: bytes = b"\x00",
    spk: bytes = b"\x00\x14" + b"\x33" * 20,
) -> bytes:
    return asset + value + nonce + vb(spk)


def tx(
    ins: list[bytes],
    outs: list[bytes],
    witness: bytes | None = None,
    version: int = 2,
    locktime: int = 0,
) -> bytes:
    flags = b"\x01" if witness is not None else b"\x00"
    body = (
        struct.pack("<i", version)
        + flags
        + varint(len(ins))
        + b"".join(ins)
        + varint(len(outs))
        + b"".join(outs)
        + struct.pack("<I", locktime)
    )
    return body + (witness or b"")


def empty_witness(n_in: int, n_out: int) -> bytes:
    return b"\x00\x00\x00\x00" * n_in + b"\x00\x00" * n_out


# --- the 64 real transactions ---------------------------------------------------------------


def test_fixture_txids_and_exact_bytes() -> None:
    txs = fixture_txs()
    assert len(txs) == 64
    for txid, raw in txs.items():
        t = Transaction.from_bytes(raw, expected_txid=txid)
        assert t.txid == txid
        assert t.to_bytes() == raw
        assert t.to_hex() == raw.hex()
        assert t.size() == len(raw)
        assert Transaction.from_hex(raw.hex().upper()).txid == txid


def test_fees_match_lwk_fixture() -> None:
    expected = {t["txid"]: t["fee"] for t in wallet()["steps"][1]["expected"]["transactions"]}
    txs = fixture_txs()
    assert set(expected) == set(txs)
    for txid, fee in expected.items():
        assert Transaction.from_bytes(txs[txid]).fee(TESTNET_POLICY) == fee
        assert Transaction.from_bytes(txs[txid]).fee("00" * 32) == 0


def test_issuance_ids_match_the_fixture_balances() -> None:
    """The wallet's two issuances: asset and token ids and amounts are the fixture's."""
    expected = {
        t["txid"]: t["balance"]
        for t in wallet()["steps"][1]["expected"]["transactions"]
        if t["type"] == "issuance"
    }
    assert len(expected) == 2
    for txid, balance in expected.items():
        t = Transaction.from_bytes(fixture_txs()[txid])
        issuances = [i.issuance for i in t.inputs if i.issuance is not None]
        assert len(issuances) == 1
        iss = issuances[0]
        assert not iss.is_reissuance
        assert iss.contract_hash is not None
        assert iss.amount is not None and iss.token_amount is not None
        assert iss.token_id is not None
        assert {iss.asset_id: iss.amount, iss.token_id: iss.token_amount} == balance
    others = [i for txid, raw in fixture_txs().items() if txid not in expected
              for i in Transaction.from_bytes(raw).inputs if i.issuance is not None]  # fmt: skip
    assert others == []


@pytest.mark.lwk
def test_inputs_and_outputs_match_lwk() -> None:
    lwk = pytest.importorskip("lwk")
    policy = lwk.Network.testnet().policy_asset()
    for raw in fixture_txs().values():
        ours = Transaction.from_bytes(raw)
        theirs = lwk.Transaction.from_bytes(raw)
        assert str(theirs.txid()) == ours.txid
        assert theirs.fee(policy) == ours.fee(TESTNET_POLICY)
        assert len(theirs.inputs()) == len(ours.inputs)
        for a, b in zip(ours.inputs, theirs.inputs(), strict=True):
            assert (a.prevout.txid, a.prevout.vout) == (
                str(b.outpoint().txid()),
                b.outpoint().vout(),
            )
            assert a.sequence == b.sequence()
            assert not a.is_coinbase and not a.is_pegin
        assert len(theirs.outputs()) == len(ours.outputs)
        for o, p in zip(ours.outputs, theirs.outputs(), strict=True):
            assert o.script_pubkey == bytes.fromhex(str(p.script_pubkey()))
            assert o.value == p.value()
            assert o.asset == (None if p.asset() is None else str(p.asset()))
            assert o.is_fee == p.is_fee()
            assert o.is_blinded == (o.value is None)
            if o.is_blinded:
                assert len(o.value_commitment) == 33 and o.value_commitment[0] in (8, 9)
                assert len(o.asset_commitment) == 33 and o.asset_commitment[0] in (10, 11)
                assert len(o.nonce_commitment) == 33 and o.range_proof and o.surjection_proof


def test_expected_txid_mismatch() -> None:
    txid, raw = next(iter(fixture_txs().items()))
    Transaction.from_bytes(raw, expected_txid=txid.upper())
    with pytest.raises(TxidMismatch) as info:
        Transaction.from_bytes(raw, expected_txid="00" * 32)
    assert info.value.actual == txid
    assert isinstance(info.value, DecodeError)


def test_a_stored_transaction_is_parsed_when_first_read() -> None:
    """`Transaction.stored` (a store's authenticated bytes and txid) reads as the parsed
    transaction; a txid that is not the bytes' is caught when it is parsed."""
    for txid, raw in fixture_txs().items():
        parsed, stored = Transaction.from_bytes(raw), Transaction.stored(raw, txid)
        assert stored == parsed and hash(stored) == hash(parsed) and stored.txid == txid
        assert (stored.version, stored.locktime) == (parsed.version, parsed.locktime)
        assert stored.inputs == parsed.inputs and stored.outputs == parsed.outputs
        assert stored.weight() == parsed.weight()
        assert pickle.loads(pickle.dumps(Transaction.stored(raw, txid))) == parsed
    txid, raw = next(iter(fixture_txs().items()))
    with pytest.raises(TxidMismatch):
        _ = Transaction.stored(raw, "00" * 32).outputs
    with pytest.raises(AttributeError):
        _ = Transaction.stored(raw, txid).no_such_field  # type: ignore[attr-defined]


def test_value_semantics_and_pickle() -> None:
    raws = list(fixture_txs().values())
    a, b = Transaction.from_bytes(raws[0]), Transaction.from_bytes(raws[0])
    assert a == b and hash(a) == hash(b) and a != Transaction.from_bytes(raws[1])
    assert pickle.loads(pickle.dumps(a)) == a
    assert a.txid in repr(a)
    with pytest.raises(TypeError):
        Transaction()
    with pytest.raises(AttributeError):
        a.version = 3
    with pytest.raises(AttributeError):
        del a.outputs
    assert a.version == b.version and a.outputs == b.outputs


# --- hand-built transactions ------------------------------------------------------------------


def test_txid_ignores_witness_and_flag() -> None:
    ins, outs = [txin()], [txout()]
    bare = tx(ins, outs)
    with_witness = tx(
        ins, outs, witness=b"\x00\x00" + b"\x01" + vb(b"\xaa" * 71) + b"\x00" + b"\x00\x00"
    )
    t = Transaction.from_bytes(with_witness)
    assert t.txid == sha256d(bare)[::-1].hex() == Transaction.from_bytes(bare).txid
    assert t.inputs[0].witness == (b"\xaa" * 71,)
    assert t.weight() == 3 * len(bare) + len(with_witness) and t.vsize() == (t.weight() + 3) // 4
    assert Transaction.from_bytes(bare).weight() == 4 * len(bare)
    assert t.version == 2 and t.locktime == 0


def test_explicit_fields_and_fee() -> None:
    asset = bytes(range(32))
    fee = txout(asset=b"\x01" + asset, value=explicit_value(250), spk=b"")
    t = Transaction.from_bytes(tx([txin()], [txout(), fee], locktime=77))
    out = t.outputs[1]
    assert out.is_fee and not out.is_blinded
    assert out.asset == asset[::-1].hex() and out.value == 250
    assert out.asset_commitment == out.value_commitment == out.nonce_commitment == b""
    assert t.fee(asset[::-1].hex()) == 250 and t.fee(asset[::-1].hex().upper()) == 250
    assert not t.outputs[0].is_fee and t.locktime == 77


def test_coinbase_and_pegin_flags() -> None:
    coinbase = txin(prev=bytes(32), index=0xFFFFFFFF, script_sig=b"\x01\x02")
    t = Transaction.from_bytes(tx([coinbase], [txout()]))
    assert t.inputs[0].is_coinbase and t.inputs[0].prevout.vout == 0xFFFFFFFF
    assert t.inputs[0].issuance is None and not t.inputs[0].is_pegin
    pegin = txin(index=0x40000003)
    t = Transaction.from_bytes(tx([pegin], [txout()]))
    assert t.inputs[0].is_pegin and t.inputs[0].prevout.vout == 3 and not t.inputs[0].is_coinbase


def issuance_bytes(nonce: bytes, entropy: bytes, amount: bytes, tokens: bytes) -> bytes:
    return nonce + entropy + amount + tokens


def test_new_issuance_ids_from_first_principles() -> None:
    prev, vout, contract = b"\x44" * 32, 5, b"\x55" * 32
    iss = issuance_bytes(bytes(32), contract, explicit_value(10), explicit_value(2))
    t = Transaction.from_bytes(
        tx([txin(prev=prev, index=0x80000000 | vout, issuance=iss)], [txout()])
    )
    i = t.inputs[0]
    assert i.prevout.vout == vout and i.issuance is not None
    entropy = fast_merkle_root([sha256d(prev + struct.pack("<I", vout)), contract])
    assert i.issuance.entropy == entropy and i.issuance.contract_hash == contract
    assert i.issuance.asset_id == fast_merkle_root([entropy, bytes(32)])[::-1].hex()
    one = (1).to_bytes(32, "little")
    assert i.issuance.token_id == fast_merkle_root([entropy, one])[::-1].hex()
    assert (i.issuance.amount, i.issuance.token_amount) == (10, 2)
    # A confidential amount makes the token id use the leaf 2 instead of 1.
    blinded = issuance_bytes(bytes(32), contract, b"\x08" + b"\x66" * 32, b"\x00")
    t = Transaction.from_bytes(
        tx([txin(prev=prev, index=0x80000000 | vout, issuance=blinded)], [txout()])
    )
    conf = t.inputs[0].issuance
    assert conf is not None and conf.amount is None and conf.token_amount is None
    assert conf.amount_commitment == b"\x08" + b"\x66" * 32 and conf.token_amount_commitment == b""
    assert conf.asset_id == i.issuance.asset_id
    two = (2).to_bytes(32, "little")
    assert conf.token_id == fast_merkle_root([entropy, two])[::-1].hex() != i.issuance.token_id


def test_reissuance_of_a_fixture_asset_keeps_its_id() -> None:
    txid = "c47d08ae480064fcf95e2c07aef8d84d8e1aadc7c607e24ca8159f564759753b"
    original = next(
        i.issuance for i in Transaction.from_bytes(fixture_txs()[txid]).inputs if i.issuance
    )
    reiss = issuance_bytes(b"\x77" * 32, original.entropy, explicit_value(99), b"\x00")
    t = Transaction.from_bytes(tx([txin(index=0x80000001, issuance=reiss)], [txout()]))
    r = t.inputs[0].issuance
    assert r is not None and r.is_reissuance
    assert (
        r.asset_id
        == original.asset_id
        == "91618f01b2ec10c6cb6d03ea4fde9d765e30c23b8585522d247972a31c5435d6"
    )
    assert r.token_id is None and r.contract_hash is None
    assert r.entropy == original.entropy and r.amount == 99 and r.blinding_nonce == b"\x77" * 32


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (tx([txin()], [txout()]) + b"\x00", "trailing"),
        (tx([txin()], [txout()])[:-1], "truncated"),
        (
            tx([txin()], [txout()]).replace(b"\x02\x00\x00\x00\x00", b"\x02\x00\x00\x00\x02", 1),
            "flags",
        ),
        (tx([txin()], [txout(asset=b"\x05" + b"\x22" * 32)]), "asset prefix"),
        (tx([txin()], [txout(value=b"\x0a" + b"\x00" * 32)]), "value prefix"),
        (tx([txin()], [txout(nonce=b"\x04" + b"\x00" * 32)]), "nonce prefix"),
        (tx([txin()], [txout()], witness=empty_witness(1, 1)), "superfluous witness"),
        (b"\x02\x00\x00\x00\x00\xfd\x01\x00", "non-canonical count"),
        (b"\x02\x00\x00\x00\x00\xff" + b"\xff" * 8, "absurd count"),
        (b"\x02\x00\x00\x00\x00\xfe\x00\x00\x00\x01", "count larger than the data"),
        (
            b"\x02\x00\x00\x00\x00\x01" + b"\x11" * 36 + b"\xfe\xff\xff\xff\x01",
            "absurd script length",
        ),
        (b"", "empty"),
    ],
)
def test_malformed_raises_decode_error(raw: bytes, why: str) -> None:
    with pytest.raises(DecodeError):
        Transaction.from_bytes(raw)


def test_every_truncation_of_a_real_tx_is_refused() -> None:
    raw = min(fixture_txs().values(), key=len)
    for n in range(len(raw)):
        with pytest.raises(DecodeError):
            Transaction.from_bytes(raw[:n])


def test_from_hex_rejects_non_hex() -> None:
    with pytest.raises(DecodeError):
        Transaction.from_hex("zz")


# --- fuzz -------------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_or_decode_error(raw: bytes) -> None:
    """Only DecodeError may escape; anything that parses must round-trip exactly."""
    try:
        t = Transaction.from_bytes(raw)
    except DecodeError:
        return
    assert t.to_bytes() == raw
    assert Transaction.from_bytes(t.to_bytes()).txid == t.txid


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(raw: bytes) -> None:
    parse_or_decode_error(raw)


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_random_bytes_after_a_valid_prefix(tail: bytes) -> None:
    parse_or_decode_error(b"\x02\x00\x00\x00" + tail[:1] + b"\x01" + tail[1:])


@FUZZ
@given(
    st.sampled_from(sorted(fixture_txs().values(), key=len)[:16]),
    st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=4),
    st.integers(0, 3),
)
def test_fuzz_mutated_real_transactions(raw: bytes, edits: list[tuple[int, int]], cut: int) -> None:
    b = bytearray(raw)
    for pos, value in edits:
        b[pos % len(b)] = value
    start = (edits[0][0] * 7) % len(b)
    del b[start : start + cut]
    parse_or_decode_error(bytes(b))


def test_range_proofs_are_kept_as_views_of_the_transaction_bytes() -> None:
    """Range proofs, most of a confidential transaction's bytes, are not copied out of it:
    an output holds a view of its own transaction's bytes (also when the transaction was read
    out of a larger buffer, e.g. a block), and reads and pickles as the bytes it shows."""
    for raw in fixture_txs().values():
        framed = Reader(b"\x00" * 7 + raw, pos=7)  # the transaction inside a larger buffer
        for tx in (Transaction.from_bytes(raw), read_transaction(framed)):
            assert tx.to_bytes() == raw
            for out in tx.outputs:
                held = out._range_proof
                if not out.is_blinded:
                    assert held == b""
                    continue
                assert isinstance(held, memoryview) and held.obj is tx.to_bytes()
                proof = out.range_proof
                assert type(proof) is bytes and len(proof) > 1000 and proof in raw
                copied = attrs.evolve(out, range_proof=proof)
                assert copied == out and hash(copied) == hash(out)
                assert pickle.loads(pickle.dumps(out)) == out


def test_ids_a_wallet_repeats_are_held_once() -> None:
    """The txid a caller checked against is the transaction's own string, and explicit asset
    ids (L-BTC in every fee output) and unblinded ones are interned: a wallet of many
    transactions holds each once, not once per output."""
    txs = fixture_txs()
    for txid, raw in txs.items():
        expected = "".join(txid)  # a string object of the caller's, not the parser's
        assert Transaction.from_bytes(raw, expected_txid=expected).txid is expected
        assert Transaction.from_bytes(raw, expected_txid=txid.upper()).txid == txid
    fee_assets = [
        out.asset
        for raw in txs.values()
        for out in Transaction.from_bytes(raw).outputs
        if out.is_fee
    ]
    assert len(fee_assets) > 1 and fee_assets[0] == TESTNET_POLICY
    assert all(asset is fee_assets[0] for asset in fee_assets)
    built = ["".join(TESTNET_POLICY) for _ in range(2)]
    assert built[0] is not built[1]
    secrets = [TxOutSecrets(asset, 1, "00" * 32, "00" * 32) for asset in built]
    assert secrets[0].asset is secrets[1].asset
