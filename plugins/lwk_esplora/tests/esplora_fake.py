"""An in-process Esplora (httpx.MockTransport) with electrs' paging rules, for unit tests.

It serves real Liquid testnet transactions (the shared fixture) under histories the test
chooses, real Elements headers (signed by the embedded chain's signers, which the test
environment trusts), and lets a test intercept any request (`intercept`) to
answer faults. Every request is recorded with its arrival time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from lwk_regtest import DEFAULT_SIGNERS
from shared_data import load_fixture

from lwk_core._header import BlockHeader
from lwk_core._transaction import Transaction

PAGE = 25  # electrs CHAIN_TXS_PER_PAGE
MEMPOOL = 50  # electrs MAX_MEMPOOL_TXS


def fixture_txs() -> dict[str, bytes]:
    """txid -> raw bytes of the 64 real testnet transactions."""
    data = load_fixture("liquid-testnet-wallet.json")
    return {txid: bytes.fromhex(t["hex"]) for txid, t in data["transactions"].items()}


def signed_header(prev: str, merkle: str, time: int, height: int) -> BlockHeader:
    """A header (prev and merkle in display hex) signed by the embedded chain's signers."""
    internal = [bytes.fromhex(h)[::-1] for h in (prev, merkle)]
    return BlockHeader.parse(DEFAULT_SIGNERS.header(*internal, time, height))


def scripthash(spk: bytes) -> str:
    return hashlib.sha256(spk).hexdigest()


