"""Building the faucet's transactions with embit: real confidential outputs, blinded
deterministically from a seed (see `_faucet`).

Every output with a blinding pubkey gets asset and value commitments, a range proof, a
surjection proof and an ECDH nonce that the holder of the blinding key unblinds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import attrs
from embit import ec
from embit.liquid.transaction import (
    AssetIssuance,
    LTransaction,
    LTransactionInput,
    LTransactionOutput,
    Proof,
    RangeProof,
    TxOutWitness,
)
from embit.script import Script
from embit.util import secp256k1

from lwk_core.primitives import fast_merkle_root, sha256, sha256d, tagged_hash

__all__ = ["TxInput", "TxOutput", "build_tx", "cache_key", "holdings", "issuance_ids"]

_ZERO = bytes(32)
_SEQUENCE = 0xFFFFFFFD  # signals RBF
_CACHE_FORMAT = "lwk-regtest-tx-1"


@attrs.frozen
class TxInput:
    txid: str
    vout: int
    asset: bytes  # internal order
    value: int
    abf: bytes = _ZERO
    vbf: bytes = _ZERO
    commitment: bytes | None = None  # 33-byte asset commitment when the asset is blinded
    issuance: tuple[int, int] | None = None  # (amount, tokens): a new explicit issuance


@attrs.frozen
class TxOutput:
    script: bytes
    asset: bytes  # internal order
    value: int
    blinding_pubkey: bytes | None = None


def issuance_ids(txid: str, vout: int) -> tuple[bytes, bytes]:
    """(asset, reissuance token) in internal order for a new issuance with contract hash 0."""
    outpoint = bytes.fromhex(txid)[::-1] + vout.to_bytes(4, "little")
    entropy = fast_merkle_root([sha256d(outpoint), _ZERO])
    token_tag = (1).to_bytes(32, "little")  # explicit issuance amount
    return fast_merkle_root([entropy, _ZERO]), fast_merkle_root([entropy, token_tag])


def holdings(inputs: Sequence[TxInput]) -> dict[bytes, int]:
    """What inputs bring in, per asset (issued amounts included)."""
    have: dict[bytes, int] = {}
    for i in inputs:
        have[i.asset] = have.get(i.asset, 0) + i.value
        if i.issuance:
            for tag, value in zip(issuance_ids(i.txid, i.vout), i.issuance, strict=True):
                have[tag] = have.get(tag, 0) + value
    return have


def cache_key(inputs: Sequence[TxInput], outputs: Sequence[TxOutput]) -> str:
    def hx(b: bytes | None) -> str | None:
        return None if b is None else b.hex()

    spec = {
        "format": _CACHE_FORMAT,
        "in": [
            [
                i.txid,
                i.vout,
                hx(i.asset),
                i.value,
                hx(i.abf),
                hx(i.vbf),
                hx(i.commitment),
                list(i.issuance) if i.issuance else None,
            ]
            for i in inputs
        ],
        "out": [[hx(o.script), hx(o.asset), o.value, hx(o.blinding_pubkey)] for o in outputs],
    }
    return sha256(json.dumps(spec, sort_keys=True).encode()).hex()


def _blinded_output(
    out: TxOutput,
    abf: bytes,
    vbf: bytes,
    seed: bytes,
    domain: list[tuple[bytes, bytes, bytes]],
) -> LTransactionOutput:
    """Commit, prove and encrypt one output to its blinding pubkey (PROTOCOL 4.1)."""
    assert out.blinding_pubkey is not None
    gen = secp256k1.generator_generate_blinded(out.asset, abf)
    value_commit = secp256k1.pedersen_commit(vbf, out.value, gen)
    tags = [tag for tag, _, _ in domain]
    proof, index = secp256k1.surjectionproof_initialize(
        tags, out.asset, tagged_hash(b"lwk-regtest/surjection", seed)
    )
    gens = [g for _, g, _ in domain]
    secp256k1.surjectionproof_generate(proof, index, gens, gen, domain[index][2], abf)
    ephemeral = ec.PrivateKey(tagged_hash(b"lwk-regtest/ephemeral", seed))
    shared = secp256k1.ec_pubkey_parse(out.blinding_pubkey)
    secp256k1.ec_pubkey_tweak_mul(shared, ephemeral.secret)
    nonce = sha256d(secp256k1.ec_pubkey_serialize(shared))
    range_proof = secp256k1.rangeproof_sign(
        nonce, out.value, value_commit, vbf, out.asset + abf, out.script, gen
    )
    return LTransactionOutput(
        secp256k1.generator_serialize(gen),
        secp256k1.pedersen_commitment_serialize(value_commit),
        Script(out.script),
        ephemeral.get_public_key().sec(),
        TxOutWitness(Proof(secp256k1.surjectionproof_serialize(proof)), RangeProof(range_proof)),
    )


def build_tx(inputs: Sequence[TxInput], outputs: Sequence[TxOutput], seed: bytes) -> bytes:
    """Serialize a transaction, blinding the outputs that have a blinding pubkey."""
    vin, domain = _inputs(inputs)
    factors = _blinding_factors(inputs, outputs, seed)
    vout = []
    for k, out in enumerate(outputs):
        if k in factors:
            abf, vbf = factors[k]
            out_seed = tagged_hash(b"lwk-regtest/output", seed + k.to_bytes(4, "little"))
            vout.append(_blinded_output(out, abf, vbf, out_seed, domain))
        else:
            vout.append(LTransactionOutput(out.asset, out.value, Script(out.script)))
    tx = LTransaction(version=2, vin=vin, vout=vout, locktime=0)
    raw: bytes = tx.serialize()
    return raw


def _inputs(
    inputs: Sequence[TxInput],
) -> tuple[list[LTransactionInput], list[tuple[bytes, bytes, bytes]]]:
    """The embit inputs, and the surjection domain: (asset tag, generator, abf) of every
    input and of every asset an input issues."""
    domain: list[tuple[bytes, bytes, bytes]] = []
    vin = []
    for i in inputs:
        gen = (
            secp256k1.generator_parse(i.commitment)
            if i.commitment
            else secp256k1.generator_generate(i.asset)
        )
        domain.append((i.asset, gen, i.abf))
        issuance = None
        if i.issuance:
            amount, tokens = i.issuance
            asset, token = issuance_ids(i.txid, i.vout)
            for tag, value in ((asset, amount), (token, tokens)):
                if value:
                    domain.append((tag, secp256k1.generator_generate(tag), _ZERO))
            issuance = AssetIssuance(_ZERO, _ZERO, amount or None, tokens or None)
        vin.append(
            LTransactionInput(
                bytes.fromhex(i.txid), i.vout, sequence=_SEQUENCE, asset_issuance=issuance
            )
        )
    return vin, domain


def _blinding_factors(
    inputs: Sequence[TxInput], outputs: Sequence[TxOutput], seed: bytes
) -> dict[int, tuple[bytes, bytes]]:
    """(abf, vbf) per blinded output index, derived from `seed`; the last value blinder
    balances the commitments of inputs and outputs."""
    blinded = [k for k, o in enumerate(outputs) if o.blinding_pubkey is not None]
    factors: dict[int, tuple[bytes, bytes]] = {}
    for k in blinded:
        factors[k] = (
            tagged_hash(b"lwk-regtest/abf", seed + k.to_bytes(4, "little")),
            tagged_hash(b"lwk-regtest/vbf", seed + k.to_bytes(4, "little")),
        )
    if blinded:
        last = blinded[-1]
        sum_values = [i.value for i in inputs] + [outputs[k].value for k in blinded]
        sum_abfs = [i.abf for i in inputs] + [factors[k][0] for k in blinded]
        sum_vbfs = [i.vbf for i in inputs] + [factors[k][1] for k in blinded]
        last_vbf = secp256k1.pedersen_blind_generator_blind_sum(
            sum_values, sum_abfs, sum_vbfs, len(inputs)
        )
        factors[last] = (factors[last][0], last_vbf)
    return factors
