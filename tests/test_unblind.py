"""Unblinding against LWK's fixture wallet, the lwk wheel, embit, and synthetic outputs."""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import os
import random
import re
import sys
from functools import cache
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_data import load_fixture

from lwk_core import _rangeproof
from lwk_core._errors import UnblindError
from lwk_core._hashes import hash160
from lwk_core._rangeproof import NotCovered, native_stream, open_proof
from lwk_core._secp import _embit_library, _load_native, get_secp
from lwk_core._transaction import Transaction, TxOut
from lwk_core._types import TxOutSecrets
from lwk_core._unblind import _rewind_nonce, _rewind_verified, unblind_many, unblind_output


def require_native() -> None:
    """Skip where the C extension was not built; fail where LWK_REQUIRE_NATIVE says it must
    be (tox sets it)."""
    if not native_stream() or get_secp().native_unblind is None:
        if os.environ.get("LWK_REQUIRE_NATIVE") == "1":
            pytest.fail("lwk_core._native was not built but LWK_REQUIRE_NATIVE is set")
        pytest.skip("the C extension lwk_core._native was not built")


def use_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unblind as without the C extension: the Python opening over the Python stream."""
    monkeypatch.setattr(_rangeproof, "_draws", _rangeproof._python_draws)
    monkeypatch.setattr(get_secp(), "native_unblind", None)
    assert not native_stream()


@pytest.fixture(params=["native", "python"])
def stream(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each way of unblinding: the C extension (the stream, or the whole unblinding) and the
    Python fallback."""
    if request.param == "python":
        use_python(monkeypatch)
    else:
        require_native()
    return str(request.param)


@cache
def wallet() -> dict[str, Any]:
    data: dict[str, Any] = load_fixture("liquid-testnet-wallet.json")
    return data


@cache
def transactions() -> dict[str, Transaction]:
    return {txid: Transaction.from_hex(t["hex"]) for txid, t in wallet()["transactions"].items()}


@cache
def wallet_scripts() -> dict[bytes, tuple[str, int, bytes]]:
    """script_pubkey -> (chain, index, SLIP-77 blinding key) for indexes 0..69 of both chains.

    The fixture lists indexes 0..24; its utxos reach 59, so scripts are derived from the
    descriptor (embit BIP32, wpkh) and keys with SLIP-77, both checked against the fixture.
    """
    from embit.bip32 import HDKey

    descriptor = wallet()["descriptor"]
    master = bytes.fromhex(re.search(r"slip77\(([0-9a-f]{64})\)", descriptor)[1])  # type: ignore[index]
    xpub = HDKey.from_string(re.search(r"\](tpub\w+)/", descriptor)[1])  # type: ignore[index]
    scripts = {}
    for chain_index, chain in enumerate(("external", "internal")):
        for index in range(70):
            spk = b"\x00\x14" + hash160(xpub.derive([chain_index, index]).key.sec())
            key = hmac.new(master, spk, hashlib.sha256).digest()
            scripts[spk] = (chain, index, key)
        for entry in wallet()["derivation"][chain]:
            spk = bytes.fromhex(entry["script_pubkey"])
            assert scripts[spk] == (
                chain,
                entry["index"],
                bytes.fromhex(entry["blinding_private_key"]),
            )
    return scripts


def blinding_keys() -> dict[bytes, bytes]:
    return {spk: key for spk, (_, _, key) in wallet_scripts().items()}


def wallet_outputs() -> list[tuple[str, int, TxOut, bytes]]:
    """Every output of the fixture txs paying one of the wallet's derived scripts."""
    keys = blinding_keys()
    return [
        (txid, vout, out, keys[out.script_pubkey])
        for txid, t in transactions().items()
        for vout, out in enumerate(t.outputs)
        if out.script_pubkey in keys
    ]


def test_every_fixture_utxo_unblinds_to_its_expected_asset_and_value() -> None:
    utxos = wallet()["steps"][1]["expected"]["utxos"]
    assert len(utxos) == 27
    for utxo in utxos:
        txid, vout = utxo["outpoint"].removeprefix("[elements]").split(":")
        t = transactions()[txid]
        out = t.outputs[int(vout)]
        chain, index, key = wallet_scripts()[out.script_pubkey]
        assert (chain, index) == (utxo["chain"], utxo["index"])
        secrets = t.unblind(int(vout), key)
        assert (secrets.asset, secrets.value) == (utxo["asset"], utxo["value"])


