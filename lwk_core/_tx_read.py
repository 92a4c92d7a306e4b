"""Reading the parts of an Elements transaction: confidential fields, inputs, outputs and the
witness section (Elements' `SerializeTransaction` in `src/primitives/transaction.h`)."""

from __future__ import annotations

import struct
import sys
from typing import Final

import attrs

from ._errors import DecodeError
from ._reader import Reader
from ._tx_parts import Issuance, TxIn
from ._types import OutPoint

__all__ = ["MIN_TXIN", "MIN_TXOUT", "read_txin", "read_txout", "read_witness"]

_ZERO32: Final = bytes(32)
_COINBASE_INDEX: Final = 0xFFFFFFFF
_ISSUANCE_BIT: Final = 0x80000000
_PEGIN_BIT: Final = 0x40000000
_INDEX_MASK: Final = 0x3FFFFFFF
# Smallest serialized input (outpoint, empty scriptSig, sequence) and output (explicit asset,
# null value, null nonce, empty script); bounds a count before allocating anything.
MIN_TXIN: Final = 32 + 4 + 1 + 4
MIN_TXOUT: Final = 33 + 1 + 1 + 1
_BE64 = struct.Struct(">Q")


def _conf_value(r: Reader) -> tuple[int | None, bytes]:
    """A ConfValue: (explicit amount or None, 33-byte commitment or b"")."""
    prefix = r.byte()
    if prefix == 0:
        return None, b""
    if prefix == 1:
        return int(_BE64.unpack(r.read(8))[0]), b""
    if prefix in (0x08, 0x09):
        return None, bytes((prefix,)) + r.read(32)
    raise DecodeError(f"bad value prefix {prefix:#04x} at offset {r.pos - 1}")


def _conf_asset(r: Reader) -> tuple[str | None, bytes]:
    """A ConfAsset: (explicit asset id display hex or None, 33-byte commitment or b"")."""
    prefix = r.byte()
    if prefix == 0:
        return None, b""
    if prefix == 1:  # interned: the same few asset ids (L-BTC in every fee output)
        return sys.intern(r.read(32)[::-1].hex()), b""
    if prefix in (0x0A, 0x0B):
        return None, bytes((prefix,)) + r.read(32)
    raise DecodeError(f"bad asset prefix {prefix:#04x} at offset {r.pos - 1}")


def _conf_nonce(r: Reader) -> bytes:
    """A ConfNonce as its 33 serialized bytes (explicit or ECDH pubkey), b"" when null."""
    prefix = r.byte()
    if prefix == 0:
        return b""
    if prefix in (0x01, 0x02, 0x03):
        return bytes((prefix,)) + r.read(32)
    raise DecodeError(f"bad nonce prefix {prefix:#04x} at offset {r.pos - 1}")


def _read_issuance(r: Reader, prev_txid: bytes, prev_vout: int) -> Issuance:
    blinding_nonce = r.read(32)
    entropy_field = r.read(32)
    amount, amount_commitment = _conf_value(r)
    token_amount, token_commitment = _conf_value(r)
    return Issuance(
        blinding_nonce != _ZERO32,
        amount,
        token_amount,
        blinding_nonce,
        entropy_field,
        amount_commitment,
        token_commitment,
        prev_txid,
        prev_vout,
    )


def read_txin(r: Reader) -> TxIn:
    prev_txid = r.read(32)
    index = r.u32()
    script_sig = r.varbytes()
    sequence = r.u32()
    if index == _COINBASE_INDEX:
        return TxIn(
            OutPoint(prev_txid[::-1].hex(), index),
            prev_txid == _ZERO32,
            False,
            sequence,
            None,
            script_sig,
        )
    vout = index & _INDEX_MASK
    issuance = _read_issuance(r, prev_txid, vout) if index & _ISSUANCE_BIT else None
    return TxIn(
        OutPoint(prev_txid[::-1].hex(), vout),
        False,
        bool(index & _PEGIN_BIT),
        sequence,
        issuance,
        script_sig,
    )


def read_txout(r: Reader) -> tuple[str | None, int | None, bytes, bytes, bytes, bytes]:
    """The fields of an output before its witness: (asset, value, commitments..., script)."""
    asset, asset_commitment = _conf_asset(r)
    value, value_commitment = _conf_value(r)
    nonce = _conf_nonce(r)
    return asset, value, asset_commitment, value_commitment, nonce, r.varbytes()


def read_witness(
    r: Reader, inputs: list[TxIn], n_outputs: int
) -> list[tuple[bytes, tuple[int, int]]]:
    """The witness section: sets the inputs' stacks in place, returns the outputs' proofs,
    each a surjection proof and where its range proof lies in `r.data` (the caller keeps a
    view of it, not a copy: range proofs are most of a confidential transaction's bytes).

    Elements refuses a witness flag when every witness is empty.
    """
    any_witness = False
    for i, txin in enumerate(inputs):
        amount_proof, token_proof = r.varbytes(), r.varbytes()
        witness, pegin_witness = r.stack(), r.stack()
        if amount_proof or token_proof or witness or pegin_witness:
            any_witness = True
            inputs[i] = attrs.evolve(txin, witness=witness, pegin_witness=pegin_witness)
    proofs = []
    for _ in range(n_outputs):
        surjection_proof, range_proof = r.varbytes(), r.varspan()
        any_witness = any_witness or bool(surjection_proof) or range_proof[1] > range_proof[0]
        proofs.append((surjection_proof, range_proof))
    if not any_witness:
        raise DecodeError("witness flag set but every witness is empty")
    return proofs
