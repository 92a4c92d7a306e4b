"""Elements block headers (signed-block legacy and dynafed forms) and Merkle helpers.

Headers are variable-length (Elements' `CBlockHeader::Serialize` in `src/primitives/block.h`,
rust-elements' `src/block.rs`); the block hash covers the serialization up to, not including,
the witness part (legacy `solution`, dynafed `signblock_witness`).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, Final

import attrs

from ._encoding import varbytes
from ._errors import DecodeError
from ._hashes import sha256d
from ._reader import Reader
from ._transaction import Transaction, read_transaction
from ._types import MerkleProof

__all__ = [
    "BlockHeader",
    "DynafedParams",
    "MerkleTree",
    "merkle_branch",
    "merkle_root",
    "merkle_root_from_branch",
    "parse_block",
    "parse_headers",
    "parse_merkle_proof",
]

_DYNAFED_BIT: Final = 0x80000000
_DEFAULT_VERSION: Final = 0x20000000
_MIN_HEADER: Final = 4 + 32 + 32 + 4 + 4 + 2  # fixed part + two empty varbytes
_MIN_TX: Final = 4 + 1 + 1 + 1 + 4
_FIXED = struct.Struct("<I32s32sII")


@attrs.frozen
class DynafedParams:
    """One dynafed parameters entry of a header (Elements' `DynaFedParamEntry`, in
    `src/primitives/block.h`): compact (signblockscript, witness limit, elided root) or full
    (signblockscript, witness limit, fedpeg program and script, extension space)."""

    signblockscript: bytes = attrs.field(repr=lambda b: b.hex())
    signblock_witness_limit: int
    is_full: bool


def _read_params(r: Reader) -> DynafedParams | None:
    """One DynaFedParamEntry: 0 null (None), 1 compact, 2 full."""
    kind = r.byte()
    if kind == 0:
        return None
    if kind not in (1, 2):
        raise DecodeError(f"bad dynafed params type {kind}")
    script = r.varbytes()
    limit = r.u32()
    if kind == 1:
        r.read(32)  # elided_root
    else:
        r.varbytes()  # fedpeg_program
        r.varbytes()  # fedpegscript
        r.stack()  # extension_space
    return DynafedParams(script, limit, kind == 2)


def _display(h: bytes) -> str:
    return h[::-1].hex()


def _internal(display_hex: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(display_hex)
    except (ValueError, TypeError) as e:
        raise DecodeError(f"{what} is not hex") from e
    if len(raw) != 32:
        raise DecodeError(f"{what} is not 32 bytes")
    return raw[::-1]


@attrs.frozen
class BlockHeader:
    """An Elements block header; hashes in display hex, `version` with the dynafed bit masked.

    Legacy headers carry `challenge` (the signblockscript) and `solution`; dynafed headers
    carry their parameters (`current_params`, `proposed_params`) and `signblock_witness`.
    """

    version: int
    is_dynafed: bool
    prev_hash: str
    merkle_root: str
    time: int
    height: int
    block_hash: str
    challenge: bytes = attrs.field(repr=False)
    solution: bytes = attrs.field(repr=False)
    signblock_witness: tuple[bytes, ...] = attrs.field(repr=False)
    current_params: DynafedParams | None = attrs.field(repr=False)
    proposed_params: DynafedParams | None = attrs.field(repr=False)
    _raw: bytes = attrs.field(repr=False, alias="raw")

    @classmethod
    def parse(cls, raw: bytes) -> BlockHeader:
        """Parse exactly one header (DecodeError if malformed or followed by other bytes)."""
        r = Reader(bytes(raw))
        header = _read_header(r)
        if r.remaining():
            raise DecodeError(f"{r.remaining()} trailing bytes after the header")
        return header

    @classmethod
    def from_hex(cls, s: str) -> BlockHeader:
        try:
            raw = bytes.fromhex(s)
        except (ValueError, TypeError) as e:
            raise DecodeError("header hex is not valid hex") from e
        return cls.parse(raw)

    @classmethod
    def legacy(
        cls,
        prev_hash: str,
        merkle_root: str,
        time: int,
        height: int,
        challenge: bytes = b"\x51",
        solution: bytes = b"",
        *,
        version: int = _DEFAULT_VERSION,
    ) -> BlockHeader:
        """Build a signed-block (non-dynafed) header, e.g. for the embedded regtest chain.

        The default challenge OP_TRUE needs an empty solution.
        """
        if not 0 <= version < _DYNAFED_BIT:
            raise ValueError("a legacy header version must fit in 31 bits")
        if not (0 <= time < 1 << 32 and 0 <= height < 1 << 32):
            raise ValueError("time and height must fit in 32 bits")
        raw = (
            _FIXED.pack(
                version,
                _internal(prev_hash, "prev_hash"),
                _internal(merkle_root, "merkle_root"),
                time,
                height,
            )
            + varbytes(challenge)
            + varbytes(solution)
        )
        return cls.parse(raw)

    def to_bytes(self) -> bytes:
        return self._raw

    def to_hex(self) -> str:
        return self._raw.hex()


def _read_header(r: Reader) -> BlockHeader:
    start = r.pos
    version, prev, root, time, height = _FIXED.unpack(r.read(_FIXED.size))
    dynafed = bool(version & _DYNAFED_BIT)
    current = proposed = None
    if dynafed:
        current = _read_params(r)
        proposed = _read_params(r)
        hashed_end = r.pos
        challenge, solution, witness = b"", b"", r.stack()
    else:
        challenge = r.varbytes()
        hashed_end = r.pos
        solution, witness = r.varbytes(), ()
    data = r.data
    return BlockHeader(
        version=version & ~_DYNAFED_BIT,
        is_dynafed=dynafed,
        prev_hash=_display(prev),
        merkle_root=_display(root),
        time=time,
        height=height,
        block_hash=_display(sha256d(data[start:hashed_end])),
        challenge=challenge,
        solution=solution,
        signblock_witness=witness,
        current_params=current,
        proposed_params=proposed,
        raw=data[start : r.pos],
    )


def parse_headers(concatenated: bytes) -> list[BlockHeader]:
    """Split concatenated headers (Electrum's blockchain.block.headers `hex`)."""
    r = Reader(bytes(concatenated))
    headers = []
    while r.remaining():
        headers.append(_read_header(r))
    return headers


def parse_block(raw: bytes) -> tuple[BlockHeader, list[Transaction]]:
    """A whole block: its header and its transactions (DecodeError on trailing bytes)."""
    r = Reader(bytes(raw))
    header = _read_header(r)
    txs = [read_transaction(r) for _ in range(r.count(_MIN_TX))]
    if r.remaining():
        raise DecodeError(f"{r.remaining()} trailing bytes after the block")
    return header, txs


class MerkleTree:
    """A block's Merkle tree of txids, Bitcoin's rule (an odd last node pairs with itself;
    Elements uses the same tree for the header's merkle root), hashed once: the root and
    the branch of any position without hashing again (a server proving many txs of one
    block)."""

    def __init__(self, txids: Sequence[str]) -> None:
        if not txids:
            raise ValueError("a block has at least one transaction")
        level = [_internal(t, "txid") for t in txids]
        self.levels = [level]  # leaves first; each odd level padded with its last node
        while len(level) > 1:
            if len(level) % 2:
                level.append(level[-1])
            level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
            self.levels.append(level)
        self.size = len(txids)

    def root(self) -> str:
        return _display(self.levels[-1][0])

    def branch(self, pos: int) -> list[str]:
        """The branch of txids[pos] as Electrum's blockchain.transaction.get_merkle lists
        it: sibling hashes from the leaf up, display hex."""
        if not 0 <= pos < self.size:
            raise ValueError(f"position {pos} outside a block of {self.size} transactions")
        branch = []
        for level in self.levels[:-1]:
            branch.append(_display(level[pos ^ 1]))
            pos //= 2
        return branch


def merkle_root(txids: Sequence[str]) -> str:
    """The block Merkle root of txids (display hex): see `MerkleTree`."""
    return MerkleTree(txids).root()


def merkle_branch(txids: Sequence[str], pos: int) -> list[str]:
    """The Merkle branch of txids[pos] (see `MerkleTree.branch`)."""
    return MerkleTree(txids).branch(pos)


def merkle_root_from_branch(txid: str, branch: Sequence[str], pos: int) -> str:
    """The Merkle root implied by an Electrum merkle proof (compare it to the header's).

    DecodeError if the hashes are not 32-byte hex or `pos` does not fit the branch depth.
    """
    if not isinstance(pos, int) or pos < 0 or pos >> len(branch):
        raise DecodeError(f"merkle position {pos!r} does not fit a branch of {len(branch)}")
    h = _internal(txid, "txid")
    for sibling in branch:
        s = _internal(sibling, "merkle branch hash")
        h = sha256d(s + h) if pos & 1 else sha256d(h + s)
        pos >>= 1
    return _display(h)


def parse_merkle_proof(data: Any) -> MerkleProof:
    """A proof as JSON gives it, Electrum's `blockchain.transaction.get_merkle` and
    Esplora's `/tx/:txid/merkle-proof` alike: {"block_height": int, "merkle": [hex, ...],
    "pos": int} (DecodeError otherwise; the hashes are checked when the proof is)."""
    if not isinstance(data, dict):
        raise DecodeError("a merkle proof is not an object")
    height, branch, pos = data.get("block_height"), data.get("merkle"), data.get("pos")
    if (
        type(height) is not int
        or type(pos) is not int
        or not isinstance(branch, list)
        or not all(isinstance(h, str) for h in branch)
    ):
        raise DecodeError("a merkle proof without block_height, merkle and pos")
    return MerkleProof(height, tuple(branch), pos)
