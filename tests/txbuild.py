"""Build small explicit (unblinded) Elements transactions for scan-semantics tests.

Written from the serialization layout (Elements' `SerializeTransaction`,
`src/primitives/transaction.h`): version, flags byte 0, inputs, outputs with explicit asset
(0x01 + id in wire order) and value (0x01 + 8-byte big-endian), null nonce, script, locktime. No
witness.
"""

from __future__ import annotations

import itertools
import os

from lwk_core._transaction import Transaction

_seq = itertools.count(1)


def _varint(n: int) -> bytes:
    assert n < 0xFD
    return bytes([n])


def explicit_tx(
    outputs: list[tuple[bytes, int]],
    asset: str,
    *,
    inputs: list[tuple[str, int]] | None = None,
    fee: int = 100,
) -> Transaction:
    """A transaction paying `outputs` [(script, sats)] in `asset`, plus a fee output."""
    if inputs is None:  # a fresh, unique funding outpoint
        inputs = [(os.urandom(32).hex(), next(_seq))]
    raw = bytearray((2).to_bytes(4, "little") + b"\x00" + _varint(len(inputs)))
    for txid, vout in inputs:
        raw += bytes.fromhex(txid)[::-1] + vout.to_bytes(4, "little") + b"\x00" + b"\xff" * 4
    outs = [*outputs, (b"", fee)]
    raw += _varint(len(outs))
    wire_asset = b"\x01" + bytes.fromhex(asset)[::-1]
    for script, value in outs:
        raw += wire_asset + b"\x01" + value.to_bytes(8, "big") + b"\x00"
        raw += _varint(len(script)) + script
    raw += (0).to_bytes(4, "little")
    return Transaction.from_bytes(bytes(raw))
