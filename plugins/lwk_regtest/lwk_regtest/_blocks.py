"""Elements block pieces for the regtest chain: signed-block headers, Merkle trees, genesis.

Headers are Elements *legacy signed-block* headers (PROTOCOL 3.1): version, prev, Merkle
root, time, height, challenge `OP_TRUE` (0x51) and an empty solution. The block hash is
sha256d of everything before the solution. Merkle trees come from lwk_core._header.
"""

from __future__ import annotations

import struct

import attrs

from lwk_core.primitives import compact_size, sha256d, varbytes

from ._signing import BlockSigners

__all__ = [
    "BLOCK_VERSION",
    "CHALLENGE",
    "EmptyRun",
    "build_header",
    "explicit_coinbase_tx",
]

BLOCK_VERSION = 0x20000000
CHALLENGE = b"\x51"  # OP_TRUE: the default signblockscript of liquidregtest

_HEADER_FIXED = struct.Struct("<I32s32sII")
# varbytes challenge (1 byte: 0x51); the empty solution (varbytes of length 0) follows it.
_CHALLENGE_PART = bytes([len(CHALLENGE)]) + CHALLENGE
_SOLUTION_PART = b"\x00"


def _unsigned(
    prev: bytes, merkle: bytes, time: int, height: int, signers: BlockSigners | None
) -> bytes:
    if signers is None:
        return _HEADER_FIXED.pack(BLOCK_VERSION, prev, merkle, time, height) + _CHALLENGE_PART
    return signers.unsigned(BLOCK_VERSION, prev, merkle, time, height)


def build_header(
    prev: bytes, merkle: bytes, time: int, height: int, signers: BlockSigners | None = None
) -> tuple[bytes, bytes]:
    """Return (serialized header, block hash in internal byte order).

    `prev` and `merkle` are in internal byte order (the reverse of display hex). Without
    `signers` the header has challenge OP_TRUE and an empty solution; with them, it is signed
    (see `_signing`).
    """
    unsigned = _unsigned(prev, merkle, time, height, signers)
    block_hash = sha256d(unsigned)
    proof = _SOLUTION_PART if signers is None else signers.proof(block_hash)
    return unsigned + proof, block_hash


def explicit_coinbase_tx(
    tag: bytes, outputs: list[tuple[bytes, int, bytes]], *, version: int = 2
) -> bytes:
    """A coinbase-shaped transaction (null prevout) with explicit outputs and no witness.

    `outputs` are (asset id in internal order, value in sats, scriptPubKey). `tag` goes
    into the scriptSig so different coinbases get different txids.
    """
    out = bytearray(version.to_bytes(4, "little"))
    out += b"\x00"  # flags: no witness
    out += b"\x01" + bytes(32) + b"\xff\xff\xff\xff" + varbytes(tag) + b"\xff\xff\xff\xff"
    out += compact_size(len(outputs))
    for asset, value, script in outputs:
        out += b"\x01" + asset + b"\x01" + value.to_bytes(8, "big") + b"\x00" + varbytes(script)
    out += bytes(4)  # locktime
    return bytes(out)


@attrs.define
class EmptyRun:
    """A run of consecutive empty blocks between two real blocks, hashed lazily.

    Used for sparse chains (the testnet fixture sits at heights above 1.3 million): the
    headers are real and linked, but only every `STEP`-th prev hash is kept, so a header
    inside the run is rebuilt from the nearest checkpoint on demand. Block times are
    interpolated between `time_before` (block first-1) and `time_after` (block last+1), fixed
    when the run is created so that truncating the run (a reorg) keeps its hashes.
    """

    STEP = 1024

    first: int
    last: int
    time_before: int
    time_after: int
    checkpoints: list[bytes] = attrs.field(factory=list, repr=False)  # prev of first + k*STEP
    signers: BlockSigners | None = None

    @classmethod
    def build(
        cls,
        first: int,
        last: int,
        prev: bytes,
        time_before: int,
        time_after: int,
        signers: BlockSigners | None = None,
    ) -> tuple[EmptyRun, bytes]:
        """Create the run for heights first..last after a block hashing to `prev`.

        Returns the run and the hash of its last block (internal order).
        """
        run = cls(first, last, time_before, time_after, signers=signers)
        zero = bytes(32)
        for height in range(first, last + 1):
            if (height - first) % cls.STEP == 0:
                run.checkpoints.append(prev)
            prev = sha256d(_unsigned(prev, zero, run.time(height), height, signers))
        return run, prev

    def time(self, height: int) -> int:
        span = self.last + 2 - self.first
        offset = height - self.first + 1
        return self.time_before + (self.time_after - self.time_before) * offset // span

    def header(self, height: int) -> tuple[bytes, bytes]:
        """(serialized header, hash in internal order) of the block at `height` in the run."""
        index = (height - self.first) // self.STEP
        prev = self.checkpoints[index]
        start = self.first + index * self.STEP
        zero = bytes(32)
        for h in range(start, height):
            prev = sha256d(_unsigned(prev, zero, self.time(h), h, self.signers))
        return build_header(prev, zero, self.time(height), height, self.signers)

    def truncate(self, last: int) -> None:
        """Drop the blocks above `last` (kept times and hashes do not change)."""
        self.last = last
        del self.checkpoints[(last - self.first) // self.STEP + 1 :]