class FakeEsplora:
    """Scripts' histories: spk -> list of (txid, height or None), oldest first."""

    def __init__(self, *, blocks: int = 10, latency: float = 0.0) -> None:
        self.latency = latency
        self.raw: dict[str, bytes] = fixture_txs()
        self.histories: dict[bytes, list[tuple[str, int | None]]] = {}
        self.mempool_order: list[str] = []  # /mempool/txids
        # A chain whose histories tests edit at will is no chain a client can follow
        # (lwk_esplora._fresh): by default /mempool/txids answers 404, so the client pages
        # every script of every scan, which is what these tests look at.
        self.lists_mempool = False
        self.tx_scripts: dict[str, set[bytes]] = {}  # for /tx/:txid JSON
        self.headers: list[BlockHeader] = []
        prev = "00" * 32
        for height in range(blocks):
            header = signed_header(prev, "11" * 32, 1_700_000_000 + 60 * height, height)
            self.headers.append(header)
            prev = header.block_hash
        self.requests: list[tuple[float, str, str]] = []  # (monotonic, method, path)
        self.intercept: Callable[[httpx.Request], httpx.Response | None] | None = None
        self.broadcasts: list[bytes] = []
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    # -- building histories ------------------------------------------------------------

    def add(self, spk: bytes, txid: str, height: int | None) -> None:
        self.histories.setdefault(spk, []).append((txid, height))
        self.tx_scripts.setdefault(txid, set()).add(spk)
        if height is None and txid not in self.mempool_order:
            self.mempool_order.append(txid)

    def mine(self) -> None:
        """One more block on the tip."""
        last = self.headers[-1]
        time_ = last.time + 60
        self.headers.append(signed_header(last.block_hash, "11" * 32, time_, last.height + 1))

    def reorg(self, height: int) -> None:
        """Replace the blocks from `height` up (same heights, other hashes)."""
        for h in range(height, len(self.headers)):
            prev = self.headers[h - 1].block_hash
            time_ = self.headers[h].time + 1
            self.headers[h] = signed_header(prev, "22" * 32, time_, h)

    def remove(self, spk: bytes, txid: str) -> None:
        self.histories[spk] = [t for t in self.histories[spk] if t[0] != txid]

    def fake_txid(self, n: int) -> str:
        return hashlib.sha256(b"fake%d" % n).hexdigest()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def paths(self, method: str = "GET") -> list[str]:
        return [p for _, m, p in self.requests if m == method]

    def script_paths(self) -> list[str]:
        """The requests for script histories (`/scripthash/...`)."""
        return [p for p in self.paths() if "/scripthash/" in p]

    # -- serving -----------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append((time.monotonic(), request.method, request.url.path))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            if self.intercept is not None:
                answer = self.intercept(request)
                if answer is not None:
                    return answer
            return self._route(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _status(self, height: int | None) -> dict[str, Any]:
        if height is None:
            return {"confirmed": False}
        header = self.headers[height]
        return {
            "confirmed": True,
            "block_height": height,
            "block_hash": header.block_hash,
            "block_time": header.time,
        }

    def _tx_json(self, txid: str, height: int | None) -> dict[str, Any]:
        spks = sorted(self.tx_scripts.get(txid, set()))
        return {
            "txid": txid,
            "status": self._status(height),
            "vin": [{"txid": "00" * 32, "vout": 0, "prevout": None}],
            "vout": [{"scriptpubkey": s.hex(), "value": 1} for s in spks],
        }

    def _history(self, sh: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(mempool newest first, confirmed newest first) as tx JSON."""
        for spk, hist in self.histories.items():
            if scripthash(spk) == sh:
                mempool = [self._tx_json(t, h) for t, h in reversed(hist) if h is None]
                chain = [t for t in reversed(hist) if t[1] is not None]
                chain.sort(key=lambda t: -(t[1] or 0))
                return mempool, [self._tx_json(t, h) for t, h in chain]
        return [], []

    def _route(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        if parts and parts[0] == "api":
            parts = parts[1:]
        tip = self.headers[-1]
        match (request.method, parts):
            case ("GET", ["blocks", "tip", "height"]):
                return httpx.Response(200, text=str(tip.height))
            case ("GET", ["blocks", "tip", "hash"]):
                return httpx.Response(200, text=tip.block_hash)
            case ("GET", ["block-height", h]):
                if h.isdigit() and int(h) < len(self.headers):
                    return httpx.Response(200, text=self.headers[int(h)].block_hash)
                return httpx.Response(404, text="Block not found")
            case ("GET", ["block", block_hash, "header"]):
                for header in self.headers:
                    if header.block_hash == block_hash:
                        return httpx.Response(200, text=header.to_hex())
                return httpx.Response(404, text="Block not found")
            case ("GET", ["scripthash", sh, "txs"]):
                mempool, chain = self._history(sh)
                return httpx.Response(200, json=mempool[:MEMPOOL] + chain[:PAGE])
            case ("GET", ["scripthash", sh, "txs", "mempool"]):
                return httpx.Response(200, json=self._history(sh)[0][:MEMPOOL])
            case ("GET", ["scripthash", sh, "txs", "chain", *last]):
                chain = self._history(sh)[1]
                if last:
                    ids = [t["txid"] for t in chain]
                    chain = chain[ids.index(last[0]) + 1 :] if last[0] in ids else []
                return httpx.Response(200, json=chain[:PAGE])
            case ("GET", ["scripthash", sh]):
                mempool, chain = self._history(sh)
                return httpx.Response(
                    200,
                    json={
                        "scripthash": sh,
                        "chain_stats": {"tx_count": len(chain)},
                        "mempool_stats": {"tx_count": len(mempool)},
                    },
                )
            case ("GET", ["mempool", "txids"]) if self.lists_mempool:
                return httpx.Response(200, json=self.mempool_order)
            case ("GET", ["tx", txid, "raw"]):
                if txid in self.raw:
                    return httpx.Response(200, content=self.raw[txid])
                return httpx.Response(404, text="Transaction not found")
            case ("GET", ["tx", txid]):
                if txid in self.tx_scripts:
                    return httpx.Response(200, json=self._tx_json(txid, None))
                return httpx.Response(404, text="Transaction not found")
            case ("POST", ["tx"]):
                raw = bytes.fromhex(request.content.decode())
                tx = Transaction.from_bytes(raw)
                self.broadcasts.append(raw)
                self.raw[tx.txid] = raw
                return httpx.Response(200, text=tx.txid)
        return httpx.Response(404, text=f"endpoint does not exist {request.url.path!r}")
