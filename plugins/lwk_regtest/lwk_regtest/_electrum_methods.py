"""The Electrum methods the embedded server answers, as electrs answers them (its results,
error codes and texts), and the per-connection state they read and change."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from lwk_core.primitives import electrum_status

from ._chain import RegtestChain, RegtestRejected

__all__ = ["MAX_HEADERS", "ElectrumMethods", "RpcError", "Session"]

SERVER_VERSION = "electrs-esplora 0.4.1"
PROTOCOL_VERSION = "1.4"
MAX_HEADERS = 2016


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _invalid(message: str) -> RpcError:
    return RpcError(-32602, message)


def _hash_param(params: list[Any], index: int) -> str:
    if len(params) <= index:
        raise _invalid("missing hash")
    value = params[index]
    if not isinstance(value, str):
        raise _invalid("non-string hash")
    try:
        if len(bytes.fromhex(value)) != 32:
            raise ValueError
    except ValueError:
        raise _invalid("non-hex hash") from None
    return value.lower()


def _int_param(params: list[Any], index: int, name: str, default: int | None = None) -> int:
    if len(params) <= index:
        if default is not None:
            return default
        raise _invalid(f"missing {name}")
    value = params[index]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _invalid(f"non-integer {name}")
    return value


class Session:
    """One client connection: its subscriptions and writer."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.tip: str | None = None  # tip hash last told to a headers subscriber
        self.scripthashes: dict[str, str | None] = {}  # subscribed hash -> last status sent
        self.hung = False
        self.authenticated = False  # a TokenIssuer accepted the connection's first token
        self.task = asyncio.current_task()


