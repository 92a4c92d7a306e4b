"""ElectrumSession: the Backend an ElectrumClient hands to core (connection plus caches).

The session's logic is plans (`_scan`, `_requests`), shared with the asyncio session; this
class runs them over a blocking `ElectrumConnection`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from lwk_core.plugin import USED, HistoryEntry, MerkleProof, ScriptUsage, Tip

from . import _requests
from ._connection import ElectrumConnection
from ._connection_base import ConnectionBase
from ._plan import BackendOp, Plan, Refresh, Subscribe, run
from ._scan import ScriptCache, scan_scripts, scan_usage

__all__ = ["ElectrumSession", "SessionState"]

_MAX_KEPT = 10_000  # headers kept under one tip (Liquid's are 1-2 KB); past it, none fetched

T = TypeVar("T")
Rpc = TypeVar("Rpc", bound=ConnectionBase)


class SessionState(Generic[Rpc]):
    """What a session keeps between calls, whatever drives it: its connection (whose
    subscriptions hold the scripts' current statuses), the status-hash cache (fed by the
    connection's notifications), the confirmation height of each transaction its scans
    found, and the headers fetched with transactions.

    A scan asks for the headers of its new transactions' blocks (their times) right after
    the transactions: those are fetched in the transactions' burst (one round trip less),
    at the heights the histories gave, below the tip (whose header comes with it), and
    served while the tip is the same (the same chain: a reorg moves the tip)."""

    def __init__(self, rpc: Rpc) -> None:
        self.rpc = rpc
        self.cache = ScriptCache()
        rpc.add_listener(self.cache.on_notification)
        self._heights: dict[str, int] = {}  # txid -> confirmation height, as last scanned
        self._headers: dict[int, bytes] = {}  # fetched with transactions, under `_headers_at`
        self._headers_at = ""  # the tip's hash when they were fetched

    @property
    def name(self) -> str:
        return self.rpc.name

    def scan(self, scripts: Sequence[bytes], backend: str) -> Plan[BackendOp, Any]:
        subscriptions = self.rpc.protocol.subscriptions
        histories = yield from scan_scripts(self.cache, subscriptions, scripts, backend=backend)
        self._note_heights(histories)
        return histories

    def usage(
        self, scripts: Sequence[bytes], pending: Sequence[bytes], backend: str
    ) -> Plan[BackendOp, ScriptUsage]:
        subscriptions = self.rpc.protocol.subscriptions
        usage: ScriptUsage = yield from scan_usage(
            self.cache, subscriptions, scripts, pending, backend=backend
        )
        self._note_heights([h for h in usage.scripts if h is not USED])
        self._note_heights(usage.pending)
        return usage

    def _note_heights(self, histories: Sequence[Sequence[HistoryEntry]]) -> None:
        """Keep each transaction's confirmation height (its block's header is fetched with
        it, see `txs_plan`)."""
        for history in histories:
            for entry in history:
                if entry.height is None:
                    self._heights.pop(entry.txid, None)
                else:
                    self._heights[entry.txid] = entry.height

    def txs_plan(self, txids: Sequence[str]) -> Plan[BackendOp, list[bytes]]:
        """The raw transactions, with the headers of their blocks in the same burst."""
        kept, tip = self._kept_headers(), self.rpc.protocol.subscriptions.tip
        heights = {self._heights.get(txid) for txid in txids} - {None} - set(kept)
        below = sorted(h for h in heights if h is not None and tip is not None and h < tip.height)
        if len(kept) + len(below) > _MAX_KEPT:
            below = []
        max_line = self.rpc.protocol.reader.max_line
        raws, headers = yield from _requests.raw_txs(
            txids, self.name, headers=below, max_line=max_line
        )
        kept.update(headers)
        return raws

    def change_mark(self) -> tuple[int, int]:
        return self.rpc.protocol.subscriptions.mark()

    def changed_since(self, mark: tuple[int, int]) -> set[bytes] | None:
        changed = self.rpc.protocol.subscriptions.changed_since(mark)
        return None if changed is None else self.cache.scripts(changed)

    def headers_plan(self, heights: Sequence[int]) -> Plan[BackendOp, dict[int, bytes]]:
        kept = self._kept_headers()
        missing = [h for h in heights if h not in kept]
        max_line = self.rpc.protocol.reader.max_line
        found = (
            (yield from _requests.block_headers(missing, self.name, max_line=max_line))
            if missing
            else {}
        )
        return {h: found[h] if h in found else kept[h] for h in heights}

    def _kept_headers(self) -> dict[int, bytes]:
        """The headers fetched with transactions, dropped when the tip changed."""
        tip = self.rpc.protocol.subscriptions.tip
        at = "" if tip is None else tip.hash
        if at != self._headers_at:
            self._headers, self._headers_at = {}, at
        return self._headers

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

    def scan_usage(self, scripts: Sequence[bytes], pending: Sequence[bytes]) -> ScriptUsage:
        return self._run(self.usage(scripts, pending, self.name))

    def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        return self._run(self.txs_plan(txids))

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
