"""Optional SPV check: confirmed history entries must be in their block's Merkle tree.

Each (txid, height) gets a `blockchain.transaction.get_merkle` proof that must hash up to
the merkle root of the header at that height (fetched in the same pipelined burst). This
proves inclusion in the block the server shows, not that the block is in the best chain.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lwk_core.plugin import (
    BackendProtocolError,
    DecodeError,
    HistoryEntry,
    merkle_root_from_branch,
)

from ._headers import parse_header
from ._plan import Batch, Plan

__all__ = ["verify_inclusion"]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_MAX_DEPTH = 32  # 2**32 transactions per block is far beyond any block


def verify_inclusion(
    entries: Sequence[HistoryEntry], verified: dict[tuple[str, int], int], backend: str
) -> Plan[Batch, None]:
    """Check each confirmed entry not in `verified`, then record its block time there.

    `verified` maps (txid, height) to the block time of a proof already checked, so each
    confirmation is proven once per session. Raises BackendProtocolError if a proof or
    header is malformed or does not match.
    """
    confirmed = sorted(
        {(e.txid, e.height) for e in entries if e.height is not None} - verified.keys()
    )
    if not confirmed:
        return
    heights = sorted({height for _, height in confirmed})
    replies = yield Batch(
        [("blockchain.block.header", [height]) for height in heights]
        + [("blockchain.transaction.get_merkle", [txid, height]) for txid, height in confirmed]
    )
    headers = {
        height: parse_header(raw, height, backend=backend)
        for height, raw in zip(heights, replies, strict=False)
    }
    for (txid, height), proof in zip(confirmed, replies[len(heights) :], strict=True):
        root = _proof_root(proof, txid, height, backend=backend)
        if root != headers[height].merkle_root:
            raise BackendProtocolError(
                f"merkle proof of {txid} does not match the block at height {height}",
                backend=backend,
            )
    for txid, height in confirmed:
        verified[txid, height] = headers[height].time


def _proof_root(proof: Any, txid: str, height: int, *, backend: str) -> str:
    if not isinstance(proof, dict):
        raise BackendProtocolError(f"merkle proof of {txid} is not an object", backend=backend)
    branch, pos = proof.get("merkle"), proof.get("pos")
    if proof.get("block_height") != height:
        raise BackendProtocolError(
            f"merkle proof of {txid} is for another height than {height}", backend=backend
        )
    if (
        not isinstance(branch, list)
        or len(branch) > _MAX_DEPTH
        or not all(isinstance(h, str) and _HEX64.fullmatch(h) for h in branch)
        or type(pos) is not int
    ):
        raise BackendProtocolError(f"malformed merkle proof of {txid}", backend=backend)
    try:
        return merkle_root_from_branch(txid, branch, pos)
    except DecodeError as e:
        raise BackendProtocolError(f"malformed merkle proof of {txid}: {e}", backend=backend) from e