def test_wallet_outputs_sum_to_the_fixture_balance_of_unspent_ones() -> None:
    """All 133 txos of the wallet unblind; the unspent ones sum to LWK's balance."""
    expected = wallet()["steps"][1]["expected"]
    outs = wallet_outputs()
    assert len(outs) == expected["txo_count"] == 133
    spent = {(i.prevout.txid, i.prevout.vout) for t in transactions().values() for i in t.inputs}
    balance: dict[str, int] = {}
    for txid, vout, out, key in outs:
        if (txid, vout) not in spent:
            s = unblind_output(out, key)
            balance[s.asset] = balance.get(s.asset, 0) + s.value
    assert balance == expected["balance"]


@pytest.mark.lwk
@pytest.mark.usefixtures("stream")
def test_secrets_equal_lwk_for_every_wallet_output() -> None:
    lwk = pytest.importorskip("lwk")
    outs = wallet_outputs()
    ours = unblind_many([(out, key) for _, _, out, key in outs])
    for (txid, vout, _, key), mine in zip(outs, ours, strict=True):
        theirs = lwk.Transaction.from_bytes(transactions()[txid].to_bytes()).outputs()[vout]
        s = theirs.unblind(lwk.SecretKey.from_bytes(key))
        assert isinstance(mine, TxOutSecrets)
        assert (mine.asset, mine.value, mine.asset_bf, mine.value_bf) == (
            str(s.asset()),
            s.value(),
            str(s.asset_bf()),
            str(s.value_bf()),
        )


def test_secrets_equal_embit_for_a_sample() -> None:
    from embit.liquid.transaction import LTransaction

    blinded = [o for o in wallet_outputs() if o[2].is_blinded][::7]
    assert len(blinded) >= 10
    for txid, vout, out, key in blinded:
        embit_out = LTransaction.parse(transactions()[txid].to_bytes()).vout[vout]
        value, asset, vbf, abf, *_ = embit_out.unblind(key)
        s = unblind_output(out, key)
        assert (s.value, s.asset, s.value_bf, s.asset_bf) == (
            value,
            asset[::-1].hex(),
            vbf[::-1].hex(),
            abf[::-1].hex(),
        )


def some_blinded_output() -> tuple[TxOut, bytes]:
    _, _, out, key = next(o for o in wallet_outputs() if o[2].is_blinded)
    return out, key


def test_wrong_or_invalid_keys_raise() -> None:
    out, key = some_blinded_output()
    other = next(k for k in blinding_keys().values() if k != key)
    for bad in (other, bytes(32), b"\xff" * 32, key[:31], key + b"\x00"):
        with pytest.raises(UnblindError) as info:
            unblind_output(out, bad)
        assert key.hex() not in str(info.value) and bad.hex() not in str(info.value)


def test_corrupt_outputs_raise() -> None:
    out, key = some_blinded_output()
    other = next(o[2] for o in wallet_outputs() if o[2].is_blinded and o[2] != out)
    corrupt = [
        attrs.evolve(out, range_proof=b""),
        attrs.evolve(out, range_proof=out.range_proof[:-1]),
        attrs.evolve(out, nonce_commitment=b""),
        attrs.evolve(out, nonce_commitment=b"\x02" + b"\xff" * 32),  # not on the curve
        attrs.evolve(out, value_commitment=b"\x08" + b"\xff" * 32),
        attrs.evolve(out, asset_commitment=b"\x0a" + b"\xff" * 32),
        attrs.evolve(out, asset_commitment=other.asset_commitment),
        attrs.evolve(out, script_pubkey=out.script_pubkey + b"\x00"),  # the proof commits to it
        attrs.evolve(out, asset_commitment=b"", asset=None),
        attrs.evolve(out, value_commitment=b"", value=5),  # confidential asset, explicit value
    ]
    for bad in corrupt:
        with pytest.raises(UnblindError):
            unblind_output(bad, key)
    assert unblind_output(out, key).value > 0


def test_explicit_output_gives_zero_blinders_without_the_key() -> None:
    fee = next(o for t in transactions().values() for o in t.outputs if o.is_fee)
    assert fee.asset is not None and fee.value is not None
    s = unblind_output(fee, b"")
    assert s == TxOutSecrets(fee.asset, fee.value, "00" * 32, "00" * 32)


