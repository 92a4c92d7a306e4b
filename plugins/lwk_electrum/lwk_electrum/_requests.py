"""The plans of the Backend methods other than scans: genesis hash, raw transactions, block
headers, Merkle proofs, broadcast (a burst each, headers asked on where a server cuts a range
short; the replies checked here, for both transports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from lwk_core.plugin import (
    AuthenticationFailed,
    BackendProtocolError,
    BroadcastRejected,
    DecodeError,
    InsufficientCredits,
    MerkleProof,
    parse_headers,
    parse_merkle_proof,
)

from ._errors import ElectrumError, broadcast_reason
from ._framing import Call
from ._plan import Batch, Plan

__all__ = [
    "block_headers",
    "broadcast",
    "genesis_hash",
    "header_ranges",
    "merkle_proofs",
    "raw_txs",
]

# JSON-RPC codes that say the server failed, not that the node judged the transaction.
_NOT_A_VERDICT: Final = frozenset({-32700, -32600, -32601, -32603})


def genesis_hash(features: Any, backend: str) -> str:
    """The genesis_hash of a `server.features` reply (the Electrum protocol's)."""
    genesis = features.get("genesis_hash") if isinstance(features, dict) else None
    if not isinstance(genesis, str):
        raise BackendProtocolError("server.features gave no genesis_hash", backend=backend)
    return genesis


def raw_txs(
    txids: Sequence[str], backend: str, *, headers: Sequence[int] = (), max_line: int
) -> Plan[Batch, tuple[list[bytes], dict[int, bytes]]]:
    """The raw transactions, and in the same burst the raw headers at `headers` (by range;
    those of a range the server cuts short are left out)."""
    ranges = header_ranges(headers, _per_call(max_line))
    calls: list[Call] = [("blockchain.transaction.get", [txid]) for txid in txids]
    replies = yield Batch(calls + _range_calls(ranges))
    found, _ = _take_ranges(ranges, replies[len(txids) :], backend)
    return _checked_raws(txids, replies[: len(txids)], backend), found


def _checked_raws(txids: Sequence[str], replies: Sequence[Any], backend: str) -> list[bytes]:
    raws = []
    for txid, reply in zip(txids, replies, strict=True):
        try:
            raws.append(bytes.fromhex(reply))
        except (TypeError, ValueError):
            raise BackendProtocolError(f"transaction {txid} is not hex", backend=backend) from None
    return raws


HEADERS_MAX: Final = 2016  # headers one blockchain.block.headers call may ask (the protocol's cap)
HEADER_LINE_BUDGET: Final = 4096  # reply bytes allowed per header: a Liquid header is ~1.6 KB
_BRIDGED_GAP: Final = 16  # heights this close share one range (a few spare headers)


def header_ranges(heights: Sequence[int], per_call: int) -> list[tuple[int, int]]:
    """(start, count) ranges covering `heights`: runs of close heights share a range, no
    range longer than `per_call`."""
    ranges: list[tuple[int, int]] = []
    for height in sorted(set(heights)):
        if ranges:
            start, count = ranges[-1]
            if height - (start + count) < _BRIDGED_GAP and height - start < per_call:
                ranges[-1] = (start, height - start + 1)
                continue
        ranges.append((height, 1))
    return ranges


def block_headers(
    heights: Sequence[int], backend: str, *, max_line: int
) -> Plan[Batch, dict[int, bytes]]:
    """The raw headers at `heights`, by ranges (`blockchain.block.headers`, pipelined) so
    that close heights cost one request; a range the server cuts short (its own cap) is
    asked on from where it stopped. Core checks each header's height and signatures."""
    wanted = set(heights)
    found: dict[int, bytes] = {}
    pending = header_ranges(heights, _per_call(max_line))
    while pending:
        more, pending = _take_ranges(pending, (yield Batch(_range_calls(pending))), backend)
        found.update(more)
    return {h: found[h] for h in sorted(wanted)}


def _per_call(max_line: int) -> int:
    return max(1, min(HEADERS_MAX, max_line // HEADER_LINE_BUDGET))


def _range_calls(ranges: Sequence[tuple[int, int]]) -> list[Call]:
    return [("blockchain.block.headers", [start, count]) for start, count in ranges]


def _take_ranges(
    ranges: Sequence[tuple[int, int]], replies: Sequence[Any], backend: str
) -> tuple[dict[int, bytes], list[tuple[int, int]]]:
    """The headers by height of the replies to `ranges`, and the parts of ranges cut short."""
    found: dict[int, bytes] = {}
    cut = []
    for (start, count), reply in zip(ranges, replies, strict=True):
        headers = _range_headers(reply, count, backend)
        found.update((start + i, raw) for i, raw in enumerate(headers))
        if len(headers) < count:
            cut.append((start + len(headers), count - len(headers)))
    return found, cut


def _range_headers(reply: Any, asked: int, backend: str) -> list[bytes]:
    """The headers of one `blockchain.block.headers` reply: {"count": n, "hex": the n
    headers concatenated, ...}, at least one of those asked."""
    count = reply.get("count") if isinstance(reply, dict) else None
    hex_headers = reply.get("hex") if isinstance(reply, dict) else None
    if type(count) is not int or not 0 < count <= asked or not isinstance(hex_headers, str):
        raise BackendProtocolError("blockchain.block.headers gave no headers", backend=backend)
    try:
        headers = parse_headers(bytes.fromhex(hex_headers))
    except (ValueError, DecodeError) as e:
        raise BackendProtocolError(f"malformed block headers: {e}", backend=backend) from e
    if len(headers) != count:
        raise BackendProtocolError(
            f"blockchain.block.headers said {count} headers and gave {len(headers)}",
            backend=backend,
        )
    return [header.to_bytes() for header in headers]


def merkle_proofs(
    confirmed: Sequence[tuple[str, int]], backend: str
) -> Plan[Batch, list[MerkleProof]]:
    """`blockchain.transaction.get_merkle` of each (txid, height), pipelined; core checks
    each proof against the (signed) header at that height."""
    replies = yield Batch(
        [("blockchain.transaction.get_merkle", [txid, height]) for txid, height in confirmed]
    )
    return [
        _merkle_proof(reply, txid, backend)
        for (txid, _), reply in zip(confirmed, replies, strict=True)
    ]


def _merkle_proof(reply: Any, txid: str, backend: str) -> MerkleProof:
    try:
        return parse_merkle_proof(reply)
    except DecodeError as e:
        raise BackendProtocolError(f"merkle proof of {txid}: {e}", backend=backend) from e


def broadcast(tx: bytes, backend: str) -> Plan[Batch, str]:
    try:
        replies: list[Any] = yield Batch([("blockchain.transaction.broadcast", [tx.hex()])])
    except ElectrumError as e:
        if e.code in _NOT_A_VERDICT or isinstance(e, AuthenticationFailed | InsufficientCredits):
            raise
        raise BroadcastRejected(broadcast_reason(e.message), backend=backend) from e
    txid = replies[0]
    if not isinstance(txid, str):
        raise BackendProtocolError("broadcast answered no txid", backend=backend)
    return txid
