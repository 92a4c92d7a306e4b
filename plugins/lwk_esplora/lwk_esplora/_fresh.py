"""Whole script histories kept as of one chain state, so that a rescan where nothing
happened pages no script at all.

Esplora pushes nothing, but a script's history changes only through a transaction that
pays or spends it entering or leaving a block or the mempool. The chain state is the tip's
hash (a block hash commits to every block below it) and the mempool's txids
(`/mempool/txids`). A history paged after the state was read is valid as of that state
and stays valid while no tx added since (in blocks on top of that tip, or new in the
mempool) and no tx gone from the mempool touches the script. Before each request for
histories the steps read the state again, inspect the txs that differ and drop the
histories they touch (`advance`); what can't be inspected cheaply (a reorg, many blocks, a
flood of new txs) drops them all, and the scripts are paged as before.

A history is kept only when it is within its state: unconfirmed txs all in the state's
mempool (else one evicted later would stay in it) and confirmed txs at or below the tip
(else one reorged away above the tip could). Kept histories expire after `MAX_AGE`: a
server behind a load balancer may answer a page from a replica that lags the one that gave
the state, and that page is trusted at most that long. Per server, like `_known`.

Each move of the state is logged with the scripts it touched, so that lwk_core's monitors
can skip the wallets none of whose scripts changed since their last sync (`changed_since`,
as lwk_electrum tells it from pushed statuses).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable, Sequence

import attrs

from ._parse import PageEntry

__all__ = ["MAX_AGE", "ChainState", "FreshHistories"]

MAX_AGE = 300.0
"""Seconds a kept history answers without a page (then paged again, one page with `_known`)."""
_MAX_SCRIPTS = 50_000
_MAX_CHANGES = 1_000  # moves of the state logged; a mark older than them: anything changed


@attrs.frozen
class ChainState:
    """The tip's hash and height and the mempool's txids."""

    tip_hash: str
    tip_height: int
    mempool: frozenset[str] = attrs.field(repr=lambda m: f"<{len(m)} txids>")


class FreshHistories:
    """Histories by script hash, valid as of `state` (thread-safe, bounded)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._state: ChainState | None = None
        self._histories: dict[str, tuple[tuple[PageEntry, ...], float]] = {}
        self._owners: dict[str, set[str]] = {}  # txid -> script hashes listing it
        self._scripts: dict[str, bytes] = {}  # script hash -> script, of kept histories
        # (generation, the scripts a move touched; None: any may have changed, or the tip)
        self._changes: collections.deque[tuple[int, frozenset[bytes] | None]] = collections.deque(
            maxlen=_MAX_CHANGES
        )
        self._generation = 0

    @property
    def state(self) -> ChainState | None:
        return self._state

    def __len__(self) -> int:
        return len(self._histories)

    def history(self, scripthash: str) -> tuple[PageEntry, ...] | None:
        """The kept history of `scripthash`, unless absent or older than `MAX_AGE`."""
        with self._lock:
            kept = self._histories.get(scripthash)
        if kept is None or self._clock() - kept[1] >= MAX_AGE:
            return None
        return kept[0]

    def watched(self, scripthash: str) -> bool:
        return scripthash in self._histories

    def owners(self, txids: Iterable[str]) -> set[str]:
        """The script hashes whose kept histories list any of `txids`."""
        with self._lock:
            return {h for txid in txids for h in self._owners.get(txid, ())}

    def keep(
        self,
        scripthash: str,
        script: bytes,
        entries: Sequence[PageEntry],
        state: ChainState | None,
    ) -> None:
        """Keep `entries` (the whole history of `script`, paged after `state` was read)
        when `state` is still the current one and the history is within it. A history not
        kept is logged as changed: no later move could tell its changes."""
        within = state is not None and all(
            e.txid in state.mempool
            if e.height is None
            else e.height < state.tip_height
            or (e.height == state.tip_height and e.block_hash in (None, state.tip_hash))
            for e in entries
        )
        with self._lock:
            self._drop(scripthash)
            if not within or (state is not self._state and state != self._state):
                self._log(frozenset((script,)))
                return
            if len(self._histories) >= _MAX_SCRIPTS:
                oldest = next(iter(self._histories))
                self._log(frozenset((self._scripts[oldest],)))
                self._drop(oldest)
            self._histories[scripthash] = (tuple(entries), self._clock())
            self._scripts[scripthash] = script
            for e in entries:
                self._owners.setdefault(e.txid, set()).add(scripthash)

    def advance(self, old: ChainState | None, new: ChainState, touched: set[str] | None) -> bool:
        """Make `new` the state, dropping the `touched` histories (None: all of them), if
        `old` is still the state. False when another scan moved the state meanwhile to
        another than `new`: nothing changes, and what was kept is not valid as of `new`."""
        with self._lock:
            if self._state == new:
                return True  # another scan read the same state: nothing to drop
            if old != self._state:
                return False
            changed = None
            if touched is not None and old is not None and old.tip_hash == new.tip_hash:
                changed = frozenset(self._scripts[h] for h in touched if h in self._scripts)
            self._log(changed)
            if touched is None:
                self._histories.clear()
                self._owners.clear()
                self._scripts.clear()
            else:
                for scripthash in touched:
                    self._drop(scripthash)
            self._state = new
            return True

    def void(self) -> None:
        """Log that anything may have changed (the state could not be read)."""
        with self._lock:
            self._log(None)

    def mark(self) -> tuple[int, float]:
        """Now, for `changed_since`."""
        with self._lock:
            return self._generation, self._clock()

    def changed_since(self, mark: tuple[int, float]) -> set[bytes] | None:
        """The scripts whose history may have changed since `mark`; None when any may have:
        the tip moved, a move dropped every history, the state could not be read, or the
        mark is older than the log or than `MAX_AGE` (a wallet is paged that often)."""
        generation, at = mark
        if self._clock() - at >= MAX_AGE:
            return None
        with self._lock:
            if generation < self._generation - len(self._changes):
                return None
            changed: set[bytes] = set()
            for logged, scripts in self._changes:
                if logged > generation:
                    if scripts is None:
                        return None
                    changed |= scripts
            return changed

    def _log(self, changed: frozenset[bytes] | None) -> None:
        self._generation += 1
        self._changes.append((self._generation, changed))

    def _drop(self, scripthash: str) -> None:
        kept = self._histories.pop(scripthash, None)
        if kept is None:
            return
        del self._scripts[scripthash]
        for e in kept[0]:
            owners = self._owners.get(e.txid)
            if owners is not None:
                owners.discard(scripthash)
                if not owners:
                    del self._owners[e.txid]
