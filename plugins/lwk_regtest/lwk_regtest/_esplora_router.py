"""The routing of the embedded Esplora server: electrs' `handle_request`, (method, path) ->
the route's name and the handler that answers it."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

from ._esplora_handlers import EsploraHandlers
from ._esplora_query import ChainView
from ._esplora_reply import Reply

__all__ = ["Handler", "Router"]

Handler = Callable[[str | None], Reply]


class Router:
    """electrs' `handle_request`: (method, path) -> route name and the handler of the route."""

    def __init__(self, chain: ChainView) -> None:
        self._h = EsploraHandlers(chain)

    def match(self, method: str, path: str, params: str, body: bytes) -> tuple[str, Handler]:
        # electrs looks at the first five path segments only; "" is a segment, None is absent.
        segments: list[str | None] = [*path.split("/")[1:6]]
        s0, s1, s2, s3, s4 = segments + [None] * (5 - len(segments))
        if method == "POST" and (s0, s1) == ("tx", None):
            return "POST /tx", lambda fault: self._h.broadcast(body)
        if method == "GET" and (s0, s1) == ("broadcast", None):
            tx_hex = urllib.parse.parse_qs(params).get("tx")
            return "GET /broadcast", lambda fault: self._h.broadcast_query(tx_hex)
        if method == "GET" and s0 is not None:
            found = self._match_get(s0, s1, s2, s3, s4)
            if found is not None:
                return found
        return "unknown", lambda fault: self._h.not_found(path)

    def _match_get(
        self, s0: str, s1: str | None, s2: str | None, s3: str | None, s4: str | None
    ) -> tuple[str, Handler] | None:
        if s0 == "blocks" and s1 == "tip" and s2 in ("hash", "height") and s3 is None:
            if s2 == "hash":
                return "GET /blocks/tip/hash", self._h.tip_hash
            return "GET /blocks/tip/height", self._h.tip_height
        if s0 == "mempool" and s1 == "txids" and s2 is None:
            return "GET /mempool/txids", self._h.mempool_txids
        if s1 is None:
            return None
        if s0 == "block-height" and s2 is None:
            return "GET /block-height/:height", lambda fault: self._h.block_at(s1, fault)
        if s0 == "block" and s4 is None:
            return self._match_block(s1, s2, s3)
        if s0 in ("address", "scripthash"):
            return self._match_script(s0, s1, s2, s3, s4)
        if s0 == "tx" and s4 is None:
            return self._match_tx(s1, s2, s3)
        return None

    def _match_block(
        self, block: str, s2: str | None, s3: str | None
    ) -> tuple[str, Handler] | None:
        if s2 is None:
            return "GET /block/:hash", lambda fault: self._h.block(block)
        if s2 == "txid" and s3 is not None:
            return "GET /block/:hash/txid/:index", lambda fault: self._h.block_txid(block, s3)
        if s3 is not None:
            return None
        if s2 == "status":
            return "GET /block/:hash/status", lambda fault: self._h.block_status(block)
        if s2 == "txids":
            return "GET /block/:hash/txids", lambda fault: self._h.block_txids(block)
        if s2 == "header":
            return "GET /block/:hash/header", lambda fault: self._h.block_header(block, fault)
        return None

    def _match_script(
        self, kind: str, script: str, s2: str | None, s3: str | None, s4: str | None
    ) -> tuple[str, Handler] | None:
        prefix = f"GET /{kind}/:{kind}"
        if s2 is None:
            return prefix, lambda fault: self._h.script_stats(kind, script)
        if s2 == "txs" and s3 == "chain":
            if s4 is None:
                return f"{prefix}/txs/chain", lambda fault: self._h.script_chain(kind, script, None)
            name = f"{prefix}/txs/chain/:last_seen"
            return name, lambda fault: self._h.script_chain(kind, script, s4)
        if s4 is not None:
            return None
        if s2 == "txs" and s3 is None:
            return f"{prefix}/txs", lambda fault: self._h.script_txs(kind, script)
        if s2 == "txs" and s3 == "mempool":
            return f"{prefix}/txs/mempool", lambda fault: self._h.script_mempool(kind, script)
        if s2 == "utxo" and s3 is None:
            return f"{prefix}/utxo", lambda fault: self._h.script_utxo(kind, script)
        return None

    def _match_tx(self, txid: str, s2: str | None, s3: str | None) -> tuple[str, Handler] | None:
        if s2 is None:
            return "GET /tx/:txid", lambda fault: self._h.tx(txid)
        if s2 == "outspend" and s3 is not None:
            return "GET /tx/:txid/outspend/:vout", lambda fault: self._h.outspend(txid, s3)
        if s3 is not None:
            return None
        if s2 in ("raw", "hex"):
            return f"GET /tx/:txid/{s2}", lambda fault: self._h.tx_bytes(txid, s2 == "raw", fault)
        if s2 == "status":
            return "GET /tx/:txid/status", lambda fault: self._h.tx_status(txid)
        if s2 == "merkle-proof":
            return "GET /tx/:txid/merkle-proof", lambda fault: self._h.merkle_proof(txid)
        if s2 == "outspends":
            return "GET /tx/:txid/outspends", lambda fault: self._h.outspends(txid)
        return None
