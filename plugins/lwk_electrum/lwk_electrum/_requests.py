"""The plans of the Backend methods other than scans: genesis hash, raw transactions,
block times, broadcast (one burst each; the replies checked here, for both transports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from lwk_core.plugin import (
    AuthenticationFailed,
    BackendProtocolError,
    BroadcastRejected,
    InsufficientCredits,
)

from ._errors import ElectrumError, broadcast_reason
from ._headers import parse_header
from ._plan import Batch, Plan

__all__ = ["block_timestamps", "broadcast", "genesis_hash", "raw_txs"]

# JSON-RPC codes that say the server failed, not that the node judged the transaction.
_NOT_A_VERDICT: Final = frozenset({-32700, -32600, -32601, -32603})


def genesis_hash(backend: str) -> Plan[Batch, str]:
    """`server.features`' genesis_hash (the Electrum protocol's server.features)."""
    (features,) = yield Batch([("server.features", [])])
    genesis = features.get("genesis_hash") if isinstance(features, dict) else None
    if not isinstance(genesis, str):
        raise BackendProtocolError("server.features gave no genesis_hash", backend=backend)
    return genesis


def raw_txs(txids: Sequence[str], backend: str) -> Plan[Batch, list[bytes]]:
    replies = yield Batch([("blockchain.transaction.get", [txid]) for txid in txids])
    raws = []
    for txid, reply in zip(txids, replies, strict=True):
        try:
            raws.append(bytes.fromhex(reply))
        except (TypeError, ValueError):
            raise BackendProtocolError(f"transaction {txid} is not hex", backend=backend) from None
    return raws


def block_timestamps(heights: Sequence[int], backend: str) -> Plan[Batch, dict[int, int]]:
    unique = sorted(set(heights))
    replies = yield Batch([("blockchain.block.header", [h]) for h in unique])
    return {
        h: parse_header(raw, h, backend=backend).time
        for h, raw in zip(unique, replies, strict=True)
    }


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