def test_transaction_unblind_out_of_range() -> None:
    t = next(iter(transactions().values()))
    with pytest.raises(UnblindError):
        t.unblind(len(t.outputs), bytes(32))
    with pytest.raises(UnblindError):
        t.unblind(-1, bytes(32))


# --- synthetic outputs built with embit's signing side of the same library ---------------------


def make_output(
    *,
    asset: bytes,
    claimed_asset: bytes,
    value: int,
    explicit_asset: bool,
    receiver: bytes,
    claimed_value: int | None = None,
    **proof_shape: int,
) -> tuple[TxOut, bytes, bytes]:
    """An output to `receiver`'s blinding key whose range-proof message claims `claimed_asset`
    (and whose proof hides `claimed_value`, if given, instead of the committed value); with
    its asset and value blinding factors. `proof_shape`: rangeproof_sign's min_value, exp,
    min_bits (Elements' defaults otherwise)."""
    from embit.util import secp256k1 as secp

    from lwk_core._hashes import sha256d

    ephemeral = os.urandom(32)
    receiver_pub = secp.ec_pubkey_create(receiver)
    shared = secp.ec_pubkey_parse(secp.ec_pubkey_serialize(receiver_pub))
    secp.ec_pubkey_tweak_mul(shared, ephemeral)  # embit writes the product in place
    nonce = sha256d(secp.ec_pubkey_serialize(shared))
    abf = bytes(32) if explicit_asset else os.urandom(32)
    vbf = os.urandom(32)
    gen = (
        secp.generator_generate_blinded(asset, abf)
        if abf != bytes(32)
        else secp.generator_generate(asset)
    )
    commit = secp.pedersen_commit(vbf, value, gen)
    spk = b"\x00\x14" + os.urandom(20)
    proof = secp.rangeproof_sign(
        nonce,
        value if claimed_value is None else claimed_value,
        commit,
        vbf,
        claimed_asset + abf,
        spk,
        gen,
        **proof_shape,
    )
    out = TxOut(
        script_pubkey=spk,
        asset=asset[::-1].hex() if explicit_asset else None,
        value=None,
        asset_commitment=b"" if explicit_asset else secp.generator_serialize(gen),
        value_commitment=secp.pedersen_commitment_serialize(commit),
        nonce_commitment=secp.ec_pubkey_serialize(secp.ec_pubkey_create(ephemeral)),
        range_proof=proof,
    )
    return out, abf, vbf


def test_synthetic_roundtrip_and_lying_message() -> None:
    receiver = os.urandom(32)
    asset, other = os.urandom(32), os.urandom(32)
    out, abf, vbf = make_output(
        asset=asset, claimed_asset=asset, value=123456, explicit_asset=False, receiver=receiver
    )
    s = unblind_output(out, receiver)
    assert s == TxOutSecrets(asset[::-1].hex(), 123456, abf[::-1].hex(), vbf[::-1].hex())
    # A sender whose proof message names another asset than the commitment is refused
    # (rust-elements, hence LWK, would credit the claimed asset).
    liar, _, _ = make_output(
        asset=asset, claimed_asset=other, value=5, explicit_asset=False, receiver=receiver
    )
    with pytest.raises(UnblindError, match="asset commitment"):
        unblind_output(liar, receiver)


def test_explicit_asset_with_blinded_value_is_not_unblinded_as_in_lwk() -> None:
    """Elements could rewind it; LWK (rust-elements TxOut::unblind) refuses: NotConfidential."""
    receiver = os.urandom(32)
    out, _, _ = make_output(
        asset=os.urandom(32),
        claimed_asset=bytes(32),
        value=7,
        explicit_asset=True,
        receiver=receiver,
    )
    assert out.asset is not None and out.is_blinded
    with pytest.raises(UnblindError, match="not confidential"):
        unblind_output(out, receiver)


@pytest.mark.usefixtures("stream")
def test_a_proof_hiding_another_value_than_the_commitment_is_refused() -> None:
    """The library signs a proof for a value its commitment does not hold; the proof opens
    (to the claimed value), and only the check that the secrets open the commitment refuses
    it. (The asset side: test_synthetic_roundtrip_and_lying_message.)"""
    receiver, asset = os.urandom(32), os.urandom(32)
    out, _, _ = make_output(
        asset=asset,
        claimed_asset=asset,
        value=1_000,
        claimed_value=5_000,
        explicit_asset=False,
        receiver=receiver,
    )
    assert opened(out, receiver)[0] == 5_000
    with pytest.raises(UnblindError, match="does not rewind"):
        unblind_output(out, receiver)


