"""ElectrumSession: the Backend an ElectrumClient hands to core (connection plus caches)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from lwk_core.plugin import BackendProtocolError, BroadcastRejected, HistoryEntry, Tip

from ._connection import ElectrumConnection
from ._errors import ElectrumError, broadcast_reason
from ._headers import parse_header
from ._scan import ScriptCache, scan_scripts

__all__ = ["ElectrumSession"]

# JSON-RPC codes that say the server failed, not that the node judged the transaction.
_NOT_A_VERDICT = frozenset({-32700, -32600, -32601, -32603})


@attrs.define(eq=False)
class ElectrumSession:
    """One Electrum server as lwk_core's `Backend` protocol asks for it."""

    rpc: ElectrumConnection
    verify_merkle: bool = False
    cache: ScriptCache = attrs.field(factory=ScriptCache)
    verified: dict[tuple[str, int], int] = attrs.field(factory=dict)  # SPV: (txid, height) -> time

    def __attrs_post_init__(self) -> None:
        self.rpc.add_listener(self.cache.on_notification)

    @property
    def name(self) -> str:
        return self.rpc.name

    def ping(self) -> None:
        self.rpc.call("server.ping")

    def genesis_hash(self) -> str:
        """`server.features`' genesis_hash (the Electrum protocol's server.features)."""
        features = self.rpc.call("server.features")
        genesis = features.get("genesis_hash") if isinstance(features, dict) else None
        if not isinstance(genesis, str):
            raise BackendProtocolError("server.features gave no genesis_hash", backend=self.name)
        return genesis

    def tip(self, *, min_height: int = 0) -> Tip:
        return self.rpc.tip(min_height)

    def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        verified = self.verified if self.verify_merkle else None
        return scan_scripts(self.rpc, self.cache, scripts, verified=verified)

    def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        replies = self.rpc.batch([("blockchain.transaction.get", [txid]) for txid in txids])
        raws = []
        for txid, reply in zip(txids, replies, strict=True):
            try:
                raws.append(bytes.fromhex(reply))
            except (TypeError, ValueError):
                raise BackendProtocolError(
                    f"transaction {txid} is not hex", backend=self.name
                ) from None
        return raws

    def block_timestamps(self, heights: Sequence[int]) -> dict[int, int]:
        unique = sorted(set(heights))
        replies = self.rpc.batch([("blockchain.block.header", [h]) for h in unique])
        return {
            h: parse_header(raw, h, backend=self.name).time
            for h, raw in zip(unique, replies, strict=True)
        }

    def broadcast(self, tx: bytes) -> str:
        try:
            txid = self.rpc.call("blockchain.transaction.broadcast", tx.hex())
        except ElectrumError as e:
            if e.code in _NOT_A_VERDICT:
                raise
            raise BroadcastRejected(broadcast_reason(e.message), backend=self.name) from e
        if not isinstance(txid, str):
            raise BackendProtocolError("broadcast answered no txid", backend=self.name)
        return txid

    def close(self) -> None:
        self.rpc.close()
