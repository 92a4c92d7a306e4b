"""Confirmed histories already read from one server, so that paging a script again reads one page.

`/scripthash/:h/txs` lists a script's confirmed txs newest first, each with the hash of its
block. A block hash commits to every block below it, so when the oldest confirmed tx of a
fresh first page is one we know, in the same block, the chain up to that block is the one
we paged before: the script's txs below it are the ones we read then, and the page itself
is the truth above it. Anything else (the tx unknown, in another block, a tx of that block
missing, a txid twice) is a reorg, an eviction or a server we do not understand: the
caller pages the whole history again. The histories are per server (`EsploraSteps`), as
trustworthy as its fresh answers; nothing here is shared between servers.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ._parse import PageEntry

__all__ = ["KnownHistories"]

_MAX_SCRIPTS = 50_000  # histories kept; the oldest is dropped first
_MAX_ENTRIES = 100_000  # confirmed entries kept in all: ~300 bytes each, ~30 MB at most


class KnownHistories:
    """Confirmed histories by script hash, newest first as the server pages them
    (thread-safe, bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._histories: dict[str, tuple[PageEntry, ...]] = {}
        self._entries = 0

    def remember(self, scripthash: str, confirmed: Sequence[PageEntry]) -> None:
        """Keep `confirmed` (a complete confirmed history) of `scripthash`; empty forgets."""
        with self._lock:
            old = self._histories.pop(scripthash, ())
            self._entries -= len(old)
            if not confirmed or len(confirmed) > _MAX_ENTRIES:
                return
            while self._histories and (
                len(self._histories) >= _MAX_SCRIPTS
                or self._entries + len(confirmed) > _MAX_ENTRIES
            ):
                dropped = self._histories.pop(next(iter(self._histories)))
                self._entries -= len(dropped)
            self._histories[scripthash] = tuple(confirmed)
            self._entries += len(confirmed)

    def older(self, scripthash: str, page: Sequence[PageEntry]) -> list[PageEntry] | None:
        """The confirmed txs older than `page` (a fresh first page's confirmed txs, newest
        first), when the known history proves them; None: page the history again."""
        if not page:
            return None
        with self._lock:
            known = self._histories.get(scripthash)
        if known is None:
            return None
        last = page[-1]
        if last.block_hash is None:
            return None
        at = next((i for i, e in enumerate(known) if e.txid == last.txid), None)
        if at is None or (known[at].height, known[at].block_hash) != (
            last.height,
            last.block_hash,
        ):
            return None
        older = list(known[at + 1 :])
        listed = {e.txid for e in page}
        height = last.height or 0
        if any(
            e.txid in listed
            or (e.height or 0) > height
            or (e.height == height and e.block_hash != last.block_hash)
            for e in older
        ):
            return None
        # The block of `last` is the same block, so all its txs of this script are ours:
        # split between the page and `older` (a server that reorders within a block would
        # otherwise hide one beyond the page).
        same_block = {e.txid for e in known if e.block_hash == last.block_hash}
        if not same_block <= listed | {e.txid for e in older}:
            return None
        return older
