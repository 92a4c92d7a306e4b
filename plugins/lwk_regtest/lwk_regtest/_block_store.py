"""The blocks of the regtest chain's best chain: headers, hashes, times and the transactions
each confirms, with gaps filled by runs of empty blocks hashed lazily (see EmptyRun)."""

from __future__ import annotations

import time as _time
from collections import OrderedDict

import attrs

from lwk_core.primitives import merkle_root

from ._blocks import EmptyRun, build_header
from ._signing import BlockSigners

__all__ = ["BlockStore"]

_FILLER_MEMO = 100_000  # filler-block hashes remembered for height_of()


@attrs.define
class _Block:
    height: int
    hash: bytes  # internal order
    header: bytes
    time: int
    txids: list[str]


class BlockStore:
    """Blocks by height up to `tip` (not thread-safe: RegtestChain's lock guards it).

    Heights outside the chain raise KeyError; `last_time` is the latest block time given.
    """

    def __init__(self, last_time: int, signers: BlockSigners | None = None) -> None:
        self.signers = signers  # who signs the blocks (None: challenge OP_TRUE, unsigned)
        self.tip = -1
        self.last_time = last_time
        self._blocks: dict[int, _Block] = {}
        self._runs: list[EmptyRun] = []
        self._by_hash: dict[bytes, int] = {}
        self._filler_memo: OrderedDict[bytes, int] = OrderedDict()

    def height_of(self, key: bytes) -> int | None:
        """The height of the block hash `key` (internal order) in the best chain, or None."""
        height = self._by_hash.get(key)
        if height is None:
            height = self._filler_memo.get(key)
        if height is None or height > self.tip or self.hash_at(height) != key:
            return None
        return height

    def time_at(self, height: int) -> int:
        self._check_height(height)
        block = self._blocks.get(height)
        return block.time if block else self._run_at(height).time(height)

    def txids_at(self, height: int) -> list[str]:
        self._check_height(height)
        block = self._blocks.get(height)
        return list(block.txids) if block else []

    def next_time(self) -> int:
        """A block time for a new block: now, and after every earlier block."""
        self.last_time = max(self.last_time + 1, int(_time.time()))
        return self.last_time

    def append(self, txids: list[str], block_time: int) -> int:
        """A new block at tip + 1 confirming `txids`; returns its height."""
        height = self.tip + 1
        prev = self.hash_at(self.tip) if self.tip >= 0 else bytes(32)
        # mined blocks carry no coinbase: an empty block's root is all zeros
        root = bytes.fromhex(merkle_root(txids))[::-1] if txids else bytes(32)
        header, block_hash = build_header(prev, root, block_time, height, self.signers)
        self._blocks[height] = _Block(height, block_hash, header, block_time, txids)
        self._by_hash[block_hash] = height
        self.tip = height
        self.last_time = max(self.last_time, block_time)
        return height

    def add_run(self, last: int, time_after: int) -> None:
        """Empty blocks from tip + 1 to `last`, timed before `time_after`."""
        first = self.tip + 1
        run, _ = EmptyRun.build(
            first, last, self.hash_at(self.tip), self.time_at(self.tip), time_after, self.signers
        )
        self._runs.append(run)
        self.tip = last

    def truncate(self, fork: int) -> list[str]:
        """Remove every block above `fork`; returns the txids they confirmed."""
        removed: list[str] = []
        for height in range(fork + 1, self.tip + 1):
            block = self._blocks.pop(height, None)
            if block is None:
                continue
            del self._by_hash[block.hash]
            removed += block.txids
        self._runs = [run for run in self._runs if run.first <= fork]
        if self._runs and self._runs[-1].last > fork:
            self._runs[-1].truncate(fork)
        self.tip = fork
        return removed

    def header_at(self, height: int) -> tuple[bytes, bytes]:
        """(header, hash in internal order) of the block at `height`."""
        self._check_height(height)
        block = self._blocks.get(height)
        if block is not None:
            return block.header, block.hash
        header, block_hash = self._run_at(height).header(height)
        self._filler_memo[block_hash] = height
        if len(self._filler_memo) > _FILLER_MEMO:
            self._filler_memo.popitem(last=False)
        return header, block_hash

    def hash_at(self, height: int) -> bytes:
        return self.header_at(height)[1]

    def _check_height(self, height: int) -> None:
        if not 0 <= height <= self.tip:
            raise KeyError(height)

    def _run_at(self, height: int) -> EmptyRun:
        for run in reversed(self._runs):
            if run.first <= height <= run.last:
                return run
        raise KeyError(height)