def negated(point: bytes) -> bytes:
    """The same x, the other y: still a valid encoding of a point (-P)."""
    return bytes([point[0] ^ 1]) + point[1:]


@pytest.mark.usefixtures("stream")
def test_swapped_or_negated_commitments_and_nonces_are_refused() -> None:
    """Valid points that are not the output's: each changes the random stream's seed or the
    commitments the secrets must open."""
    out, key = some_blinded_output()
    other = next(o[2] for o in wallet_outputs() if o[2].is_blinded and o[2] != out)
    tampered = [
        attrs.evolve(out, nonce_commitment=other.nonce_commitment),
        attrs.evolve(out, nonce_commitment=negated(out.nonce_commitment)),
        attrs.evolve(out, value_commitment=other.value_commitment),
        attrs.evolve(out, value_commitment=negated(out.value_commitment)),
        attrs.evolve(out, asset_commitment=negated(out.asset_commitment)),
    ]
    for bad in tampered:
        with pytest.raises(UnblindError):
            unblind_output(bad, key)
    assert isinstance(unblind_output(out, key), TxOutSecrets)


def as_transaction(outs: list[TxOut]) -> bytes:
    """A transaction (one made-up input) carrying these outputs, serialized by embit."""
    from embit.liquid.transaction import (
        LTransaction,
        LTransactionInput,
        LTransactionOutput,
        Proof,
        RangeProof,
        TxOutWitness,
    )
    from embit.script import Script

    tx = LTransaction(
        vin=[LTransactionInput(os.urandom(32), 0)],
        vout=[
            LTransactionOutput(
                out.asset_commitment,
                out.value_commitment,
                Script(out.script_pubkey),
                out.nonce_commitment,
                TxOutWitness(Proof(b""), RangeProof(out.range_proof)),
            )
            for out in outs
        ],
    )
    raw: bytes = tx.serialize()
    return raw


@pytest.mark.lwk
def test_secrets_equal_lwk_on_many_synthetic_outputs() -> None:
    """Values of every magnitude (those of 2^50 units and more go to the library's rewind) and
    every proof shape, read back from a serialized transaction: ours, LWK's and the signed
    secrets agree."""
    lwk = pytest.importorskip("lwk")
    rng = random.Random(20)
    cases = [(value, shape) for value, shape, _ in PROOF_SHAPES]
    cases += [(rng.randrange(2**bits), {}) for bits in range(1, 53)]
    receiver = os.urandom(32)
    made = [
        (
            value,
            asset,
            *make_output(
                asset=asset,
                claimed_asset=asset,
                value=value,
                explicit_asset=False,
                receiver=receiver,
                **shape,
            ),
        )
        for value, shape in cases
        for asset in [os.urandom(32)]
    ]
    raw = as_transaction([out for _, _, out, _, _ in made])
    ours, theirs = Transaction.from_bytes(raw), lwk.Transaction.from_bytes(raw).outputs()
    key = lwk.SecretKey.from_bytes(receiver)
    for vout, (value, asset, _, abf, vbf) in enumerate(made):
        expected = TxOutSecrets(asset[::-1].hex(), value, abf[::-1].hex(), vbf[::-1].hex())
        s = theirs[vout].unblind(key)
        assert ours.unblind(vout, receiver) == expected
        assert (str(s.asset()), s.value(), str(s.asset_bf()), str(s.value_bf())) == (
            expected.asset,
            expected.value,
            expected.asset_bf,
            expected.value_bf,
        )


# --- opening proofs without verifying them (lwk_core/_rangeproof.py) ------------------------


Rewound = tuple[int, bytes, bytes]  # value, value blinder, message


def library_rewind(out: TxOut, key: bytes) -> Rewound:
    """The library's rewind, which verifies the whole proof."""
    s = get_secp()
    commit, gen = ctypes.create_string_buffer(64), ctypes.create_string_buffer(64)
    assert s.lib.secp256k1_pedersen_commitment_parse(s.ctx, commit, out.value_commitment) == 1
    assert s.lib.secp256k1_generator_parse(s.ctx, gen, out.asset_commitment) == 1
    return _rewind_verified(s, out, _rewind_nonce(s, out.nonce_commitment, key), commit, gen)


