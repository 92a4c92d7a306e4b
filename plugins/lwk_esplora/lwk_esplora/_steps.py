"""What the hooks ask of an Esplora server, in REST requests (Blockstream/esplora's `API.md`,
electrs' `src/rest.rs`), as steps without I/O.

Each method of `EsploraSteps` returns a generator (`Steps`) that yields what it needs, a
`Send` (one HTTP request, answered by its `Reply`; a transport failure is thrown in) or an
`Each` (several steps run at once, answered by their results in order), and returns the
hook's answer. The blocking and the async backend (`_backend`) run the same steps over
their transport, so paging, checks and the mempool sweep exist once.

History per script (`/scripthash/:h`, sha256 of the script NOT reversed):

1. `GET /scripthash/:h/txs`: up to 50 mempool txs then the newest confirmed page (25 on
   electrs). Empty means no history at all: one request for an unused script, where LWK
   spends two (`/txs/mempool` and `/txs/chain`). Most scripts of a gap-limit scan are unused.
2. Confirmed history continues with `/txs/chain/:last_confirmed_txid` (or `/txs/chain`
   when the first page held no confirmed tx) until an EMPTY page: page sizes differ
   between implementations, so a short page proves nothing. A cursor that repeats or a
   page with nothing new is a server ignoring the cursor: BackendProtocolError. On a
   rescan, a first page ending in a tx already read in the same block needs no more
   pages: the older txs are the ones read before (`_known`).
3. Mempool: Esplora lists at most 50 unconfirmed txs per script and cannot page them
   (LWK silently keeps those 50). When 50 are listed we ask `/scripthash/:h` for the
   true count; if more exist, `/mempool/txids` and each other mempool tx's JSON tell which
   ones touch the script (bounded by `_MAX_MEMPOOL_SWEEP`, else a BackendError).

Before the pages, the chain state (`/blocks/tip/hash`, `/mempool/txids`) is read and the
txs that changed since the last one inspected (`_fresh`): a script none of them touches is
answered from the history kept then, without a request. A rescan with nothing new costs
those two requests however many scripts the wallet has.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar

import attrs

from lwk_core.plugin import (
    BackendConnectError,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    BlockHeader,
    BroadcastRejected,
    DecodeError,
    HistoryEntry,
    MerkleProof,
    Network,
    Tip,
    Transaction,
    esplora_scripthash,
    parse_merkle_proof,
)

from ._fresh import ChainState, FreshHistories
from ._known import KnownHistories
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
from ._response import Reply

__all__ = ["MEMPOOL_CAP", "Each", "EsploraSteps", "Send", "Steps"]

log = logging.getLogger("lwk_esplora")

MEMPOOL_CAP = 50  # electrs' MAX_MEMPOOL_TXS: unconfirmed txs listed per script
_MAX_PAGES = 20_000  # confirmed pages per script (500,000 txs at 25/page): a liar's bound
_MAX_MEMPOOL_SWEEP = 2_000  # mempool txs we are willing to inspect one by one
_MAX_CACHED_HEADERS = 10_000  # headers by block hash
_MAX_NEW_BLOCKS = 10  # blocks a chain state may move by and still be inspected tx by tx
_MAX_CHANGED_TXS = 500  # txs new since the last chain state we are willing to inspect
_MAX_MEMPOOL_STATE = 50_000  # mempool txids a chain state may hold
_MAX_KEPT_RAWS = 1_000  # raw txs read for a chain state's changes, until asked for
_ELECTRS_NOT_FOUND = frozenset({"Block not found", "Transaction not found"})

T = TypeVar("T")


@attrs.frozen
class Send:
    """One HTTP request, retried as the transport's policy allows. Reply: its `Reply`;
    a BackendError when it failed for good (thrown into the steps)."""

    method: str
    path: str = attrs.field(repr=False)  # holds script hashes and txids
    route: str  # the endpoint without its parameters, for logs and errors
    content: bytes | None = attrs.field(default=None, repr=False)
    idempotent: bool = True


@attrs.frozen
class Each:
    """Run `steps` at once (up to the transport's concurrency). Reply: their results, in
    order. The first failure stops the others and is raised (thrown into the steps)."""

    steps: tuple[Steps[Any], ...] = attrs.field(repr=lambda s: f"<{len(s)} steps>")


Steps = Generator["Send | Each", Any, T]


class EsploraSteps:
    """One Esplora server's protocol: the steps of each Backend method; thread-safe."""

    def __init__(self, name: str, network: Network, max_retries: int) -> None:
        self.name = name
        self.network = network
        self.max_retries = max_retries
        self._lock = threading.Lock()
        # headers by their block hash (checked to hash to it): a block hash never changes
        self._headers: dict[str, BlockHeader] = {}
        self._tip: Tip | None = None  # the last tip read, header included
        self._known = KnownHistories()  # confirmed histories read before: one page a rescan
        self._fresh = FreshHistories()  # whole histories as of the last chain state
        self._serves_mempool = True  # False once /mempool/txids answered 404
        self._raws: dict[str, bytes] = {}  # txs read for the changes that touch a script

    # -- request helpers ---------------------------------------------------------------

    def _get(self, path: str, route: str, *, allow_404: bool = False) -> Steps[Reply | None]:
        reply: Reply = yield Send("GET", path, route)
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

    def _fetch(self, path: str, route: str) -> Steps[Reply]:
        reply = yield from self._get(path, route)
        assert reply is not None
        return reply

    def _parsed(self, path: str, route: str, parse: Callable[[bytes], T]) -> Steps[T]:
        """GET `path` (200 required) and parse its body; Malformed -> BackendProtocolError."""
        reply = yield from self._fetch(path, route)
        try:
            return parse(reply.body)
        except Malformed as exc:
            raise BackendProtocolError(f"GET {route}: {exc}", backend=self.name) from exc

    def _page(self, path: str, route: str) -> Steps[list[PageEntry]]:
        return (yield from self._parsed(path, route, _parse_page))

    # -- tip, headers, timestamps ------------------------------------------------------

    def ping(self) -> Steps[None]:
        yield from self._parsed("/blocks/tip/height", "blocks/tip/height", parse_int)

    def genesis_hash(self) -> Steps[str]:
        """The hash of block 0 (`GET /block-height/0`)."""
        return (yield from self._parsed("/block-height/0", "block-height/:height", parse_hash))

    def _found_header(self, block_hash: str, *, allow_404: bool) -> Steps[BlockHeader | None]:
        """The header of `block_hash`, checked to hash to it (and cached); None if the
        server does not know the block and `allow_404`."""
        route = "block/:hash/header"
        reply = yield from self._get(f"/block/{block_hash}/header", route, allow_404=allow_404)
        if reply is None:
            return None
        try:
            header = _parse_header(reply.body)
        except Malformed as exc:
            raise BackendProtocolError(f"GET {route}: {exc}", backend=self.name) from exc
        if header.block_hash != block_hash:
            raise BackendProtocolError(
                f"GET {route}: header hashes to {header.block_hash}, asked {block_hash}",
                backend=self.name,
            )
        with self._lock:
            if len(self._headers) >= _MAX_CACHED_HEADERS:
                del self._headers[next(iter(self._headers))]  # the oldest
            self._headers[block_hash] = header
        return header

    def _known_header(self, block_hash: str) -> Steps[BlockHeader]:
        """The header of `block_hash`, cached or asked."""
        header = yield from self._cached_header(block_hash, allow_404=False)
        assert header is not None
        return header

    def _cached_header(self, block_hash: str, *, allow_404: bool) -> Steps[BlockHeader | None]:
        with self._lock:
            header = self._headers.get(block_hash)
        if header is None:
            header = yield from self._found_header(block_hash, allow_404=allow_404)
        return header

    def tip(self) -> Steps[Tip]:
        """Asked afresh every time (a `min_height` is for backends that keep a tip); the
        header only when the tip's hash changed (a block hash commits to its header)."""
        block_hash = yield from self._tip_hash()
        with self._lock:
            last = self._tip
        if last is not None and last.hash == block_hash:
            return last
        header = yield from self._known_header(block_hash)
        tip = Tip(header.height, block_hash, header.time, header.to_bytes())
        with self._lock:
            self._tip = tip
        return tip

    def _header_at(self, height: int) -> Steps[bytes]:
        """The raw header of the block at `height` (`/block-height/:height`, then its header
        unless cached); core checks its height and signatures."""
        route = "block-height/:height"
        block_hash = yield from self._parsed(f"/block-height/{height}", route, parse_hash)
        header = yield from self._known_header(block_hash)
        return header.to_bytes()

    def block_headers(self, heights: Sequence[int]) -> Steps[dict[int, bytes]]:
        unique = sorted(set(heights))
        headers = yield Each(tuple(self._header_at(h) for h in unique))
        return dict(zip(unique, headers, strict=True))

    def _merkle_proof(self, txid: str, height: int) -> Steps[MerkleProof]:
        route = "tx/:txid/merkle-proof"
        if not is_txid(txid):
            raise DecodeError("a txid is 64 hexadecimal characters")
        data = yield from self._parsed(f"/tx/{txid.lower()}/merkle-proof", route, parse_json)
        try:
            return parse_merkle_proof(data)
        except DecodeError as exc:
            raise BackendProtocolError(f"GET {route}: {exc}", backend=self.name) from exc

    def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> Steps[list[MerkleProof]]:
        """`/tx/:txid/merkle-proof` of each (txid, height), at once; core checks each
        against the header at its height."""
        proofs: list[MerkleProof] = yield Each(
            tuple(self._merkle_proof(t, h) for t, h in confirmed)
        )
        return proofs

    # -- transactions ------------------------------------------------------------------

    def _raw_tx(self, txid: str) -> Steps[bytes]:
        if not is_txid(txid):
            raise DecodeError("a txid is 64 hexadecimal characters")
        with self._lock:
            kept = self._raws.pop(txid.lower(), None)
        if kept is not None:
            return kept
        reply = yield from self._get(f"/tx/{txid.lower()}/raw", "tx/:txid/raw", allow_404=True)
        if reply is None:
            raise BackendProtocolError(f"transaction {txid} not found (404)", backend=self.name)
        return reply.body

    def get_raw_txs(self, txids: Sequence[str]) -> Steps[list[bytes]]:
        raws: list[bytes] = yield Each(tuple(self._raw_tx(t) for t in txids))
        return raws

    def _tx_known(self, txid: str) -> Steps[bool]:
        """Whether the server has the tx (mempool or chain); `/tx/:txid/status` can't tell."""
        reply = yield from self._get(f"/tx/{txid}/raw", "tx/:txid/raw", allow_404=True)
        return reply is not None

    def broadcast(self, raw: bytes) -> Steps[str]:
        """POST /tx; after an ambiguous failure, ask whether the tx arrived before resending."""
        txid = Transaction.from_bytes(raw).txid  # DecodeError before anything is sent
        body = raw.hex().encode("ascii")
        resent = 0
        while True:
            try:
                reply = yield Send("POST", "/tx", "tx (broadcast)", body, idempotent=False)
            except (BackendTimeout, BackendConnectError) as exc:  # did the server get it?
                if resent >= self.max_retries:
                    raise
                if (yield from self._tx_known(txid)):  # it reached the server before the failure
                    return txid
                resent += 1
                log.info("%s: broadcast failed (%s), sending again", self.name, exc.reason)
                continue
            if reply.status == 200:
                return self._answered_txid(reply)
            if reply.status == 400:
                if resent and (yield from self._tx_known(txid)):  # our earlier attempt got through
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

    def scan_scripts(self, scripts: Sequence[bytes]) -> Steps[list[list[HistoryEntry]]]:
        spks = [bytes(s) for s in scripts]
        hashes = [esplora_scripthash(s) for s in spks]
        state = yield from self._chain_state()
        kept = [self._fresh.history(h) if state else None for h in hashes]
        todo = [i for i, history in enumerate(kept) if history is None]
        paged: list[list[PageEntry]] = yield Each(tuple(self._history(hashes[i]) for i in todo))
        full = [n for n, entries in enumerate(paged) if _unconfirmed(entries) >= MEMPOOL_CAP]
        if full:
            yield from self._complete_mempools(
                [spks[todo[n]] for n in full],
                [hashes[todo[n]] for n in full],
                [paged[n] for n in full],
            )
        histories: list[Sequence[PageEntry]] = [history or () for history in kept]
        for i, entries in zip(todo, paged, strict=True):
            histories[i] = entries
            self._fresh.keep(hashes[i], spks[i], entries, state)
        return [_ordered(entries) for entries in histories]

    # -- the chain state (see `_fresh`) ------------------------------------------------

    def receive(self) -> Steps[None]:
        """Read the chain state now, so that `changed_since` tells what changed up to now
        (what lwk_core's monitors do before each round); a failure logs that anything may
        have changed, and is raised."""
        try:
            yield from self._chain_state()
        except BackendError:
            self._fresh.void()
            raise

    def change_mark(self) -> object:
        return self._fresh.mark()

    def changed_since(self, mark: Any) -> set[bytes] | None:
        """The scripts whose history may have changed since `mark` (`_fresh`); None when
        any may have, or when the server does not list its mempool."""
        return self._fresh.changed_since(mark) if self._serves_mempool else None

    def _chain_state(self) -> Steps[ChainState | None]:
        """The state the histories asked now are valid as of, read anew, with the kept
        histories its changes touch dropped. None: keep nothing (the server does not list
        its mempool, or another scan moved the state meanwhile)."""
        if not self._serves_mempool:
            return None
        tip_hash, mempool = yield Each((self._tip_hash(), self._mempool()))
        if mempool is None:
            return None
        header = yield from self._known_header(tip_hash)
        state = ChainState(tip_hash, header.height, mempool)
        old = self._fresh.state  # as of now: another scan may have moved it to `state`
        if state == old:
            return state
        touched = None if old is None else (yield from self._touched(old, header, mempool))
        return state if self._fresh.advance(old, state, touched) else None

    def _tip_hash(self) -> Steps[str]:
        return (yield from self._parsed("/blocks/tip/hash", "blocks/tip/hash", parse_hash))

    def _mempool_listing(self) -> Steps[list[str] | None]:
        """`/mempool/txids`; None when the server does not serve it (404)."""
        reply = yield from self._get("/mempool/txids", "mempool/txids", allow_404=True)
        if reply is None:
            return None
        try:
            return _parse_txid_list(reply.body)
        except Malformed as exc:
            raise BackendProtocolError(f"GET mempool/txids: {exc}", backend=self.name) from exc

    def _mempool(self) -> Steps[frozenset[str] | None]:
        """The mempool's txids; None when the server does not list them or has too many."""
        listed = yield from self._mempool_listing()
        if listed is None:
            log.info("%s: no /mempool/txids, every scan pages every script", self.name)
            self._serves_mempool = False
            return None
        txids = frozenset(listed)
        return txids if len(txids) <= _MAX_MEMPOOL_STATE else None

    def _touched(
        self, old: ChainState, tip: BlockHeader, mempool: frozenset[str]
    ) -> Steps[set[str] | None]:
        """The script hashes whose kept histories the changes from `old` to (`tip`,
        `mempool`) touch; None when they can't be told cheaply (a reorg, many blocks or
        txs): every history is dropped."""
        if tip.height - old.tip_height > _MAX_NEW_BLOCKS:
            return None
        blocks: list[str] = []
        header = tip
        while header.block_hash != old.tip_hash:
            if header.height <= old.tip_height or len(blocks) >= _MAX_NEW_BLOCKS:
                return None  # a reorg (or heights that do not count down: a liar)
            blocks.append(header.block_hash)
            parent = yield from self._cached_header(header.prev_hash, allow_404=True)
            if parent is None:  # a chain the server can't serve from there down
                return None
            header = parent
        in_blocks: list[list[str]] = yield Each(
            tuple(
                self._parsed(f"/block/{b}/txids", "block/:hash/txids", _parse_txid_list)
                for b in blocks
            )
        )
        confirmed = {txid for txids in in_blocks for txid in txids}
        new = sorted((confirmed | mempool) - old.mempool)
        if len(new) > min(_MAX_CHANGED_TXS, len(self._fresh)):
            return None  # paging every kept script again costs fewer requests
        # Gone from the mempool (confirmed or dropped), or newly confirmed: the histories
        # listing them change; a tx new to us changes those it pays or spends.
        touched = self._fresh.owners((old.mempool - mempool) | (confirmed & old.mempool))
        txs: list[Transaction | None] = yield Each(tuple(self._changed_tx(t) for t in new))
        for txid, tx in zip(new, txs, strict=True):
            if tx is None:
                if txid in confirmed:
                    return None  # a block's tx the server can't serve: trust nothing
                continue  # left the mempool since it was listed
            hit = {esplora_scripthash(out.script_pubkey) for out in tx.outputs}
            hit = {h for h in hit if self._fresh.watched(h)}
            hit |= self._fresh.owners(i.prevout.txid for i in tx.inputs if not i.is_coinbase)
            if hit:
                touched |= hit
                self._keep_raw(txid, tx.to_bytes())
        return touched

    def _changed_tx(self, txid: str) -> Steps[Transaction | None]:
        """Tx `txid`, parsed and checked to hash to it; None if the server lost it (404)."""
        reply = yield from self._get(f"/tx/{txid}/raw", "tx/:txid/raw", allow_404=True)
        if reply is None:
            return None
        try:
            return Transaction.from_bytes(reply.body, expected_txid=txid)
        except DecodeError as exc:
            raise BackendProtocolError(f"GET tx/:txid/raw: {exc}", backend=self.name) from exc

    def _keep_raw(self, txid: str, raw: bytes) -> None:
        """Keep a changed tx that touches a script: the scan asks for it next."""
        with self._lock:
            if len(self._raws) >= _MAX_KEPT_RAWS:
                del self._raws[next(iter(self._raws))]
            self._raws[txid] = raw

    def _history(self, scripthash: str) -> Steps[list[PageEntry]]:
        """All confirmed txs of a script and the (at most 50) unconfirmed ones listed."""
        base = f"/scripthash/{scripthash}/txs"
        first = yield from self._page(base, "scripthash/:h/txs")
        if not first:
            self._known.remember(scripthash, ())
            return []
        mempool = [e for e in first if e.height is None]
        chain = [e for e in first if e.height is not None]
        older = self._known.older(scripthash, chain)
        if older is None:
            chain = yield from self._chain_pages(base, chain)
        else:
            chain += older
        self._known.remember(scripthash, chain)
        seen = {e.txid for e in chain}
        # A tx confirmed between two requests may appear twice: keep its confirmed entry.
        return chain + [e for e in mempool if e.txid not in seen]

    def _chain_pages(self, base: str, chain: list[PageEntry]) -> Steps[list[PageEntry]]:
        """`chain` (the first page's confirmed txs) and every later confirmed page."""
        seen = {e.txid for e in chain}
        cursor = chain[-1].txid if chain else None
        for _ in range(_MAX_PAGES):
            path = f"{base}/chain/{cursor}" if cursor else f"{base}/chain"
            page = yield from self._page(path, "scripthash/:h/txs/chain/:last")
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
        return chain

    def _complete_mempools(
        self, scripts: list[bytes], hashes: list[str], histories: list[list[PageEntry]]
    ) -> Steps[None]:
        """Add the unconfirmed txs Esplora did not list to `histories` (in place)."""
        counts: list[int] = yield Each(
            tuple(
                self._parsed(
                    f"/scripthash/{h}",
                    "scripthash/:h",
                    lambda b: parse_mempool_count(parse_json(b)),
                )
                for h in hashes
            )
        )
        todo = [i for i, n in enumerate(counts) if n > _unconfirmed(histories[i])]
        if not todo:
            return
        log.info("%s: %d script(s) have over %d unconfirmed txs", self.name, len(todo), MEMPOOL_CAP)
        mempool = yield from self._mempool_listing()
        if mempool is None:
            raise BackendError(
                f"a script has over {MEMPOOL_CAP} unconfirmed txs, which Esplora cannot list, "
                "and the server does not serve /mempool/txids: use an Electrum backend",
                backend=self.name,
            )
        listed = [{e.txid for e in histories[i]} for i in todo]
        candidates = [t for t in mempool if not all(t in ids for ids in listed)]
        if len(candidates) > _MAX_MEMPOOL_SWEEP:
            raise BackendError(
                f"a script has over {MEMPOOL_CAP} unconfirmed txs and {len(candidates)} mempool "
                "txs would have to be inspected: use an Electrum backend",
                backend=self.name,
            )
        wanted = {scripts[i].hex(): i for i in todo}
        touches = yield Each(tuple(self._touches(t, wanted) for t in candidates))
        for touched in touches:
            for i, entry in touched:
                if all(e.txid != entry.txid for e in histories[i]):
                    histories[i].append(entry)

    def _touches(self, txid: str, wanted: dict[str, int]) -> Steps[list[tuple[int, PageEntry]]]:
        """(index, entry) for each `wanted` script (hex -> index) tx `txid` pays or spends."""
        reply = yield from self._get(f"/tx/{txid}", "tx/:txid", allow_404=True)
        if reply is None:  # left the mempool since /mempool/txids
            return []
        try:
            data = parse_json(reply.body)
            entry = parse_history_page([data])[0]
            scripts = _tx_scripts(data)
        except Malformed as exc:
            raise BackendProtocolError(f"GET tx/:txid: {exc}", backend=self.name) from exc
        return [(wanted[s], entry) for s in scripts if s in wanted]


def _parse_page(body: bytes) -> list[PageEntry]:
    return parse_history_page(parse_json(body))


def _parse_txid_list(body: bytes) -> list[str]:
    return parse_txids(parse_json(body))


def _parse_header(body: bytes) -> BlockHeader:
    try:
        return BlockHeader.parse(parse_hex(body))
    except DecodeError as exc:
        raise Malformed(f"not an Elements header: {exc}") from exc


def _unconfirmed(entries: Sequence[PageEntry]) -> int:
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


def _ordered(entries: Sequence[PageEntry]) -> list[HistoryEntry]:
    """Electrum's order: confirmed by ascending height, then unconfirmed, oldest first.

    Esplora pages are newest first, so reversing them gives oldest first within a height.
    """
    confirmed = [e for e in reversed(entries) if e.height is not None]
    confirmed.sort(key=lambda e: e.height or 0)
    unconfirmed = [e for e in reversed(entries) if e.height is None]
    return [e.entry() for e in confirmed + unconfirmed]
