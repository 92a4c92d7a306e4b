"""What the hooks ask of an Esplora server, in REST requests (Blockstream/esplora's `API.md`,
electrs' `src/rest.rs`).

History per script (`/scripthash/:h`, sha256 of the script NOT reversed):

1. `GET /scripthash/:h/txs`: up to 50 mempool txs then the newest confirmed page (25 on
   electrs). Empty means no history at all: one request for an unused script, where LWK
   spends two (`/txs/mempool` and `/txs/chain`). Most scripts of a gap-limit scan are unused.
2. Confirmed history continues with `/txs/chain/:last_confirmed_txid` (or `/txs/chain`
   when the first page held no confirmed tx) until an EMPTY page: page sizes differ
   between implementations, so a short page proves nothing. A cursor that repeats or a
   page with nothing new is a server ignoring the cursor: BackendProtocolError.
3. Mempool: Esplora lists at most 50 unconfirmed txs per script and cannot page them
   (LWK silently keeps those 50). When 50 are listed we ask `/scripthash/:h` for the
   true count; if more exist, `/mempool/txids` and each other mempool tx's JSON tell which
   ones touch the script (bounded by `_MAX_MEMPOOL_SWEEP`, else a BackendError).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from lwk_core.plugin import (
    BackendConnectError,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    BlockHeader,
    BroadcastRejected,
    DecodeError,
    HistoryEntry,
    Network,
    Tip,
    Transaction,
    esplora_scripthash,
)

from ._http import HttpSession, Reply
from ._parse import (
    Malformed,
    PageEntry,
    is_txid,
    parse_hash,
    parse_hex,
    parse_history_page,
    parse_int,
    parse_json,
    parse_mempool_count,
    parse_txids,
)

__all__ = ["MEMPOOL_CAP", "EsploraBackend"]

log = logging.getLogger("lwk_esplora")

MEMPOOL_CAP = 50  # electrs' MAX_MEMPOOL_TXS: unconfirmed txs listed per script
_MAX_PAGES = 20_000  # confirmed pages per script (500,000 txs at 25/page): a liar's bound
_MAX_MEMPOOL_SWEEP = 2_000  # mempool txs we are willing to inspect one by one
_MAX_CACHED_HEADERS = 10_000  # (height, time) by block hash
_ELECTRS_NOT_FOUND = frozenset({"Block not found", "Transaction not found"})

T = TypeVar("T")


class EsploraBackend:
    """One Esplora server as lwk_core's `Backend` protocol asks for it; thread-safe."""

    def __init__(self, http: HttpSession, network: Network) -> None:
        self.http = http
        self.network = network
        self.name = http.name
        self._lock = threading.Lock()
        # (height, time) of verified headers by block hash: a block hash never changes
        self._headers: dict[str, tuple[int, int]] = {}

    def __repr__(self) -> str:
        return f"<EsploraBackend {self.name}>"

    def close(self) -> None:
        self.http.close()

    # -- request helpers ---------------------------------------------------------------

    def _get(self, path: str, route: str, *, allow_404: bool = False) -> Reply | None:
        reply = self.http.request("GET", path, route=route)
        if reply.status == 200:
            return reply
        if reply.status == 404 and allow_404:
            return None
        message = reply.message()
        wrong_url = reply.status == 404 and message not in _ELECTRS_NOT_FOUND
        hint = " (is the base URL right, e.g. .../liquid/api?)" if wrong_url else ""
        raise BackendProtocolError(
            f"HTTP {reply.status} on GET {route}: {message}{hint}", backend=self.name
        )

    def _fetch(self, path: str, route: str) -> Reply:
        reply = self._get(path, route)
        assert reply is not None
        return reply

    def _parsed(self, path: str, route: str, parse: Callable[[bytes], T]) -> T:
        """GET `path` (200 required) and parse its body; Malformed -> BackendProtocolError."""
        reply = self._fetch(path, route)
        try:
            return parse(reply.body)
        except Malformed as exc:
            raise BackendProtocolError(f"GET {route}: {exc}", backend=self.name) from exc

    def _page(self, path: str, route: str) -> list[PageEntry]:
        return self._parsed(path, route, lambda body: parse_history_page(parse_json(body)))

    # -- tip, headers, timestamps ------------------------------------------------------

    def ping(self) -> None:
        self._parsed("/blocks/tip/height", "blocks/tip/height", parse_int)

    def genesis_hash(self) -> str:
        """The hash of block 0 (`GET /block-height/0`)."""
        return self._parsed("/block-height/0", "block-height/:height", parse_hash)

    def _header(self, block_hash: str) -> BlockHeader:
        route = "block/:hash/header"
        header = self._parsed(f"/block/{block_hash}/header", route, _parse_header)
        if header.block_hash != block_hash:
            raise BackendProtocolError(
                f"GET {route}: header hashes to {header.block_hash}, asked {block_hash}",
                backend=self.name,
            )
        with self._lock:
            if len(self._headers) >= _MAX_CACHED_HEADERS:
                del self._headers[next(iter(self._headers))]  # the oldest
            self._headers[block_hash] = (header.height, header.time)
        return header

    def tip(self, *, min_height: int = 0) -> Tip:
        """Asked afresh every time (`min_height` is for backends that keep a tip)."""
        block_hash = self._parsed("/blocks/tip/hash", "blocks/tip/hash", parse_hash)
        header = self._header(block_hash)
        return Tip(header.height, block_hash, header.time, header.to_bytes())

    def _block_time(self, height: int) -> int:
        block_hash = self._parsed(f"/block-height/{height}", "block-height/:height", parse_hash)
        with self._lock:
            known = self._headers.get(block_hash)
        if known is None:
            header = self._header(block_hash)
            known = (header.height, header.time)
        if known[0] != height:
            raise BackendProtocolError(
                f"the block at height {height} says height {known[0]}", backend=self.name
            )
        return known[1]

    def block_timestamps(self, heights: Sequence[int]) -> dict[int, int]:
        unique = sorted(set(heights))
        return dict(zip(unique, self.http.map(self._block_time, unique), strict=True))

    # -- transactions ------------------------------------------------------------------

    def _raw_tx(self, txid: str) -> bytes:
        if not is_txid(txid):
            raise DecodeError("a txid is 64 hexadecimal characters")
        reply = self._get(f"/tx/{txid.lower()}/raw", "tx/:txid/raw", allow_404=True)
        if reply is None:
            raise BackendProtocolError(f"transaction {txid} not found (404)", backend=self.name)
        return reply.body

    def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        return self.http.map(self._raw_tx, list(txids))

    def _tx_known(self, txid: str) -> bool:
        """Whether the server has the tx (mempool or chain); `/tx/:txid/status` can't tell."""
        return self._get(f"/tx/{txid}/raw", "tx/:txid/raw", allow_404=True) is not None

    def broadcast(self, raw: bytes) -> str:
        """POST /tx; after an ambiguous failure, ask whether the tx arrived before resending."""
        txid = Transaction.from_bytes(raw).txid  # DecodeError before anything is sent
        body = raw.hex().encode("ascii")
        resent = 0
        while True:
            try:
                reply = self.http.request(
                    "POST", "/tx", route="tx (broadcast)", content=body, idempotent=False
                )
            except (BackendTimeout, BackendConnectError) as exc:  # did the server get it?
                if resent >= self.http.max_retries:
                    raise
                if self._tx_known(txid):  # it reached the server before the failure
                    return txid
                resent += 1
                log.info("%s: broadcast failed (%s), sending again", self.name, exc.reason)
                continue
            if reply.status == 200:
                return self._answered_txid(reply)
            if reply.status == 400:
                if resent and self._tx_known(txid):  # our earlier attempt got through
                    return txid
                raise BroadcastRejected(reply.message(elide=False), backend=self.name)
            raise BackendProtocolError(
                f"HTTP {reply.status} on POST tx: {reply.message()}", backend=self.name
            )

    def _answered_txid(self, reply: Reply) -> str:
        """The txid a POST /tx answered (core checks it is the transaction's)."""
        try:
            return parse_hash(reply.body)
        except Malformed as exc:
            raise BackendProtocolError(f"POST tx: {exc}", backend=self.name) from exc

    # -- script histories --------------------------------------------------------------

    def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        spks = [bytes(s) for s in scripts]
        hashes = [esplora_scripthash(s) for s in spks]
        histories = self.http.map(self._history, hashes)
        full = [i for i, entries in enumerate(histories) if _unconfirmed(entries) >= MEMPOOL_CAP]
        if full:
            self._complete_mempools(
                [spks[i] for i in full], [hashes[i] for i in full], [histories[i] for i in full]
            )
        return [_ordered(entries) for entries in histories]

    def _history(self, scripthash: str) -> list[PageEntry]:
        """All confirmed txs of a script and the (at most 50) unconfirmed ones listed."""
        base = f"/scripthash/{scripthash}/txs"
        first = self._page(base, "scripthash/:h/txs")
        if not first:
            return []
        mempool = [e for e in first if e.height is None]
        chain = [e for e in first if e.height is not None]
        seen = {e.txid for e in chain}
        cursor = chain[-1].txid if chain else None
        for _ in range(_MAX_PAGES):
            path = f"{base}/chain/{cursor}" if cursor else f"{base}/chain"
            page = self._page(path, "scripthash/:h/txs/chain/:last")
            if not page:
                break
            new = [e for e in page if e.txid not in seen]
            if not new or any(e.height is None for e in page):
                raise BackendProtocolError(
                    "confirmed history paging did not advance (is :last_seen_txid ignored?)",
                    backend=self.name,
                )
            chain.extend(new)
            seen.update(e.txid for e in new)
            cursor = page[-1].txid
        else:
            raise BackendProtocolError("confirmed history never ends", backend=self.name)
        # A tx confirmed between two requests may appear twice: keep its confirmed entry.
        return chain + [e for e in mempool if e.txid not in seen]

    def _complete_mempools(
        self, scripts: list[bytes], hashes: list[str], histories: list[list[PageEntry]]
    ) -> None:
        """Add the unconfirmed txs Esplora did not list to `histories` (in place)."""
        counts = self.http.map(
            lambda h: self._parsed(
                f"/scripthash/{h}", "scripthash/:h", lambda b: parse_mempool_count(parse_json(b))
            ),
            hashes,
        )
        todo = [i for i, n in enumerate(counts) if n > _unconfirmed(histories[i])]
        if not todo:
            return
        log.info("%s: %d script(s) have over %d unconfirmed txs", self.name, len(todo), MEMPOOL_CAP)
        reply = self._get("/mempool/txids", "mempool/txids", allow_404=True)
        if reply is None:
            raise BackendError(
                f"a script has over {MEMPOOL_CAP} unconfirmed txs, which Esplora cannot list, "
                "and the server does not serve /mempool/txids: use an Electrum backend",
                backend=self.name,
            )
        try:
            mempool = parse_txids(parse_json(reply.body))
        except Malformed as exc:
            raise BackendProtocolError(f"GET mempool/txids: {exc}", backend=self.name) from exc
        listed = [{e.txid for e in histories[i]} for i in todo]
        candidates = [t for t in mempool if not all(t in ids for ids in listed)]
        if len(candidates) > _MAX_MEMPOOL_SWEEP:
            raise BackendError(
                f"a script has over {MEMPOOL_CAP} unconfirmed txs and {len(candidates)} mempool "
                "txs would have to be inspected: use an Electrum backend",
                backend=self.name,
            )
        wanted = {scripts[i].hex(): i for i in todo}
        for touched in self.http.map(lambda t: self._touches(t, wanted), candidates):
            for i, entry in touched:
                if all(e.txid != entry.txid for e in histories[i]):
                    histories[i].append(entry)

    def _touches(self, txid: str, wanted: dict[str, int]) -> list[tuple[int, PageEntry]]:
        """(index, entry) for each `wanted` script (hex -> index) tx `txid` pays or spends."""
        reply = self._get(f"/tx/{txid}", "tx/:txid", allow_404=True)
        if reply is None:  # left the mempool since /mempool/txids
            return []
        try:
            data = parse_json(reply.body)
            entry = parse_history_page([data])[0]
            scripts = _tx_scripts(data)
        except Malformed as exc:
            raise BackendProtocolError(f"GET tx/:txid: {exc}", backend=self.name) from exc
        return [(wanted[s], entry) for s in scripts if s in wanted]


