"""The parts of an Elements transaction: inputs (with their issuances) and outputs, as
immutable values."""

from __future__ import annotations

import functools
from typing import Final

import attrs

from ._hashes import fast_merkle_root, sha256d
from ._reader import U32
from ._types import OutPoint

__all__ = ["Issuance", "TxIn", "TxOut"]

_ZERO32: Final = bytes(32)


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
        outpoint = self.prevout_txid + U32.pack(self.prevout_vout)
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
    # A parsed output holds a view of its transaction's bytes (range proofs are most of a
    # confidential transaction: a copy would double what a wallet keeps); `range_proof` reads
    # it as bytes. Views compare and hash as the bytes they show.
    _range_proof: bytes | memoryview = attrs.field(default=b"", repr=False, alias="range_proof")

    @property
    def range_proof(self) -> bytes:
        return bytes(self._range_proof)

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (
            TxOut,
            (
                self.script_pubkey,
                self.asset,
                self.value,
                self.asset_commitment,
                self.value_commitment,
                self.nonce_commitment,
                self.surjection_proof,
                self.range_proof,
            ),
        )

    @property
    def is_fee(self) -> bool:
        """An explicit output with an empty script: the transaction fee."""
        return not self.script_pubkey and self.asset is not None and self.value is not None

    @property
    def is_blinded(self) -> bool:
        """The value is confidential (a Pedersen commitment)."""
        return bool(self.value_commitment)