class ElectrumMethods:
    """`table` maps each served method to its handler: (session, params) -> result, or
    RpcError. Handlers expect the chain's lock held."""

    def __init__(self, chain: RegtestChain, txs_limit: int) -> None:
        self.chain = chain
        self.txs_limit = txs_limit
        self.table: dict[str, Callable[[Session, list[Any]], object]] = {
            "server.version": lambda s, p: [SERVER_VERSION, PROTOCOL_VERSION],
            "server.ping": lambda s, p: None,
            "server.banner": lambda s, p: f"Welcome to {SERVER_VERSION}",
            "server.features": self._features,
            "server.donation_address": lambda s, p: None,
            "server.peers.subscribe": lambda s, p: [],
            "blockchain.relayfee": lambda s, p: 0.000001,
            "blockchain.estimatefee": self._estimatefee,
            "mempool.get_fee_histogram": lambda s, p: [],
            "blockchain.headers.subscribe": self._headers_subscribe,
            "blockchain.block.header": self._block_header,
            "blockchain.block.headers": self._block_headers,
            "blockchain.scripthash.get_history": self._get_history,
            "blockchain.scripthash.get_mempool": self._get_mempool,
            "blockchain.scripthash.subscribe": self._scripthash_subscribe,
            "blockchain.scripthash.unsubscribe": self._scripthash_unsubscribe,
            "blockchain.transaction.get": self._transaction_get,
            "blockchain.transaction.get_merkle": self._transaction_get_merkle,
            "blockchain.transaction.id_from_pos": self._transaction_id_from_pos,
            "blockchain.transaction.broadcast": self._transaction_broadcast,
        }

    def _estimatefee(self, session: Session, params: list[Any]) -> float:
        _int_param(params, 0, "blocks_count")
        return 0.000001

    def tip(self) -> dict[str, Any]:
        height = self.chain.tip_height()
        return {"hex": self.chain.header(height).hex(), "height": height}

    def _features(self, session: Session, params: list[Any]) -> dict[str, Any]:
        """`server.features` as the Electrum protocol (1.4) defines it."""
        return {
            "genesis_hash": self.chain.genesis_hash,
            "hosts": {},
            "protocol_max": PROTOCOL_VERSION,
            "protocol_min": PROTOCOL_VERSION,
            "pruning": None,
            "server_version": SERVER_VERSION,
            "hash_function": "sha256",
        }

    def _headers_subscribe(self, session: Session, params: list[Any]) -> dict[str, Any]:
        session.tip = self.chain.tip_hash()
        return self.tip()

    def _block_header(self, session: Session, params: list[Any]) -> str:
        height = _int_param(params, 0, "height")
        if _int_param(params, 1, "cp_height", 0):
            raise RpcError(-32603, "checkpoint proofs are not supported")
        if height > self.chain.tip_height():
            raise RpcError(-32603, "missing header")
        return self.chain.header(height).hex()

    def _block_headers(self, session: Session, params: list[Any]) -> dict[str, Any]:
        start = _int_param(params, 0, "start_height")
        count = min(MAX_HEADERS, _int_param(params, 1, "count"))
        if _int_param(params, 2, "cp_height", 0) and count:
            raise RpcError(-32603, "checkpoint proofs are not supported")
        end = min(start + count, self.chain.tip_height() + 1)
        headers = [self.chain.header(h).hex() for h in range(start, end)]
        return {"count": len(headers), "hex": "".join(headers), "max": MAX_HEADERS}

    def history(self, scripthash: str) -> list[tuple[str, int]]:
        script = self.chain.script_for_sha256(bytes.fromhex(scripthash)[::-1])
        history = self.chain.history(script) if script is not None else []
        if len(history) > self.txs_limit:
            raise RpcError(1, "Too many history entries")
        return history

    def _entry(self, txid: str, height: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"tx_hash": txid, "height": height}
        if height <= 0:
            entry["fee"] = self.chain.tx_fee(txid)
        return entry

    def _get_history(self, session: Session, params: list[Any]) -> list[dict[str, Any]]:
        return [self._entry(t, h) for t, h in self.history(_hash_param(params, 0))]

    def _get_mempool(self, session: Session, params: list[Any]) -> list[dict[str, Any]]:
        return [self._entry(t, h) for t, h in self.history(_hash_param(params, 0)) if h <= 0]

    def _scripthash_subscribe(self, session: Session, params: list[Any]) -> str | None:
        scripthash = _hash_param(params, 0)
        status = electrum_status(self.history(scripthash))
        session.scripthashes[scripthash] = status
        return status

    def _scripthash_unsubscribe(self, session: Session, params: list[Any]) -> bool:
        return session.scripthashes.pop(_hash_param(params, 0), False) is not False

    def _transaction_get(self, session: Session, params: list[Any]) -> str:
        txid = _hash_param(params, 0)
        if len(params) > 1:
            if not isinstance(params[1], bool):
                raise _invalid("non-bool verbose value")
            if params[1]:
                raise RpcError(-32603, "verbose transactions are currently unsupported")
        raw = self.chain.tx_raw(txid)
        if raw is None:
            raise RpcError(-32603, "missing transaction")
        return raw.hex()

    def _transaction_get_merkle(self, session: Session, params: list[Any]) -> dict[str, Any]:
        txid = _hash_param(params, 0)
        height = _int_param(params, 1, "height")
        if self.chain.tx_height(txid) is None:
            raise RpcError(-32603, "tx not found or is unconfirmed")
        block_height, branch, pos = self.chain.merkle_proof(txid)
        if block_height != height:
            raise _invalid("invalid confirmation height provided")
        return {"block_height": block_height, "merkle": branch, "pos": pos}

    def _transaction_id_from_pos(self, session: Session, params: list[Any]) -> object:
        height = _int_param(params, 0, "height")
        pos = _int_param(params, 1, "tx_pos")
        if len(params) > 2 and params[2]:
            raise RpcError(-32603, "merkle proofs by position are not supported")
        if height > self.chain.tip_height() or pos >= len(self.chain.block_txids(height)):
            raise RpcError(-32603, "tx not found")
        return self.chain.block_txids(height)[pos]

    def _transaction_broadcast(self, session: Session, params: list[Any]) -> str:
        if not params:
            raise _invalid("missing tx")
        if not isinstance(params[0], str):
            raise _invalid("non-string tx")
        try:
            raw = bytes.fromhex(params[0])
        except ValueError:
            raw = b""
        try:
            return self.chain.broadcast(raw)
        except RegtestRejected as exc:
            raise RpcError(2, f"sendrawtransaction RPC error {exc.code}: {exc.reason}") from None
