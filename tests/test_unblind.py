"""Unblinding against LWK's fixture wallet, the lwk wheel, embit, and synthetic outputs."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import pytest

from lwk_core._errors import UnblindError
from lwk_core._hashes import hash160
from lwk_core._transaction import Transaction, TxOut
from lwk_core._unblind import unblind_many, unblind_output
from lwk_core._update import TxOutSecrets

FIXTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures"


@cache
def wallet() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "liquid-testnet-wallet.json").read_text())
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
    proof = bytearray(out.range_proof)
    proof[len(proof) // 2] ^= 1
    other = next(o[2] for o in wallet_outputs() if o[2].is_blinded and o[2] != out)
    corrupt = [
        attrs.evolve(out, range_proof=bytes(proof)),
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
    *, asset: bytes, claimed_asset: bytes, value: int, explicit_asset: bool, receiver: bytes
) -> tuple[TxOut, bytes, bytes]:
    """An output to `receiver`'s blinding key whose range-proof message claims `claimed_asset`;
    with its asset and value blinding factors."""
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
    proof = secp.rangeproof_sign(nonce, value, commit, vbf, claimed_asset + abf, spk, gen)
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


# --- many ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [None, 1, 2, 3])
def test_unblind_many_keeps_order_and_reports_failures(threads: int | None) -> None:
    outs = [(out, key) for _, _, out, key in wallet_outputs() if out.is_blinded][:12]
    wrong = (outs[0][0], next(k for k in blinding_keys().values() if k != outs[0][1]))
    jobs = [*outs[:5], wrong, *outs[5:]]
    results = unblind_many(jobs, threads=threads)
    assert len(results) == len(jobs)
    assert isinstance(results[5], UnblindError)
    expected = [unblind_output(*job) for job in outs]
    assert [r for i, r in enumerate(results) if i != 5] == expected
    assert unblind_many([], threads=threads) == []
