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
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence

import attrs

from ._parse import PageEntry

__all__ = ["MAX_AGE", "ChainState", "FreshHistories"]

MAX_AGE = 300.0
"""Seconds a kept history answers without a page (then paged again, one page with `_known`)."""
_MAX_SCRIPTS = 50_000


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

    def keep(self, scripthash: str, entries: Sequence[PageEntry], state: ChainState) -> None:
        """Keep `entries` (the script's whole history, paged after `state` was read) when
        `state` is still the current one and the history is within it."""
        within = all(
            e.txid in state.mempool
            if e.height is None
            else e.height < state.tip_height
            or (e.height == state.tip_height and e.block_hash in (None, state.tip_hash))
            for e in entries
        )
        with self._lock:
            if state is not self._state and state != self._state:
                return
            self._drop(scripthash)
            if not within:
                return
            if len(self._histories) >= _MAX_SCRIPTS:
                self._drop(next(iter(self._histories)))  # the oldest
            self._histories[scripthash] = (tuple(entries), self._clock())
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
            if touched is None:
                self._histories.clear()
                self._owners.clear()
            else:
                for scripthash in touched:
                    self._drop(scripthash)
            self._state = new
            return True

    def _drop(self, scripthash: str) -> None:
        kept = self._histories.pop(scripthash, None)
        if kept is None:
            return
        for e in kept[0]:
            owners = self._owners.get(e.txid)
            if owners is not None:
                owners.discard(scripthash)
                if not owners:
                    del self._owners[e.txid]