def opened(out: TxOut, key: bytes) -> Rewound:
    s = get_secp()
    nonce = _rewind_nonce(s, out.nonce_commitment, key)
    return open_proof(
        s, out.range_proof, out.value_commitment, out.asset_commitment, nonce, out.script_pubkey
    )


@pytest.mark.usefixtures("stream")
def test_opening_equals_the_library_rewind_on_every_fixture_output() -> None:
    outs = [(out, key) for _, _, out, key in wallet_outputs() if out.is_blinded]
    assert len(outs) == 133
    for out, key in outs:
        assert opened(out, key) == library_rewind(out, key)


# (value, rangeproof_sign options, whether open_proof leaves it to the library)
PROOF_SHAPES = [
    (123_456, {}, False),  # Elements' default: min_value 1, 52 bits, 26 rings of 4
    (1, {}, False),
    (0, {}, False),  # min_value 0
    (2**50 - 1, {}, False),  # the largest value whose top digit is 0
    (2**50 + 1, {}, True),  # top digit 1: its challenge needs every ring commitment
    (21_000_000 * 10**8, {}, True),
    (77, {"min_bits": 9}, False),  # odd mantissa: a last ring of 2
    (5_000_123, {"exp": 2, "min_bits": 20}, False),  # scaled digits, remainder in min_value
    (930, {"min_value": 900, "min_bits": 8}, False),  # 4 rings: digits 30, top digit 0
    (999, {"min_value": 900, "min_bits": 8}, True),  # digits 99: top digit 1
]


@pytest.mark.usefixtures("stream")
@pytest.mark.parametrize(("value", "shape", "left_to_library"), PROOF_SHAPES)
def test_every_proof_shape_unblinds_to_what_was_signed(
    value: int, shape: dict[str, int], left_to_library: bool
) -> None:
    receiver, asset = os.urandom(32), os.urandom(32)
    out, abf, vbf = make_output(
        asset=asset,
        claimed_asset=asset,
        value=value,
        explicit_asset=False,
        receiver=receiver,
        **shape,
    )
    expected = TxOutSecrets(asset[::-1].hex(), value, abf[::-1].hex(), vbf[::-1].hex())
    assert unblind_output(out, receiver) == expected
    assert library_rewind(out, receiver) == (value, vbf, asset + abf)
    if left_to_library:
        with pytest.raises(NotCovered):
            opened(out, receiver)
    else:
        assert opened(out, receiver) == (value, vbf, asset + abf)


@pytest.mark.usefixtures("stream")
def test_proof_headers_the_opening_refuses_or_leaves_to_the_library() -> None:
    out, key = some_blinded_output()
    proof = out.range_proof
    exact_value = b"\x00" + proof[1:]  # no range flag: an exact-value proof, no rings
    with pytest.raises(NotCovered):
        opened(attrs.evolve(out, range_proof=exact_value), key)
    for bad in (b"\x80" + proof[1:], proof[:-1], proof + b"\x00", proof[:64]):
        with pytest.raises(UnblindError, match="range proof"):
            opened(attrs.evolve(out, range_proof=bad), key)


@cache
def honest_output() -> tuple[TxOut, bytes, TxOutSecrets]:
    out, key = some_blinded_output()
    return out, key, unblind_output(out, key)


def flipped(out: TxOut, position: int, mask: int) -> TxOut:
    proof = bytearray(out.range_proof)
    proof[position] ^= mask
    return attrs.evolve(out, range_proof=bytes(proof))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_an_altered_proof_gives_the_true_secrets_or_none(data: st.DataObject) -> None:
    """The txid does not cover witnesses: a server may alter range proofs. Whatever it
    changes, the output unblinds to its true secrets (the commitments bind) or not at all."""
    out, key, truth = honest_output()
    position = data.draw(st.integers(0, len(out.range_proof) - 1))
    mask = data.draw(st.integers(1, 255))
    try:
        secrets = unblind_output(flipped(out, position, mask), key)
    except UnblindError:
        return
    assert secrets == truth


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**64))
def test_random_proof_bodies_are_refused_with_unblind_error(seed: int) -> None:
    """Any bytes after a valid header, at the right length, opened with the right key:
    UnblindError, nothing else."""
    out, key, _ = honest_output()
    header = out.range_proof[:10]  # the fixture proofs' flags, mantissa and min value
    body = random.Random(seed).randbytes(len(out.range_proof) - len(header))
    with pytest.raises(UnblindError):
        unblind_output(attrs.evolve(out, range_proof=header + body), key)


