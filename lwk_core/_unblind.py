"""Unblinding confidential outputs (Elements' `UnblindConfidentialPair` in `src/blind.cpp`;
nonces as rust-elements' `Nonce::shared_secret`).

Range proofs are opened without being verified (`_rangeproof.open_proof`: hashing and a few
point operations), the library's verifying rewind (about 5 ms) covering the shapes the opening
leaves to it; either way the secrets found must open the output's commitments, which the txid
covers. Where the C extension was built, `lwk_core._native.unblind` does the ECDH nonce, the
opening and those checks in one call (about 0.2 ms per output against 0.6 ms in Python).
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Sequence
from typing import Final, Protocol

from ._errors import UnblindError
from ._hashes import sha256
from ._rangeproof import NotCovered, open_proof
from ._secp import Secp, get_secp
from ._types import TxOutSecrets

__all__ = ["BlindedOutput", "unblind_many", "unblind_output"]

_ZERO_HEX: Final = "00" * 32
_MESSAGE_LEN: Final = 64  # asset id (32) || asset blinding factor (32)

# The outcomes of lwk_core._native.unblind by code (lwk_core/_native.c, enum of outcomes):
# 1 is a shape left to the library's rewind, the others are the UnblindErrors the Python
# path raises for the same output.
_NATIVE_NOT_COVERED: Final = 1
_NATIVE_OUTCOMES: Final = (
    "",
    "",
    "output nonce is not a valid public key",
    "blinding private key is not a valid scalar",
    "output has an invalid asset commitment",
    "output has an invalid value commitment",
    "range proof header is invalid",
    "range proof has the wrong length",
    "range proof sign bits are invalid",
    "range proof does not rewind with this key",
    "range proof scalar out of range",
    "range proof point is not on the curve",
    "range proof point sum is infinity",
    "range proof message has an invalid asset blinding factor",
    "asset commitment does not match the unblinded asset",
)


class BlindedOutput(Protocol):
    """The fields of a transaction output unblinding reads (a `TxOut`)."""

    @property
    def script_pubkey(self) -> bytes: ...
    @property
    def asset(self) -> str | None: ...
    @property
    def value(self) -> int | None: ...
    @property
    def asset_commitment(self) -> bytes: ...
    @property
    def value_commitment(self) -> bytes: ...
    @property
    def nonce_commitment(self) -> bytes: ...
    @property
    def range_proof(self) -> bytes: ...


def _rewind_nonce(s: Secp, ephemeral_pubkey: bytes, blinding_private_key: bytes) -> bytes:
    """sha256(ECDH): libsecp256k1's default ECDH already hashes the compressed shared point,
    so this is sha256d(compressed(k * P)) as Elements computes it."""
    pubkey = ctypes.create_string_buffer(64)
    if s.lib.secp256k1_ec_pubkey_parse(s.ctx, pubkey, ephemeral_pubkey, 33) != 1:
        raise UnblindError("output nonce is not a valid public key")
    shared = ctypes.create_string_buffer(32)
    if s.lib.secp256k1_ecdh(s.ctx, shared, pubkey, blinding_private_key, None, None) != 1:
        raise UnblindError("blinding private key is not a valid scalar")
    return sha256(shared.raw)


def unblind_output(txout: BlindedOutput, blinding_private_key: bytes) -> TxOutSecrets:
    """Reveal an output's asset, value and blinders with the receiver's blinding key.

    The secrets found must open the output's value and asset commitments: a range proof
    that opens but does not verify (witness data a server altered, which the txid does not
    cover) still gives the true secrets, by the binding of the commitments.

    Explicit outputs give zero blinders without using the key (as LWK's try_unblind). As in
    LWK (rust-elements TxOut::unblind), both asset and value must otherwise be confidential:
    Elements could also rewind an explicit-asset/blinded-value output, LWK does not count it.
    Unlike rust-elements, the asset commitment is checked against the unblinded asset and
    blinder (Elements' UnblindConfidentialPair), so a sender cannot make us credit an asset
    the output does not carry.
    Raises UnblindError if the output is not ours, is corrupt, or cannot be unblinded.
    """
    if txout.asset is not None and txout.value is not None:
        return TxOutSecrets(txout.asset, txout.value, _ZERO_HEX, _ZERO_HEX)
    if not (txout.value_commitment and txout.asset_commitment):
        raise UnblindError("output is not confidential")
    if len(txout.nonce_commitment) != 33 or txout.nonce_commitment[0] not in (2, 3):
        raise UnblindError("output has no ECDH nonce")
    if not txout.range_proof:
        raise UnblindError("output has no range proof")
    if len(blinding_private_key) != 32:
        raise UnblindError("blinding private key must be 32 bytes")
    s = get_secp()
    key = bytes(blinding_private_key)
    if s.native_unblind is None:
        found = _python_unblind(s, txout, key, open_first=True)
    else:
        native = s.native_unblind(
            txout.nonce_commitment,
            key,
            txout.value_commitment,
            txout.asset_commitment,
            txout.range_proof,
            txout.script_pubkey,
        )
        if native == _NATIVE_NOT_COVERED:
            found = _python_unblind(s, txout, key, open_first=False)
        elif isinstance(native, int):
            raise UnblindError(_NATIVE_OUTCOMES[native])
        else:
            found = native
    value, vbf, message = found
    asset, abf = message[:32], message[32:]
    return TxOutSecrets(
        asset=asset[::-1].hex(), value=value, asset_bf=abf[::-1].hex(), value_bf=vbf[::-1].hex()
    )


def _python_unblind(
    s: Secp, txout: BlindedOutput, key: bytes, *, open_first: bool
) -> tuple[int, bytes, bytes]:
    """(value, value blinder, message) by `open_proof` (when `open_first`) or, for the shapes
    it leaves to the library, the library's verifying rewind; checked to open both
    commitments."""
    nonce = _rewind_nonce(s, txout.nonce_commitment, key)
    gen = ctypes.create_string_buffer(64)
    if s.lib.secp256k1_generator_parse(s.ctx, gen, txout.asset_commitment) != 1:
        raise UnblindError("output has an invalid asset commitment")
    found = None
    if open_first:
        with contextlib.suppress(NotCovered):
            found = open_proof(
                s,
                txout.range_proof,
                txout.value_commitment,
                txout.asset_commitment,
                nonce,
                txout.script_pubkey,
            )
    if found is None:
        commit = _parse_value_commitment(s, txout.value_commitment)
        found = _rewind_verified(s, txout, nonce, commit, gen)
    value, vbf, message = found
    _check_opens(s, txout, value, vbf, gen, message)
    return found


def _parse_value_commitment(s: Secp, serialized: bytes) -> ctypes.Array[ctypes.c_char]:
    commit = ctypes.create_string_buffer(64)
    if s.lib.secp256k1_pedersen_commitment_parse(s.ctx, commit, serialized) != 1:
        raise UnblindError("output has an invalid value commitment")
    return commit


def _rewind_verified(
    s: Secp,
    txout: BlindedOutput,
    nonce: bytes,
    commit: ctypes.Array[ctypes.c_char],
    gen: ctypes.Array[ctypes.c_char],
) -> tuple[int, bytes, bytes]:
    """The library's rewind, which verifies the whole proof first."""
    vbf = ctypes.create_string_buffer(32)
    value = ctypes.c_uint64(0)
    message = ctypes.create_string_buffer(_MESSAGE_LEN)
    message_len = ctypes.c_size_t(_MESSAGE_LEN)
    min_value = ctypes.c_uint64(0)
    max_value = ctypes.c_uint64(0)
    proof, spk = txout.range_proof, txout.script_pubkey
    ok = s.lib.secp256k1_rangeproof_rewind(
        s.ctx,
        vbf,
        ctypes.byref(value),
        message,
        ctypes.byref(message_len),
        nonce,
        ctypes.byref(min_value),
        ctypes.byref(max_value),
        commit,
        proof,
        len(proof),
        spk,
        len(spk),
        gen,
    )
    if ok != 1:
        raise UnblindError("range proof does not rewind with this key")
    if message_len.value != _MESSAGE_LEN:
        raise UnblindError("range proof message is too short")
    return value.value, vbf.raw, message.raw


def _check_opens(
    s: Secp,
    txout: BlindedOutput,
    value: int,
    vbf: bytes,
    gen: ctypes.Array[ctypes.c_char],
    message: bytes,
) -> None:
    """The secrets must open both commitments (Elements' UnblindConfidentialPair checks the
    asset; rust-elements, hence LWK, does not): the asset commitment first, then the value
    commitment on it (the order lwk_core/_native.c checks them in, so both paths give the
    same error)."""
    serialized = ctypes.create_string_buffer(33)
    recomputed = ctypes.create_string_buffer(64)
    if (
        s.lib.secp256k1_generator_generate_blinded(s.ctx, recomputed, message[:32], message[32:])
        != 1
    ):
        raise UnblindError("range proof message has an invalid asset blinding factor")
    s.lib.secp256k1_generator_serialize(s.ctx, serialized, recomputed)
    if serialized.raw != txout.asset_commitment:
        raise UnblindError("asset commitment does not match the unblinded asset")
    commit = ctypes.create_string_buffer(64)
    if (
        s.lib.secp256k1_pedersen_commit(s.ctx, commit, vbf, value, gen) != 1
        or s.lib.secp256k1_pedersen_commitment_serialize(s.ctx, serialized, commit) != 1
        or serialized.raw != txout.value_commitment
    ):
        # A serialization is always a valid encoding: the output's was parsed only now, on
        # this failure path, to say which error it is (parsing costs a square root).
        _parse_value_commitment(s, txout.value_commitment)
        raise UnblindError("range proof does not rewind with this key")


def _unblind_or_error(job: tuple[BlindedOutput, bytes]) -> TxOutSecrets | UnblindError:
    try:
        return unblind_output(*job)
    except UnblindError as e:
        return e


def unblind_many(jobs: Sequence[tuple[BlindedOutput, bytes]]) -> list[TxOutSecrets | UnblindError]:
    """Unblind many (output, key) pairs, in order; a failed one gives its UnblindError.

    Sequential: with the random stream in C (lwk_core/_native.c) about 80 % of an output's
    time was native code that releases the GIL (the stream, ECDH, the commitment checks),
    yet two threads did not measurably help on a shared two-core machine (at load 3, 133
    outputs: medians level, 0.258 against 0.317 ms per output at best; at load 7, 2,000
    outputs: slower). `python -m benchmarks._unblind` measures both ways.
    """
    return [_unblind_or_error(job) for job in jobs]