def _parse_header(body: bytes) -> BlockHeader:
    try:
        return BlockHeader.parse(parse_hex(body))
    except DecodeError as exc:
        raise Malformed(f"not an Elements header: {exc}") from exc


def _unconfirmed(entries: list[PageEntry]) -> int:
    return sum(e.height is None for e in entries)


def _tx_scripts(data: Any) -> set[str]:
    """Output scripts and spent prevout scripts (hex) of a tx JSON."""
    try:
        outs = [o["scriptpubkey"] for o in data["vout"]]
        spent = [i["prevout"]["scriptpubkey"] for i in data["vin"] if i.get("prevout")]
    except (KeyError, TypeError, AttributeError):
        raise Malformed("transaction JSON lacks vout/vin scripts") from None
    if not all(isinstance(s, str) for s in outs + spent):
        raise Malformed("transaction JSON scripts are not strings")
    return {s.lower() for s in outs + spent}


def _ordered(entries: list[PageEntry]) -> list[HistoryEntry]:
    """Electrum's order: confirmed by ascending height, then unconfirmed, oldest first.

    Esplora pages are newest first, so reversing them gives oldest first within a height.
    """
    confirmed = [e for e in reversed(entries) if e.height is not None]
    confirmed.sort(key=lambda e: e.height or 0)
    unconfirmed = [e for e in reversed(entries) if e.height is None]
    return [e.entry() for e in confirmed + unconfirmed]