@pytest.mark.usefixtures("stream")
def test_which_alterations_open_and_which_do_not() -> None:
    out, key, truth = honest_output()
    proof = out.range_proof
    # A member no opening reads (ring 9 of 26): the library refuses the proof, the opening
    # still finds the true secrets.
    middle = len(proof) // 2
    with pytest.raises(UnblindError):
        library_rewind(flipped(out, middle, 1), key)
    assert unblind_output(flipped(out, middle, 1), key) == truth
    # The header, the shared challenge e0 and the member carrying the value are read.
    e0 = len(proof) - 32 * 104 - 32
    for position in (0, 1, e0, len(proof) - 1):
        with pytest.raises(UnblindError):
            unblind_output(flipped(out, position, 1), key)


def outcome(out: TxOut, key: bytes) -> Rewound | tuple[type[Exception], str]:
    try:
        return opened(out, key)
    except (UnblindError, NotCovered) as e:
        return type(e), str(e)


@pytest.mark.usefixtures("stream")
def test_commitments_under_another_encodings_tag_are_refused() -> None:
    """Only a commitment's low tag bit enters the proof's seed: 0x0a/0x0b on a value
    commitment, or 0x08/0x09 and 0x0c/0x0d on an asset commitment, leave the opening as it is,
    and only the check of the encoding refuses them (a square-y test alone would take 0x0b
    for 0x09)."""
    out, key, _ = honest_output()
    value, asset = out.value_commitment, out.asset_commitment
    for tag in (0x0A, 0x0C, 0x00):
        bad = attrs.evolve(out, value_commitment=bytes([tag | value[0] & 1]) + value[1:])
        with pytest.raises(UnblindError, match="invalid value commitment"):
            unblind_output(bad, key)
    for tag in (0x08, 0x0C, 0x00):
        bad = attrs.evolve(out, asset_commitment=bytes([tag | asset[0] & 1]) + asset[1:])
        with pytest.raises(UnblindError, match="invalid asset commitment"):
            unblind_output(bad, key)


def unblind_outcome(out: TxOut, key: bytes) -> TxOutSecrets | str:
    try:
        return unblind_output(out, key)
    except UnblindError as e:
        return str(e)


@pytest.mark.lwk
def test_the_extension_and_python_unblind_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """Altered proofs (a bit flipped every 7 bytes), altered commitments and nonces, wrong
    keys, lying proofs and every proof shape: the C extension's unblinding and the Python one
    give the same secrets or the same error (each one's truth: the tests above)."""
    require_native()
    out, key, _ = honest_output()
    other = next(o[2] for o in wallet_outputs() if o[2].is_blinded and o[2] != out)
    cases = [(flipped(out, i, 1 << i % 8), key) for i in range(0, len(out.range_proof), 7)]
    for field in ("value_commitment", "asset_commitment", "nonce_commitment"):
        point = getattr(out, field)
        cases += [
            (attrs.evolve(out, **{field: getattr(other, field)}), key),
            (attrs.evolve(out, **{field: negated(point)}), key),
            (attrs.evolve(out, **{field: point[:1] + bytes(32)}), key),
            (attrs.evolve(out, **{field: point[:-1] + bytes([point[-1] ^ 1])}), key),
        ]
    cases += [(out, bytes(32)), (out, b"\xff" * 32), (out, blinding_keys()[other.script_pubkey])]
    receiver = os.urandom(32)
    asset = os.urandom(32)
    for value, shape, _ in PROOF_SHAPES:
        made, _, _ = make_output(
            asset=asset, claimed_asset=asset, value=value, explicit_asset=False,
            receiver=receiver, **shape,
        )  # fmt: skip
        cases.append((made, receiver))
    for claimed_asset, claimed_value in ((os.urandom(32), None), (asset, 5_000)):
        made, _, _ = make_output(
            asset=asset, claimed_asset=claimed_asset, value=1_000, claimed_value=claimed_value,
            explicit_asset=False, receiver=receiver,
        )  # fmt: skip
        cases.append((made, receiver))
    native = [unblind_outcome(*case) for case in cases]
    use_python(monkeypatch)
    assert [unblind_outcome(*case) for case in cases] == native
    errors = {r for r in native if isinstance(r, str)}
    assert len(errors) >= 5  # many kinds of error were compared
    assert sum(isinstance(r, TxOutSecrets) for r in native) > len(PROOF_SHAPES)


