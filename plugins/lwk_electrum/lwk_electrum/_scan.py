"""Script histories with an incremental cache keyed by Electrum status hashes.

A script's status is a hash of its history. A scan first handles what the server pushed,
then subscribes (pipelined) only the scripts whose status the live connection has not told:
the others' statuses are current (answered or pushed since it connected, see
`Subscriptions`). A script whose status equals the one cached with its history is answered
from the cache, so a rescan where nothing changed sends no request at all, and after a
change only the changed scripts' histories are asked. A script never scanned by this client
has its history asked in the same exchange as its subscription, as soon as its status is
read, and only if the status shows a history: a first scan sends a subscription per script
and a get_history per used script, and the unused ones (the gap) cost nothing more. Status
notifications pushed by the server evict entries early.

A script the server does not let the connection subscribe (its cap, see `Subscriptions`)
has no status and no push: its history is asked on every scan, in the same burst as the
subscriptions, and never answered from the cache (and counts as changed, see
`Subscriptions.changed_since`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from lwk_core.plugin import (
    BackendProtocolError,
    HistoryEntry,
    electrum_scripthash,
    electrum_status,
)

from ._plan import BackendOp, Batch, Plan, Refresh, Subscribe
from ._subscriptions import GET_HISTORY, SCRIPTHASH_SUBSCRIBE, UNKNOWN, Subscriptions

__all__ = ["ScanPlan", "ScriptCache", "parse_history", "scan_scripts"]

log = logging.getLogger("lwk_electrum")

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
History = tuple[HistoryEntry, ...]


class ScriptCache:
    """script hash -> (status, history), the status being the hash of that very history.

    A history is filed under the status computed from it (the protocol's definition, which
    electrs follows), not the one the subscription reported: the two differ when the history
    changed between the subscribe and the get_history, and the reported one must then not be
    answered with the newer history. On a server that hashes otherwise nothing is served from
    the cache (every changed-looking script is fetched again): slower, still right.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, History]] = {}
        self._scanned: set[str] = set()
        self._lock = threading.Lock()
        self._hashes: dict[bytes, str] = {}  # script -> its script hash (a SHA-256 each)
        self._scripts: dict[str, bytes] = {}  # and back

    def __len__(self) -> int:
        return len(self._entries)

    def scripthashes(self, scripts: Sequence[bytes]) -> list[str]:
        """The script hash of each script, computed once per script."""
        hashes, found = self._hashes, []
        for script in scripts:
            script = script if type(script) is bytes else bytes(script)  # a key: hashable
            sh = hashes.get(script)
            if sh is None:
                sh = electrum_scripthash(script)
                with self._lock:
                    hashes[script], self._scripts[sh] = sh, script
            found.append(sh)
        return found

    def scripts(self, scripthashes: Sequence[str]) -> set[bytes]:
        """The scripts of `scripthashes` this cache hashed (the others were never scanned)."""
        known = self._scripts
        return {known[sh] for sh in scripthashes if sh in known}

    def get(self, scripthash: str, status: str) -> History | None:
        with self._lock:
            entry = self._entries.get(scripthash)
        return entry[1] if entry is not None and entry[0] == status else None

    def put(self, scripthash: str, status: str, history: History) -> None:
        with self._lock:
            self._entries[scripthash] = (status, history)

    def scanned(self, scripthash: str) -> bool:
        """Whether a scan by this client saw the script (and fetched its history if any)."""
        with self._lock:
            return scripthash in self._scanned

    def mark_scanned(self, scripthashes: Sequence[str]) -> None:
        with self._lock:
            self._scanned.update(scripthashes)

    def on_notification(self, method: str, params: list[Any]) -> None:
        """A connection listener: a new status for a script evicts its stale history."""
        if method != SCRIPTHASH_SUBSCRIBE:
            return
        scripthash, status = params
        with self._lock:
            entry = self._entries.get(scripthash)
            if entry is not None and entry[0] != status:
                del self._entries[scripthash]


ScanPlan = Plan[BackendOp, Any]


def scan_scripts(
    cache: ScriptCache,
    subscriptions: Subscriptions,
    scripts: Sequence[bytes],
    *,
    backend: str,
) -> ScanPlan:
    """The history of each script, in order (heights 0 and -1 become None: mempool)."""
    scripthashes = cache.scripthashes(scripts)
    yield Refresh()
    statuses: list[Any] = [subscriptions.status(sh) for sh in scripthashes]
    unknown = [scripthashes[i] for i, status in enumerate(statuses) if status is UNKNOWN]
    grantable = subscriptions.grantable(unknown)
    granted = set(grantable)
    ungranted = [sh for sh in dict.fromkeys(unknown) if sh not in granted]
    asked, raws = yield from _subscribe(cache, grantable, ungranted)
    answered = dict(zip(grantable, asked, strict=True))
    statuses = [answered.get(sh, status) for sh, status in zip(scripthashes, statuses, strict=True)]
    subscriptions.unsubscribed(
        [sh for sh, st in zip(scripthashes, statuses, strict=True) if st is UNKNOWN]
    )
    histories = [
        _cached(cache, sh, status) for sh, status in zip(scripthashes, statuses, strict=True)
    ]
    missing = [i for i, history in enumerate(histories) if history is None]
    yield from _fetch_histories([scripthashes[i] for i in missing], raws)
    fetched = [parse_history(raws[scripthashes[i]], backend=backend) for i in missing]
    for i, history in zip(missing, fetched, strict=True):
        _file(cache, scripthashes[i], raws[scripthashes[i]], history, statuses[i], backend)
        histories[i] = history
    cache.mark_scanned(scripthashes)
    return [list(h or ()) for h in histories]


def _subscribe(cache: ScriptCache, scripthashes: list[str], ungranted: list[str]) -> ScanPlan:
    """Each script's status (UNKNOWN if refused), and the raw histories of the `ungranted`
    (no subscription: asked in the same burst) and of the scripts this client never scanned
    whose status shows a history (asked as each status is read, in the same exchange: an
    unused script costs its subscription alone)."""
    fresh = [sh for sh in scripthashes if not cache.scanned(sh)]
    calls = [(GET_HISTORY, [sh]) for sh in ungranted]
    if not scripthashes:
        replies = (yield Batch(calls)) if calls else []
        return [], dict(zip(ungranted, replies, strict=True))
    statuses, replies, histories = yield Subscribe(scripthashes, calls, fresh)
    return statuses, {**dict(zip(ungranted, replies, strict=True)), **histories}


def _cached(cache: ScriptCache, scripthash: str, status: Any) -> History | None:
    """The history known for this status: none if None, the cached one, else None (also
    for a script without a status: UNKNOWN)."""
    if status is UNKNOWN:
        return None
    return () if status is None else cache.get(scripthash, status)


def _fetch_histories(scripthashes: list[str], raws: dict[str, Any]) -> ScanPlan:
    """Add to `raws` the raw histories of `scripthashes` not prefetched."""
    late = list(dict.fromkeys(sh for sh in scripthashes if sh not in raws))
    if late:
        replies = yield Batch([(GET_HISTORY, [sh]) for sh in late])
        raws.update(zip(late, replies, strict=True))


def _file(
    cache: ScriptCache, sh: str, raw: Any, history: History, reported: Any, backend: str
) -> None:
    """Cache a fetched history under the status it hashes to (see ScriptCache)."""
    status = electrum_status((e["tx_hash"], e["height"]) for e in raw)
    if status is not None:
        cache.put(sh, status, history)
    if status != reported and reported is not UNKNOWN:
        log.debug("%s: a history does not hash to its reported status", backend)


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
