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
    USED,
    BackendProtocolError,
    HistoryEntry,
    ScriptUsage,
    Used,
    electrum_scripthash,
    electrum_status,
)

from ._plan import BackendOp, Batch, Plan, Refresh, Subscribe
from ._subscriptions import GET_HISTORY, SCRIPTHASH_SUBSCRIBE, UNKNOWN, Subscriptions

__all__ = ["ScanPlan", "ScriptCache", "parse_history", "scan_scripts", "scan_usage"]

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
    statuses, raws = yield from _statuses(cache, subscriptions, scripthashes, [], follow=True)
    histories = [
        _cached(cache, sh, status) for sh, status in zip(scripthashes, statuses, strict=True)
    ]
    missing = [i for i, history in enumerate(histories) if history is None]
    yield from _fetch_histories([scripthashes[i] for i in missing], raws)
    for i in missing:
        histories[i] = _take(cache, scripthashes[i], raws, statuses[i], backend)
    cache.mark_scanned(scripthashes)
    return [list(h or ()) for h in histories]


def scan_usage(
    cache: ScriptCache,
    subscriptions: Subscriptions,
    scripts: Sequence[bytes],
    pending: Sequence[bytes],
    *,
    backend: str,
) -> ScanPlan:
    """Which scripts are used, and the histories of `pending`, as a ScriptUsage: a script
    whose status shows a history is USED unless that history is cached (no get_history
    follows its status: it is asked as a later call's `pending`, in the burst of the next
    round's subscriptions). A script without a status (over the server's cap) is asked its
    history in the same burst."""
    scripthashes = cache.scripthashes(scripts)
    pending_hashes = cache.scripthashes(pending)
    late = list(dict.fromkeys(pending_hashes))
    yield Refresh()
    statuses, raws = yield from _statuses(cache, subscriptions, scripthashes, late, follow=False)
    found: list[History | Used | None] = []
    for sh, status in zip(scripthashes, statuses, strict=True):
        history = _cached(cache, sh, status)
        found.append(USED if history is None and status is not UNKNOWN else history)
    unread = [i for i, history in enumerate(found) if history is None]
    yield from _fetch_histories([scripthashes[i] for i in unread], raws)  # refused a status
    for i in unread:
        found[i] = _take(cache, scripthashes[i], raws, statuses[i], backend)
    late_histories = {sh: _take(cache, sh, raws, subscriptions.status(sh), backend) for sh in late}
    cache.mark_scanned([sh for sh, h in zip(scripthashes, found, strict=True) if h is not USED])
    cache.mark_scanned(late)
    return ScriptUsage(
        [h if isinstance(h, Used) else list(h or ()) for h in found],
        [list(late_histories[sh]) for sh in pending_hashes],
    )


def _statuses(
    cache: ScriptCache,
    subscriptions: Subscriptions,
    scripthashes: list[str],
    fetched: list[str],
    *,
    follow: bool,
) -> ScanPlan:
    """Each script's current status (UNKNOWN: none, the server did not subscribe it),
    subscribing those the live connection has not told, and the raw histories of the
    scripts it cannot subscribe (its cap) and of `fetched`, asked in the same burst; with
    `follow`, also of the scripts this client never scanned whose status shows a history."""
    statuses: list[Any] = [subscriptions.status(sh) for sh in scripthashes]
    unknown = [scripthashes[i] for i, status in enumerate(statuses) if status is UNKNOWN]
    grantable = subscriptions.grantable(unknown)
    granted = set(grantable)
    ungranted = [sh for sh in dict.fromkeys(unknown) if sh not in granted]
    fresh = [sh for sh in grantable if not cache.scanned(sh)] if follow else []
    asked, raws = yield from _subscribe(grantable, list(dict.fromkeys(ungranted + fetched)), fresh)
    answered = dict(zip(grantable, asked, strict=True))
    statuses = [answered.get(sh, status) for sh, status in zip(scripthashes, statuses, strict=True)]
    subscriptions.unsubscribed(
        [sh for sh, st in zip(scripthashes, statuses, strict=True) if st is UNKNOWN]
    )
    return statuses, raws


def _subscribe(scripthashes: list[str], fetched: list[str], followed: list[str]) -> ScanPlan:
    """Each script's status (UNKNOWN if refused), and the raw histories of `fetched` (asked
    in the same burst: scripts without a subscription, or whose history is pending) and of
    those of `followed` whose status shows a history (asked as each status is read, in the
    same exchange: an unused script costs its subscription alone)."""
    calls = [(GET_HISTORY, [sh]) for sh in fetched]
    if not scripthashes:
        replies = (yield Batch(calls)) if calls else []
        return [], dict(zip(fetched, replies, strict=True))
    statuses, replies, histories = yield Subscribe(scripthashes, calls, followed)
    return statuses, {**dict(zip(fetched, replies, strict=True)), **histories}


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


def _take(
    cache: ScriptCache, sh: str, raws: dict[str, Any], reported: Any, backend: str
) -> History:
    """A fetched history, parsed and cached under the status it hashes to (see
    ScriptCache)."""
    raw = raws[sh]
    history = parse_history(raw, backend=backend)
    status = electrum_status((e["tx_hash"], e["height"]) for e in raw)
    if status is not None:
        cache.put(sh, status, history)
    if status != reported and reported is not UNKNOWN:
        log.debug("%s: a history does not hash to its reported status", backend)
    return history


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