def test_both_streams_open_altered_proofs_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """One bit flipped every 5 bytes of a proof, and every shape's proof: the C and the Python
    stream give the same opening or the same typed error (each proof's truth: the tests
    above, against the library and LWK)."""
    require_native()
    out, key, _ = honest_output()
    cases = [(flipped(out, i, 1 << i % 8), key) for i in range(0, len(out.range_proof), 5)]
    receiver = os.urandom(32)
    for value, shape, _ in PROOF_SHAPES:
        made, _, _ = make_output(
            asset=os.urandom(32),
            claimed_asset=os.urandom(32),
            value=value,
            explicit_asset=False,
            receiver=receiver,
            **shape,
        )
        cases.append((made, receiver))
    native = [outcome(*case) for case in cases]
    monkeypatch.setattr(_rangeproof, "_draws", _rangeproof._python_draws)
    assert [outcome(*case) for case in cases] == native
    errors = sum(isinstance(r[0], type) for r in native)
    assert 0 < errors < len(cases)  # both kinds of result were compared


# RFC 6979 HMAC-SHA256 generator vectors of libsecp256k1 (src/tests.c,
# run_rfc6979_hmac_sha256_tests): a 64-byte seed, then three 32-byte outputs. A single ring
# of 3 members draws exactly those three.
RFC6979_VECTORS = [
    (
        bytes(range(1, 32)) + b"\x00"
        + bytes.fromhex("4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a"),
        "4fe29525b2086809159acdf0506efb86b0ec932c7ba44256ab321e421e67e9fb"
        "2bf0fff1d3c378a22dc5de1d856522325c65b504491a0cbd01cb8f3aa67ffd4a"
        "f528b410cb541f77000d7afb6c5b53c5c471eab43e466d9ac5190c39c82fd82e",
    ),
    (
        b"\xff" * 32
        + bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        "9c236c165b82ae0cd590659e100b6bab3036e7ba8b06749baf6981e16f1a2b95"
        "df471061625bc0ea14b682feee2c9c02f235da04204c1d62a1536c6e17aed7a9"
        "7597887cbd76321f32e30440679a22cf7f8d9d2eac390e581fea091ce202ba94",
    ),
]  # fmt: skip


@pytest.mark.usefixtures("stream")
@pytest.mark.parametrize(("seed", "expected"), RFC6979_VECTORS)
def test_the_stream_gives_libsecp256k1s_rfc6979_outputs(seed: bytes, expected: str) -> None:
    assert _rangeproof._draws(seed, bytes([3])).hex() == expected


def test_the_stream_is_native_where_required() -> None:
    """tox sets LWK_REQUIRE_NATIVE: there the C extension must have been built and chosen."""
    if os.environ.get("LWK_REQUIRE_NATIVE") != "1":
        pytest.skip("LWK_REQUIRE_NATIVE is not set (tox sets it)")
    from lwk_core._native import prover_draws, unblind

    assert _rangeproof._draws is prover_draws
    assert native_stream()
    assert get_secp().native_unblind is unblind


def test_without_the_extension_the_python_stream_and_unblinding_are_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "lwk_core._native", None)  # import fails
    assert _rangeproof._select_draws() is _rangeproof._python_draws
    assert _load_native(_embit_library()) is None  # so the Python unblinding is used


def test_the_extension_refuses_impossible_ring_sizes() -> None:
    require_native()
    for sizes in (b"", bytes([4, 0]), bytes([5]), bytes([4] * 33)):
        with pytest.raises(ValueError, match="ring"):
            _rangeproof._draws(bytes(32), sizes)


# --- many ---------------------------------------------------------------------------------------


def test_unblind_many_keeps_order_and_reports_failures() -> None:
    outs = [(out, key) for _, _, out, key in wallet_outputs() if out.is_blinded][:12]
    wrong = (outs[0][0], next(k for k in blinding_keys().values() if k != outs[0][1]))
    jobs = [*outs[:5], wrong, *outs[5:]]
    results = unblind_many(jobs)
    assert len(results) == len(jobs)
    assert isinstance(results[5], UnblindError)
    expected = [unblind_output(*job) for job in outs]
    assert [r for i, r in enumerate(results) if i != 5] == expected
    assert unblind_many([]) == []
