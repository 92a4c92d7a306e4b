"""Elements transactions: a strict parser that keeps the original bytes (Elements'
`SerializeTransaction` in `src/primitives/transaction.h`).

Anything malformed raises DecodeError: truncation, trailing bytes, unknown prefixes or flags,
non-canonical or absurd CompactSize counts (checked against the bytes left before anything is
allocated). The parser checks serialization only, not consensus rules.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from typing import Final

import attrs

from ._errors import DecodeError, TxidMismatch, UnblindError
from ._hashes import fast_merkle_root, sha256d
from ._types import OutPoint, TxOutSecrets
from ._unblind import unblind_output

__all__ = ["Issuance", "Transaction", "TxIn", "TxOut"]

_MAX_SIZE: Final = 0x02000000  # Elements' MAX_SIZE for CompactSize values
_ZERO32: Final = bytes(32)
_COINBASE_INDEX: Final = 0xFFFFFFFF
_ISSUANCE_BIT: Final = 0x80000000
_PEGIN_BIT: Final = 0x40000000
_INDEX_MASK: Final = 0x3FFFFFFF
# Smallest serialized input (outpoint, empty scriptSig, sequence) and output (explicit asset,
# null value, null nonce, empty script); bounds a count before allocating anything.
_MIN_TXIN: Final = 32 + 4 + 1 + 4
_MIN_TXOUT: Final = 33 + 1 + 1 + 1
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")
_U64 = struct.Struct("<Q")
_BE64 = struct.Struct(">Q")


class _Reader:
    """A cursor over bytes; every read is bounds-checked and raises DecodeError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def read(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise DecodeError(f"truncated: need {n} bytes at offset {self.pos}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise DecodeError(f"truncated: need 1 byte at offset {self.pos}")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def u32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise DecodeError(f"truncated: need 4 bytes at offset {self.pos}")
        (v,) = _U32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(v)

    def i32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise DecodeError(f"truncated: need 4 bytes at offset {self.pos}")
        (v,) = _I32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(v)

    def varint(self) -> int:
        """A canonical CompactSize no larger than Elements' MAX_SIZE."""
        first = self.byte()
        if first < 0xFD:
            return first
        if first == 0xFD:
            value, floor = _U16.unpack(self.read(2))[0], 0xFD
        elif first == 0xFE:
            value, floor = _U32.unpack(self.read(4))[0], 0x10000
        else:
            value, floor = _U64.unpack(self.read(8))[0], 0x100000000
        if value < floor:
            raise DecodeError(f"non-canonical CompactSize at offset {self.pos}")
        if value > _MAX_SIZE:
            raise DecodeError(f"CompactSize {value} too large at offset {self.pos}")
        return int(value)

    def count(self, min_item: int) -> int:
        """A vector length, refused if the bytes left cannot hold that many items."""
        n = self.varint()
        if n * min_item > self.remaining():
            raise DecodeError(f"count {n} exceeds the {self.remaining()} bytes left")
        return n

    def varbytes(self) -> bytes:
        return self.read(self.varint())

    def stack(self) -> tuple[bytes, ...]:
        return tuple(self.varbytes() for _ in range(self.count(1)))


def _conf_value(r: _Reader) -> tuple[int | None, bytes]:
    """A ConfValue: (explicit amount or None, 33-byte commitment or b"")."""
    prefix = r.byte()
    if prefix == 0:
        return None, b""
    if prefix == 1:
        return int(_BE64.unpack(r.read(8))[0]), b""
    if prefix in (0x08, 0x09):
        return None, bytes((prefix,)) + r.read(32)
    raise DecodeError(f"bad value prefix {prefix:#04x} at offset {r.pos - 1}")


def _conf_asset(r: _Reader) -> tuple[str | None, bytes]:
    """A ConfAsset: (explicit asset id display hex or None, 33-byte commitment or b"")."""
    prefix = r.byte()
    if prefix == 0:
        return None, b""
    if prefix == 1:
        return r.read(32)[::-1].hex(), b""
    if prefix in (0x0A, 0x0B):
        return None, bytes((prefix,)) + r.read(32)
    raise DecodeError(f"bad asset prefix {prefix:#04x} at offset {r.pos - 1}")


def _conf_nonce(r: _Reader) -> bytes:
    """A ConfNonce as its 33 serialized bytes (explicit or ECDH pubkey), b"" when null."""
    prefix = r.byte()
    if prefix == 0:
        return b""
    if prefix in (0x01, 0x02, 0x03):
        return bytes((prefix,)) + r.read(32)
    raise DecodeError(f"bad nonce prefix {prefix:#04x} at offset {r.pos - 1}")


@attrs.frozen
class Issuance:
    """An asset issuance or reissuance carried by an input (ids in display hex).

    `amount`/`token_amount` are None when confidential or null (see the commitments).
    The ids are derived on first use (Elements' `src/issuance.cpp`, with the
    `ComputeFastMerkleRoot` of `src/primitives/txwitness.cpp`). `token_id` is None for a
    reissuance, as in Elements' decoderawtransaction: the token id depends on whether the
    original issuance was blinded, which the reissuing input does not say. `contract_hash` is
    None for a reissuance, whose entropy field holds the asset's entropy itself.
    """

    is_reissuance: bool
    amount: int | None
    token_amount: int | None
    blinding_nonce: bytes = attrs.field(repr=False)
    entropy_field: bytes = attrs.field(repr=False)
    amount_commitment: bytes = attrs.field(repr=False)
    token_amount_commitment: bytes = attrs.field(repr=False)
    prevout_txid: bytes = attrs.field(repr=False)  # internal byte order
    prevout_vout: int = attrs.field(repr=False)

    @functools.cached_property
    def entropy(self) -> bytes:
        if self.is_reissuance:
            return self.entropy_field
        outpoint = self.prevout_txid + _U32.pack(self.prevout_vout)
        return fast_merkle_root([sha256d(outpoint), self.entropy_field])

    @property
    def contract_hash(self) -> bytes | None:
        return None if self.is_reissuance else self.entropy_field

    @functools.cached_property
    def asset_id(self) -> str:
        return fast_merkle_root([self.entropy, _ZERO32])[::-1].hex()

    @functools.cached_property
    def token_id(self) -> str | None:
        if self.is_reissuance:
            return None
        tag = (2 if self.amount_commitment else 1).to_bytes(32, "little")
        return fast_merkle_root([self.entropy, tag])[::-1].hex()


def _read_issuance(r: _Reader, prev_txid: bytes, prev_vout: int) -> Issuance:
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


@attrs.frozen
class TxIn:
    """A transaction input; `prevout.vout` has the issuance and peg-in flag bits masked off."""

    prevout: OutPoint
    is_coinbase: bool
    is_pegin: bool
    sequence: int
    issuance: Issuance | None
    script_sig: bytes = attrs.field(repr=False)
    witness: tuple[bytes, ...] = attrs.field(default=(), repr=False)
    pegin_witness: tuple[bytes, ...] = attrs.field(default=(), repr=False)


@attrs.frozen
class TxOut:
    """A transaction output.

    `asset`/`value` are given when explicit, else None and the 33-byte commitment is set
    (both None with empty commitments means a null field). `nonce_commitment` is the
    sender's ECDH public key for blinded outputs (33 bytes) or b"" when null.
    """

    script_pubkey: bytes
    asset: str | None
    value: int | None
    asset_commitment: bytes = attrs.field(repr=False)
    value_commitment: bytes = attrs.field(repr=False)
    nonce_commitment: bytes = attrs.field(repr=False)
    surjection_proof: bytes = attrs.field(default=b"", repr=False)
    range_proof: bytes = attrs.field(default=b"", repr=False)

    @property
    def is_fee(self) -> bool:
        """An explicit output with an empty script: the transaction fee."""
        return not self.script_pubkey and self.asset is not None and self.value is not None

    @property
    def is_blinded(self) -> bool:
        """The value is confidential (a Pedersen commitment)."""
        return bool(self.value_commitment)


def _read_txin(r: _Reader) -> TxIn:
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


def _read_txout(r: _Reader) -> tuple[str | None, int | None, bytes, bytes, bytes, bytes]:
    """The fields of an output before its witness: (asset, value, commitments..., script)."""
    asset, asset_commitment = _conf_asset(r)
    value, value_commitment = _conf_value(r)
    nonce = _conf_nonce(r)
    return asset, value, asset_commitment, value_commitment, nonce, r.varbytes()


class Transaction:
    """A parsed Elements transaction; immutable, compared by its exact bytes."""

    __slots__ = ("_base_size", "_raw", "_txid", "inputs", "locktime", "outputs", "version")

    version: int
    locktime: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    _raw: bytes
    _base_size: int  # bytes of the serialization without witness
    _txid: str

    def __init__(self) -> None:
        raise TypeError("use Transaction.from_bytes or Transaction.from_hex")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Transaction is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Transaction is immutable")

    @classmethod
    def from_bytes(cls, raw: bytes, *, expected_txid: str | None = None) -> Transaction:
        """Parse one whole transaction; TxidMismatch if it does not hash to `expected_txid`."""
        r = _Reader(bytes(raw))
        tx = _read_transaction(r)
        if r.pos != len(r.data):
            raise DecodeError(f"{len(r.data) - r.pos} trailing bytes after the transaction")
        if expected_txid is not None and tx._txid != expected_txid.lower():
            raise TxidMismatch(expected_txid, tx._txid)
        return tx

    @classmethod
    def from_hex(cls, s: str, *, expected_txid: str | None = None) -> Transaction:
        try:
            raw = bytes.fromhex(s)
        except (ValueError, TypeError) as e:
            raise DecodeError("transaction hex is not valid hex") from e
        return cls.from_bytes(raw, expected_txid=expected_txid)

    @property
    def txid(self) -> str:
        """Display hex of sha256d over the serialization without witness (flags byte 0)."""
        return self._txid

    def to_bytes(self) -> bytes:
        return self._raw

    def to_hex(self) -> str:
        return self._raw.hex()

    def size(self) -> int:
        return len(self._raw)

    def weight(self) -> int:
        """Elements' weight: 3 x the size without witness + the full size."""
        return 3 * self._base_size + len(self._raw)

    def vsize(self) -> int:
        return (self.weight() + 3) // 4

    def fee(self, policy_asset: str) -> int:
        """Sum of the explicit fee outputs in `policy_asset` (display hex)."""
        asset = policy_asset.lower()
        return sum(o.value or 0 for o in self.outputs if o.is_fee and o.asset == asset)

    def unblind(self, vout: int, blinding_private_key: bytes) -> TxOutSecrets:
        """Secrets of output `vout` (UnblindError if it is not ours, corrupt or missing)."""
        if not 0 <= vout < len(self.outputs):
            raise UnblindError(f"transaction has no output {vout}")
        return unblind_output(self.outputs[vout], blinding_private_key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transaction):
            return NotImplemented
        return self._raw == other._raw

    def __hash__(self) -> int:
        return hash(self._txid)

    def __repr__(self) -> str:
        return (
            f"Transaction(txid={self._txid}, inputs={len(self.inputs)}, "
            f"outputs={len(self.outputs)}, size={len(self._raw)})"
        )

    def __reduce__(self) -> tuple[object, tuple[bytes]]:
        return (Transaction.from_bytes, (self._raw,))


def _read_transaction(r: _Reader) -> Transaction:
    start = r.pos
    version = r.i32()
    flags = r.byte()
    if flags > 1:
        raise DecodeError(f"unknown transaction flags {flags:#04x}")
    inputs = [_read_txin(r) for _ in range(r.count(_MIN_TXIN))]
    fields = [_read_txout(r) for _ in range(r.count(_MIN_TXOUT))]
    locktime = r.u32()
    base_end = r.pos
    no_proofs = [(b"", b"")] * len(fields)
    proofs = _read_witness(r, inputs, len(fields)) if flags else no_proofs
    outputs = tuple(
        TxOut(spk, asset, value, asset_c, value_c, nonce, surjection, range_proof)
        for (asset, value, asset_c, value_c, nonce, spk), (surjection, range_proof) in zip(
            fields, proofs, strict=True
        )
    )
    data = r.data
    raw = data[start : r.pos]
    if flags:
        h = hashlib.sha256(data[start : start + 4])
        h.update(b"\x00")
        h.update(memoryview(data)[start + 5 : base_end])
        txid = hashlib.sha256(h.digest()).digest()
    else:
        txid = sha256d(raw)
    tx = object.__new__(Transaction)
    init = object.__setattr__  # Transaction refuses attribute assignment
    init(tx, "version", version)
    init(tx, "locktime", locktime)
    init(tx, "inputs", tuple(inputs))
    init(tx, "outputs", outputs)
    init(tx, "_raw", raw)
    init(tx, "_base_size", base_end - start)
    init(tx, "_txid", txid[::-1].hex())
    return tx


def _read_witness(r: _Reader, inputs: list[TxIn], n_outputs: int) -> list[tuple[bytes, bytes]]:
    """The witness section: sets the inputs' stacks in place, returns the outputs' proofs.

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
        surjection_proof, range_proof = r.varbytes(), r.varbytes()
        any_witness = any_witness or bool(surjection_proof or range_proof)
        proofs.append((surjection_proof, range_proof))
    if not any_witness:
        raise DecodeError("witness flag set but every witness is empty")
    return proofs
