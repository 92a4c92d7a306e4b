"""Elements transactions: a strict parser that keeps the original bytes (Elements'
`SerializeTransaction` in `src/primitives/transaction.h`).

Anything malformed raises DecodeError: truncation, trailing bytes, unknown prefixes or flags,
non-canonical or absurd CompactSize counts (checked against the bytes left before anything is
allocated). The parser checks serialization only, not consensus rules.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from ._errors import DecodeError, TxidMismatch, UnblindError
from ._hashes import sha256d
from ._reader import Reader
from ._tx_parts import Issuance, TxIn, TxOut
from ._tx_read import MIN_TXIN, MIN_TXOUT, read_txin, read_txout, read_witness
from ._types import TxOutSecrets
from ._unblind import unblind_output

__all__ = ["Issuance", "Transaction", "TxIn", "TxOut", "read_transaction"]


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
        r = Reader(bytes(raw))
        tx = read_transaction(r)
        if r.pos != len(r.data):
            raise DecodeError(f"{len(r.data) - r.pos} trailing bytes after the transaction")
        if expected_txid is not None:
            if tx._txid != expected_txid.lower():
                raise TxidMismatch(expected_txid, tx._txid)
            if tx._txid == expected_txid:  # one string for the id the caller holds too
                object.__setattr__(tx, "_txid", expected_txid)
        return tx

    @classmethod
    def from_hex(cls, s: str, *, expected_txid: str | None = None) -> Transaction:
        try:
            raw = bytes.fromhex(s)
        except (ValueError, TypeError) as e:
            raise DecodeError("transaction hex is not valid hex") from e
        return cls.from_bytes(raw, expected_txid=expected_txid)

    @classmethod
    def stored(cls, raw: bytes, txid: str) -> Transaction:
        """A transaction read back from a wallet store, which authenticated it as one this
        lwk-core parsed (`txid` is its id): parsed when a field other than its id or bytes
        is first read, so loading a large wallet parses none of its transactions."""
        tx = object.__new__(Transaction)
        object.__setattr__(tx, "_raw", bytes(raw))
        object.__setattr__(tx, "_txid", txid)
        return tx

    if not TYPE_CHECKING:  # mypy would take every attribute for one __getattr__ answers

        def __getattr__(self, name: str) -> object:
            """Reached only for a field not set yet: that of a `stored` transaction."""
            if name not in _PARSED_FIELDS:
                raise AttributeError(name)
            parsed = Transaction.from_bytes(self._raw, expected_txid=self._txid)
            for field in _PARSED_FIELDS:
                object.__setattr__(self, field, object.__getattribute__(parsed, field))
            return object.__getattribute__(self, name)

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


_PARSED_FIELDS = frozenset({"version", "locktime", "inputs", "outputs", "_base_size"})


def read_transaction(r: Reader) -> Transaction:
    start = r.pos
    version = r.i32()
    flags = r.byte()
    if flags > 1:
        raise DecodeError(f"unknown transaction flags {flags:#04x}")
    inputs = [read_txin(r) for _ in range(r.count(MIN_TXIN))]
    fields = [read_txout(r) for _ in range(r.count(MIN_TXOUT))]
    locktime = r.u32()
    base_end = r.pos
    no_proofs = [(b"", (start, start))] * len(fields)
    proofs = read_witness(r, inputs, len(fields)) if flags else no_proofs
    data = r.data
    raw = data[start : r.pos]
    # Range proofs are views of `raw`, which the transaction keeps anyway: no second copy.
    view = memoryview(raw)
    outputs = tuple(
        TxOut(spk, asset, value, asset_c, value_c, nonce, surjection, view[a - start : b - start])
        if b > a
        else TxOut(spk, asset, value, asset_c, value_c, nonce, surjection)
        for (asset, value, asset_c, value_c, nonce, spk), (surjection, (a, b)) in zip(
            fields, proofs, strict=True
        )
    )
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
