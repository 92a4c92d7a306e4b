"""Script histories with an incremental cache keyed by Electrum status hashes.

Every scan subscribes each script (pipelined): the server answers its current status, an
opaque hash of the script's history. A script whose status equals the one cached with its
history is answered from the cache, so a rescan where nothing changed sends only subscribe
requests. Status notifications pushed by the server evict entries early.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

import attrs

from lwk_core import BackendProtocolError, HistoryEntry
from lwk_core._hashes import electrum_scripthash

from ._connection import SCRIPTHASH_SUBSCRIBE, ElectrumConnection
from ._spv import verify_inclusion

__all__ = ["ScriptCache", "parse_history", "scan_scripts"]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
History = tuple[HistoryEntry, ...]


class ScriptCache:
    """script hash -> (status, history) as of the last time the history was fetched."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, History]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, scripthash: str, status: str) -> History | None:
        with self._lock:
            entry = self._entries.get(scripthash)
        return entry[1] if entry is not None and entry[0] == status else None

    def put(self, scripthash: str, status: str, history: History) -> None:
        with self._lock:
            self._entries[scripthash] = (status, history)

    def on_notification(self, method: str, params: list[Any]) -> None:
        """A connection listener: a new status for a script evicts its stale history."""
        if method != SCRIPTHASH_SUBSCRIBE:
            return
        scripthash, status = params
        with self._lock:
            entry = self._entries.get(scripthash)
            if entry is not None and entry[0] != status:
                del self._entries[scripthash]


def scan_scripts(
    rpc: ElectrumConnection,
    cache: ScriptCache,
    scripts: Sequence[bytes],
    *,
    verified: dict[tuple[str, int], int] | None = None,
) -> list[list[HistoryEntry]]:
    """The history of each script, in order (heights 0 and -1 become None: mempool).

    With `verified` (SPV on), every confirmed entry of a fetched history is proven with a
    Merkle proof unless already in it, and carries its block time.
    """
    scripthashes = [electrum_scripthash(bytes(s)) for s in scripts]
    statuses = rpc.subscribe_scripthashes(scripthashes)
    histories: list[History | None] = []
    missing: list[int] = []
    for i, (sh, status) in enumerate(zip(scripthashes, statuses, strict=True)):
        history = () if status is None else cache.get(sh, status)
        if history is None:
            missing.append(i)
        histories.append(history)
    fetched = [
        parse_history(raw, backend=rpc.name)
        for raw in rpc.batch(
            [("blockchain.scripthash.get_history", [scripthashes[i]]) for i in missing]
        )
    ]
    if verified is not None:
        verify_inclusion(rpc, [e for history in fetched for e in history], verified)
        fetched = [
            tuple(
                attrs.evolve(e, block_time=verified[e.txid, e.height])
                if e.height is not None
                else e
                for e in history
            )
            for history in fetched
        ]
    for i, history in zip(missing, fetched, strict=True):
        status = statuses[i]
        assert status is not None
        cache.put(scripthashes[i], status, history)
        histories[i] = history
    return [list(h or ()) for h in histories]


def parse_history(raw: Any, *, backend: str) -> History:
    """Validate a get_history result: [{"tx_hash": hex64, "height": int >= -1, ...}]."""
    if not isinstance(raw, list):
        raise BackendProtocolError("a script history is not a list", backend=backend)
    entries = []
    for item in raw:
        if not isinstance(item, dict):
            raise BackendProtocolError("a history entry is not an object", backend=backend)
        txid, height = item.get("tx_hash"), item.get("height")
        if not (isinstance(txid, str) and _HEX64.fullmatch(txid)):
            raise BackendProtocolError("a history entry has no valid tx_hash", backend=backend)
        if type(height) is not int or height < -1:
            raise BackendProtocolError("a history entry has no valid height", backend=backend)
        entries.append(HistoryEntry(txid.lower(), height if height > 0 else None))
    return tuple(entries)
