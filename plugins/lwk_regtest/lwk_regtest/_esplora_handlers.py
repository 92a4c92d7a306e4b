"""The answers of the embedded Esplora server's routes, as electrs' `rest.rs` gives them
(status codes, error texts, cache lifetimes), and the faults that change an answer's content
(wrong_tx, lying_tip)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Final

from lwk_core import BlockHeader, DecodeError, Transaction
from lwk_core.primitives import address_to_script

from ._chain import RegtestRejected
from ._esplora_json import Json
from ._esplora_query import ChainView, EsploraQuery
from ._esplora_reply import HttpError, Reply, cache_control, json_reply, text_reply

__all__ = ["LYING_TIP_OFFSET", "EsploraHandlers"]

LYING_TIP_OFFSET: Final = 1000
_TTL_LONG: Final = 157_784_630
_TTL_SHORT: Final = 10
_CONF_FINAL: Final = 10
_HEX64: Final = re.compile(r"[0-9a-fA-F]{64}")
_HEX: Final = re.compile(r"(?:[0-9a-fA-F]{2})*")
_NUMBER: Final = re.compile(r"\+?[0-9]+")  # Rust's usize/u32 parse accepts a leading +
_DECODE_FAILED: Final = (
    "sendrawtransaction RPC error -22: TX decode failed. Make sure the tx has at least one input."
)


def hash_arg(value: str) -> str:
    """A txid or block hash path segment (electrs: 400 "Invalid hex string")."""
    if not _HEX64.fullmatch(value):
        raise HttpError(400, "Invalid hex string")
    return value.lower()


def number_arg(value: str, limit: int = 2**64) -> int:
    if not _NUMBER.fullmatch(value) or int(value) >= limit:
        raise HttpError(400, "Invalid number")
    return int(value)


class EsploraHandlers:
    """One method per route: the route's arguments (and the request's fault) -> its Reply;
    an error answer is raised as HttpError."""

    def __init__(self, chain: ChainView) -> None:
        self._chain = chain
        self._query = EsploraQuery(chain)

    # helpers

    def _ttl(self, height: int | None) -> int:
        """Long caching only for data buried under 10 confirmations, as electrs does."""
        if height is not None and self._chain.tip_height() - height >= _CONF_FINAL:
            return _TTL_LONG
        return _TTL_SHORT

    def _lie(self) -> BlockHeader:
        """A made-up block LYING_TIP_OFFSET blocks above the real tip."""
        tip = self._chain.tip_height()
        return BlockHeader.legacy(
            prev_hash=self._chain.tip_hash(),
            merkle_root="00" * 32,
            time=self._chain.block_time(tip),
            height=tip + LYING_TIP_OFFSET,
        )

    def not_found(self, path: str) -> Reply:
        raise HttpError(404, f"endpoint does not exist {json.dumps(path)}")

    def _height_of(self, block: str) -> int:
        height = self._chain.block_height(hash_arg(block))
        if height is None:
            raise HttpError(404, "Block not found")
        return height

    # blocks

    def tip_hash(self, fault: str | None) -> Reply:
        if fault == "lying_tip":
            return text_reply(self._lie().block_hash, _TTL_SHORT)
        return text_reply(self._chain.tip_hash(), _TTL_SHORT)

    def tip_height(self, fault: str | None) -> Reply:
        lie = LYING_TIP_OFFSET if fault == "lying_tip" else 0
        return text_reply(str(self._chain.tip_height() + lie), _TTL_SHORT)

    def block_at(self, height_arg: str, fault: str | None) -> Reply:
        height = number_arg(height_arg)
        if fault == "lying_tip" and height == self._chain.tip_height() + LYING_TIP_OFFSET:
            return text_reply(self._lie().block_hash, _TTL_SHORT)
        # block 0: the chain the server declares (see RegtestChain)
        block = self._chain.genesis_hash if height == 0 else self._chain.block_hash(height)
        if block is None:
            raise HttpError(404, "Block not found")
        return text_reply(block, self._ttl(height))

    def block(self, block: str) -> Reply:
        value = self._query.block_json(hash_arg(block))
        if value is None:
            raise HttpError(404, "Block not found")
        return json_reply(value, _TTL_LONG)

    def block_status(self, block: str) -> Reply:
        status = self._query.block_status(hash_arg(block))
        return json_reply(status, self._ttl(status.get("height")))

    def block_txids(self, block: str) -> Reply:
        return json_reply(self._chain.block_txids(self._height_of(block)), _TTL_LONG)

    def mempool_txids(self, fault: str | None) -> Reply:
        return json_reply(self._chain.mempool_txids(), _TTL_SHORT)

    def block_txid(self, block: str, index_arg: str) -> Reply:
        height = self._height_of(block)
        index = number_arg(index_arg)
        txids = self._chain.block_txids(height)
        if index >= len(txids):
            raise HttpError(404, "tx index out of range")
        return text_reply(txids[index], _TTL_LONG)

    def block_header(self, block: str, fault: str | None) -> Reply:
        if fault == "lying_tip":
            fake = self._lie()
            if block.lower() == fake.block_hash:
                return text_reply(fake.to_hex(), _TTL_SHORT)
        return text_reply(self._chain.header(self._height_of(block)).hex(), _TTL_LONG)

    # scripts

    def _script(self, kind: str, script: str) -> bytes | None:
        """The script a path names; None for a script hash the chain has never seen."""
        if kind == "address":
            try:
                decoded = address_to_script(script)
            except DecodeError as exc:
                raise HttpError(400, str(exc)) from exc
            if decoded.network is not self._chain.network:
                raise HttpError(400, "Address on invalid network")
            return decoded.script_pubkey
        if not _HEX64.fullmatch(script):
            raise HttpError(400, "Invalid scripthash")
        return self._query.script_for_scripthash(bytes.fromhex(script))

    def script_stats(self, kind: str, script: str) -> Reply:
        spk = self._script(kind, script)
        if spk is None:
            chain_stats = mempool_stats = {
                "tx_count": 0,
                "funded_txo_count": 0,
                "spent_txo_count": 0,
            }
        else:
            chain_stats, mempool_stats = self._query.stats(spk)
        value = {kind: script, "chain_stats": chain_stats, "mempool_stats": mempool_stats}
        return json_reply(value, _TTL_SHORT)

    def _script_list(self, kind: str, script: str, pick: Callable[[bytes], list[Json]]) -> Reply:
        spk = self._script(kind, script)
        return json_reply([] if spk is None else pick(spk), _TTL_SHORT)

    def script_txs(self, kind: str, script: str) -> Reply:
        return self._script_list(kind, script, self._query.txs)

    def script_chain(self, kind: str, script: str, last_seen: str | None) -> Reply:
        # An unparseable cursor is ignored (first page); a valid unknown one ends the paging.
        cursor = last_seen.lower() if last_seen and _HEX64.fullmatch(last_seen) else None
        return self._script_list(kind, script, lambda spk: self._query.chain_txs(spk, cursor))

    def script_mempool(self, kind: str, script: str) -> Reply:
        return self._script_list(kind, script, self._query.mempool_txs)

    def script_utxo(self, kind: str, script: str) -> Reply:
        return self._script_list(kind, script, self._query.utxos)

    # transactions

    def tx(self, txid_arg: str) -> Reply:
        txid = hash_arg(txid_arg)
        value = self._query.tx_json(txid)
        if value is None:
            raise HttpError(404, "Transaction not found")
        return json_reply(value, self._ttl(self._chain.tx_height(txid)))

    def tx_bytes(self, txid_arg: str, raw: bool, fault: str | None) -> Reply:
        txid = hash_arg(txid_arg)
        data = self._chain.tx_raw(txid)
        if data is None:
            raise HttpError(404, "Transaction not found")
        if fault == "wrong_tx":
            data = self._query.other_tx(txid) or data
        cache = cache_control(self._ttl(self._chain.tx_height(txid)))
        if raw:
            return Reply(200, data, "application/octet-stream", cache)
        return Reply(200, data.hex().encode(), "text/plain", cache)

    def tx_status(self, txid_arg: str) -> Reply:
        txid = hash_arg(txid_arg)
        return json_reply(self._query.tx_status(txid), self._ttl(self._chain.tx_height(txid)))

    def merkle_proof(self, txid_arg: str) -> Reply:
        txid = hash_arg(txid_arg)
        if self._chain.tx_height(txid) is None:
            raise HttpError(404, "Transaction not found or is unconfirmed")
        height, branch, pos = self._chain.merkle_proof(txid)
        return json_reply({"block_height": height, "merkle": branch, "pos": pos}, self._ttl(height))

    def outspends(self, txid_arg: str) -> Reply:
        spends = self._query.outspends(hash_arg(txid_arg))
        if spends is None:
            raise HttpError(404, "Transaction not found")
        return json_reply(spends, _TTL_SHORT)

    def outspend(self, txid_arg: str, vout_arg: str) -> Reply:
        txid = hash_arg(txid_arg)
        spend = self._query.outspend(txid, number_arg(vout_arg, 2**32))
        return json_reply(spend, self._ttl(spend.get("status", {}).get("block_height")))

    def broadcast_query(self, tx_hex: list[str] | None) -> Reply:
        if not tx_hex:
            raise HttpError(400, "Missing tx")
        return self.broadcast(tx_hex[0].encode())

    def broadcast(self, body: bytes) -> Reply:
        try:
            tx_hex = body.decode()
        except UnicodeDecodeError as exc:
            raise HttpError(400, f"invalid utf-8 sequence from index {exc.start}") from exc
        if not _HEX.fullmatch(tx_hex):
            raise HttpError(400, _DECODE_FAILED)
        raw = bytes.fromhex(tx_hex)
        try:
            Transaction.from_bytes(raw)  # elementsd's decode error text, before any policy
            txid = self._chain.broadcast(raw)
        except DecodeError as exc:
            raise HttpError(400, _DECODE_FAILED) from exc
        except RegtestRejected as exc:
            message = f"sendrawtransaction RPC error {exc.code}: {exc.reason}"
            raise HttpError(400, message) from exc
        return Reply(200, txid.encode(), "text/plain", cache_control(0))
