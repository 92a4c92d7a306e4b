"""ElectrumSession: the Backend an ElectrumClient hands to core (connection plus caches).

The session's logic is plans (`_scan`, `_requests`), shared with the asyncio session; this
class runs them over a blocking `ElectrumConnection`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from lwk_core.plugin import HistoryEntry, MerkleProof, Tip

from . import _requests
from ._connection import ElectrumConnection
from ._connection_base import ConnectionBase
from ._plan import BackendOp, Plan, Refresh, Subscribe, run
from ._scan import ScriptCache, scan_scripts

__all__ = ["ElectrumSession", "SessionState"]

T = TypeVar("T")
Rpc = TypeVar("Rpc", bound=ConnectionBase)


class SessionState(Generic[Rpc]):
    """What a session keeps between calls, whatever drives it: its connection (whose
    subscriptions hold the scripts' current statuses), the status-hash cache (fed by the
    connection's notifications)."""

    def __init__(self, rpc: Rpc) -> None:
        self.rpc = rpc
        self.cache = ScriptCache()
        rpc.add_listener(self.cache.on_notification)

    @property
    def name(self) -> str:
        return self.rpc.name

    def scan(self, scripts: Sequence[bytes], backend: str) -> Plan[BackendOp, Any]:
        subscriptions = self.rpc.protocol.subscriptions
        return scan_scripts(self.cache, subscriptions, scripts, backend=backend)

    def headers_plan(self, heights: Sequence[int]) -> Plan[BackendOp, dict[int, bytes]]:
        max_line = self.rpc.protocol.reader.max_line
        return _requests.block_headers(heights, self.name, max_line=max_line)

    def broadcast_plan(self, tx: bytes) -> Plan[BackendOp, str]:
        """Broadcast, then void the statuses: the server's pushes about the transaction may
        still be on their way, and the next scan must see it (as LWK's, which asks)."""
        txid = yield from _requests.broadcast(tx, self.name)
        self.rpc.protocol.subscriptions.void()
        return txid


class ElectrumSession(SessionState[ElectrumConnection]):
    """One Electrum server as lwk_core's `Backend` protocol asks for it."""

    def ping(self) -> None:
        self.rpc.call("server.ping")

    def genesis_hash(self) -> str:
        return _requests.genesis_hash(self.rpc.features(), self.name)

    def tip(self, *, min_height: int = 0) -> Tip:
        return self.rpc.tip(min_height)

    def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        histories: list[list[HistoryEntry]] = self._run(self.scan(scripts, self.name))
        return histories

    def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        return self._run(_requests.raw_txs(txids, self.name))

    def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        return self._run(self.headers_plan(heights))

    def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        return self._run(_requests.merkle_proofs(confirmed, self.name))

    def broadcast(self, tx: bytes) -> str:
        return self._run(self.broadcast_plan(tx))

    def close(self) -> None:
        self.rpc.close()

    def _run(self, plan: Plan[BackendOp, T]) -> T:
        return run(plan, self._perform)

    def _perform(self, op: BackendOp) -> Any:
        if isinstance(op, Subscribe):
            return self.rpc.subscribe_scripthashes(op.scripthashes, op.then, op.used)
        if isinstance(op, Refresh):
            return self.rpc.refresh()
        return self.rpc.batch(op.calls)
