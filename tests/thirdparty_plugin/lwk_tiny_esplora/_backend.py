"""The Backend of lwk_core.plugin over an Esplora REST server (Blockstream/esplora's
`API.md`), one request at a time. Histories as LWK asks for them: a script's mempool list
(`/scripthash/:h/txs/mempool`), then its confirmed pages (`/txs/chain[/:last_seen_txid]`)
until an empty one."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from lwk_core.plugin import (
    BackendError,
    BackendProtocolError,
    BlockHeader,
    BroadcastRejected,
    DecodeError,
    HistoryEntry,
    MerkleProof,
    RateLimited,
    Tip,
    esplora_scripthash,
    parse_merkle_proof,
)

from ._http import HttpLink, Reply

__all__ = ["MEMPOOL_LISTED", "TinyEsploraBackend"]

MEMPOOL_LISTED = 50  # Esplora lists at most 50 unconfirmed txs of a script, unpaged
_MAX_PAGES = 10_000  # confirmed pages of one script: a bound on a server that never ends
_HASH = re.compile(r"[0-9a-f]{64}")
_ARGUMENT = re.compile(r"/([0-9a-f]{64}|[0-9]+)(?=/|$)")


class TinyEsploraBackend:
    """One Esplora server; building it does no I/O."""

    def __init__(self, link: HttpLink) -> None:
        self.link = link
        self.name = link.name

    def __repr__(self) -> str:
        return f"<TinyEsploraBackend {self.name}>"

    def _malformed(self, what: str) -> BackendProtocolError:
        return BackendProtocolError(what, backend=self.name)

    def _ok(self, reply: Reply, request: str) -> bytes:
        """The body of a 200 answer; another status is a BackendError naming `request`."""
        if reply.status == 200:
            return reply.body
        message = f"HTTP {reply.status} on {request}: {reply.text()}"
        if reply.status in (429, 503):  # Esplora's way of saying "slow down"
            raise RateLimited(message, backend=self.name)
        raise self._malformed(message)

    def _get(self, path: str) -> bytes:
        return self._ok(self.link.request("GET", path), f"GET {_route(path)}")

    def _hash(self, path: str) -> str:
        text = self._get(path).decode("ascii", "replace").strip()
        if not _HASH.fullmatch(text):
            raise self._malformed(f"GET {_route(path)}: not a block or transaction hash")
        return text

    def _json(self, path: str) -> Any:
        try:
            return json.loads(self._get(path))
        except (ValueError, RecursionError):
            raise self._malformed(f"GET {_route(path)}: not JSON") from None

    # -- blocks ------------------------------------------------------------------------

    def ping(self) -> None:
        if not self._get("/blocks/tip/height").strip().isdigit():
            raise self._malformed("GET blocks/tip/height: not a height")

    def _header(self, block_hash: str) -> BlockHeader:
        body = self._get(f"/block/{block_hash}/header")
        try:
            return BlockHeader.parse(bytes.fromhex(body.decode("ascii").strip()))
        except (ValueError, DecodeError):  # UnicodeDecodeError is a ValueError
            raise self._malformed("GET block/:hash/header: not an Elements header") from None

    def genesis_hash(self) -> str:
        """Which chain the server serves: the hash of its block 0."""
        return self._hash("/block-height/0")

    def tip(self, *, min_height: int = 0) -> Tip:
        """Asked afresh every time; core checks the header is the block's."""
        block_hash = self._hash("/blocks/tip/hash")
        header = self._header(block_hash)
        return Tip(header.height, block_hash, header.time, header.to_bytes())

    def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        """The raw header at each height; core checks its height (and signatures)."""
        headers: dict[int, bytes] = {}
        for height in sorted(set(heights)):
            block_hash = self._hash(f"/block-height/{height}")
            header = self._header(block_hash)
            if header.block_hash != block_hash:
                raise self._malformed(f"the header given for height {height} is another block's")
            headers[height] = header.to_bytes()
        return headers

    def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        """SPV: `/tx/:txid/merkle-proof` of each (txid, height); core checks each."""
        proofs = []
        for txid, _ in confirmed:
            if not _HASH.fullmatch(txid):
                raise DecodeError("a txid is 64 lowercase hexadecimal characters")
            try:
                proofs.append(parse_merkle_proof(self._json(f"/tx/{txid}/merkle-proof")))
            except DecodeError as exc:
                raise self._malformed(f"GET tx/:txid/merkle-proof: {exc}") from None
        return proofs

    # -- transactions ------------------------------------------------------------------

    def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        raws = []
        for txid in txids:
            if not _HASH.fullmatch(txid):
                raise DecodeError("a txid is 64 lowercase hexadecimal characters")
            raws.append(self._get(f"/tx/{txid}/raw"))
        return raws

    def broadcast(self, tx: bytes) -> str:
        reply = self.link.request("POST", "/tx", tx.hex().encode("ascii"))
        if reply.status == 400:  # electrs: the node refused the transaction, with its reason
            raise BroadcastRejected(reply.text() or "refused", backend=self.name)
        txid = self._ok(reply, "POST tx").decode("ascii", "replace").strip()
        if not _HASH.fullmatch(txid):
            raise self._malformed("POST tx: the answer is not a txid")
        return txid

    # -- histories ---------------------------------------------------------------------

    def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        return [self._history(esplora_scripthash(bytes(script))) for script in scripts]

    def _history(self, scripthash: str) -> list[HistoryEntry]:
        """Confirmed entries by ascending height, then unconfirmed ones, oldest first. The
        mempool is read first: a tx confirming meanwhile then shows in both lists."""
        base = f"/scripthash/{scripthash}"
        mempool = self._entries(f"{base}/txs/mempool")
        if len(mempool) >= MEMPOOL_LISTED:
            self._check_mempool_complete(base, len(mempool))
        confirmed: list[HistoryEntry] = []
        seen: set[str] = set()
        cursor = ""
        for _ in range(_MAX_PAGES):
            page = self._entries(f"{base}/txs/chain{cursor}")
            if not page:
                break
            if any(e.height is None or e.txid in seen for e in page):
                raise self._malformed("a confirmed page repeats txs or lists unconfirmed ones")
            confirmed += page
            seen.update(e.txid for e in page)
            cursor = f"/{page[-1].txid}"
        else:
            raise self._malformed("the confirmed history never ends")
        newest_first = confirmed + [e for e in mempool if e.txid not in seen]
        return sorted(reversed(newest_first), key=lambda e: 2**32 if e.height is None else e.height)

    def _check_mempool_complete(self, base: str, listed: int) -> None:
        stats = self._json(base)
        try:
            count = stats["mempool_stats"]["tx_count"]
        except (KeyError, TypeError):
            raise self._malformed("GET scripthash/:h: no mempool_stats.tx_count") from None
        if not isinstance(count, int):
            raise self._malformed("GET scripthash/:h: mempool_stats.tx_count is not a number")
        if count > listed:
            raise BackendError(
                f"a script has {count} unconfirmed txs; Esplora lists only {listed}",
                backend=self.name,
            )

    def _entries(self, path: str) -> list[HistoryEntry]:
        items = self._json(path)
        if not isinstance(items, list):
            raise self._malformed(f"GET {_route(path)}: not a list")
        try:
            return [_entry(item) for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise self._malformed(f"GET {_route(path)}: bad history item ({exc})") from None

    def close(self) -> None:
        self.link.close()


def _entry(item: Any) -> HistoryEntry:
    """A history item: {"txid": hex, "status": {"confirmed", "block_height", "block_time"}}."""
    txid, status = item["txid"], item["status"]
    if not isinstance(txid, str) or not _HASH.fullmatch(txid):
        raise ValueError("txid")
    if status["confirmed"] is False:
        return HistoryEntry(txid, None)
    height, time = status["block_height"], status["block_time"]
    if status["confirmed"] is not True or not _positive(height) or not _positive(time):
        raise ValueError("status")
    return HistoryEntry(txid, height, time)


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**32


def _route(path: str) -> str:
    """`path` with its hashes and numbers elided: what an error message may show."""
    return _ARGUMENT.sub(lambda m: "/:hash" if len(m[1]) == 64 else "/:n", path).lstrip("/")
