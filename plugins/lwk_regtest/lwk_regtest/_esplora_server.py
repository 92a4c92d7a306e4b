"""An Esplora REST server over a RegtestChain that answers like Blockstream's electrs (Liquid).

Routes, status codes, error texts, page sizes and pagination follow electrs' `rest.rs`
(Blockstream/esplora's `API.md` documents them); every route also answers under `/api/...` as behind
Esplora's nginx.
HTTP/1.1 keep-alive with Content-Length, TCP_NODELAY and one `sendall` per reply, so that
sequential clients such as LWK's do not pay Nagle/delayed-ACK stalls (about 40 ms per request
without TCP_NODELAY).

Faults (lwk_regtest._faults): `latency` delays every reply; the mode of a request decides
what goes wrong with it: refuse (close without answering), hang (never answer), reset (half a
reply, then RST), truncate (half a reply under the full Content-Length, then FIN), garbage
(200 with a body that is neither JSON, hex nor a transaction), oversized (200 with a 32 MiB
body of the route's type), wrong_tx (`/tx/:txid/raw|hex` answer another transaction),
lying_tip (a tip 1000 blocks above the real one, with a matching made-up header), http429
(with `Retry-After: <faults.retry_after>`) and http500. A fault that does not concern a route
(wrong_tx, lying_tip) still uses up one of its `remaining` requests.
"""

from __future__ import annotations

import collections
import contextlib
import http
import json
import logging
import re
import select
import socket
import struct
import sys
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final

import attrs

from lwk_core import BlockHeader, DecodeError, Transaction
from lwk_core.primitives import address_to_script

from ._chain import RegtestRejected
from ._esplora_json import Json
from ._esplora_query import ChainView, EsploraQuery
from ._faults import Faults

__all__ = ["LYING_TIP_OFFSET", "MAX_BODY_SIZE", "OVERSIZED_BYTES", "EsploraServer"]

MAX_BODY_SIZE: Final = 1_000_000  # electrs refuses larger request bodies with 413
OVERSIZED_BYTES: Final = 32 * 1024 * 1024
LYING_TIP_OFFSET: Final = 1000
_MAX_DRAINED: Final = 64 * MAX_BODY_SIZE  # larger refused bodies close the connection
_TTL_LONG: Final = 157_784_630
_TTL_SHORT: Final = 10
_CONF_FINAL: Final = 10
_GARBAGE: Final = b"<!doctype html><title>garbage</title> this is not the protocol"
_HEX64: Final = re.compile(r"[0-9a-fA-F]{64}")
_HEX: Final = re.compile(r"(?:[0-9a-fA-F]{2})*")
_NUMBER: Final = re.compile(r"\+?[0-9]+")  # Rust's usize/u32 parse accepts a leading +
_DECODE_FAILED: Final = (
    "sendrawtransaction RPC error -22: TX decode failed. Make sure the tx has at least one input."
)
_log = logging.getLogger(__name__)


@attrs.frozen
class _Reply:
    status: int
    body: bytes
    content_type: str = "text/plain"
    cache_control: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


class _HttpError(Exception):
    """An error answer: electrs' `HttpError(status, text)`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _cache(ttl: int) -> str:
    return f"public, max-age={ttl}"


def _text(message: str, ttl: int) -> _Reply:
    return _Reply(200, message.encode(), "text/plain", _cache(ttl))


def _json(value: object, ttl: int) -> _Reply:
    body = json.dumps(value, separators=(",", ":")).encode()
    return _Reply(200, body, "application/json", _cache(ttl))


def _hash_arg(value: str) -> str:
    """A txid or block hash path segment (electrs: 400 "Invalid hex string")."""
    if not _HEX64.fullmatch(value):
        raise _HttpError(400, "Invalid hex string")
    return value.lower()


def _number_arg(value: str, limit: int = 2**64) -> int:
    if not _NUMBER.fullmatch(value) or int(value) >= limit:
        raise _HttpError(400, "Invalid number")
    return int(value)


_Handler = Callable[[str | None], _Reply]


class _Router:
    """electrs' `handle_request`: (method, path) -> route name and the handler of the route."""

    def __init__(self, chain: ChainView) -> None:
        self._chain = chain
        self._query = EsploraQuery(chain)

    def match(self, method: str, path: str, params: str, body: bytes) -> tuple[str, _Handler]:
        # electrs looks at the first five path segments only; "" is a segment, None is absent.
        segments: list[str | None] = [*path.split("/")[1:6]]
        s0, s1, s2, s3, s4 = segments + [None] * (5 - len(segments))
        if method == "POST" and (s0, s1) == ("tx", None):
            return "POST /tx", lambda fault: self._broadcast(body)
        if method == "GET" and (s0, s1) == ("broadcast", None):
            tx_hex = urllib.parse.parse_qs(params).get("tx")
            return "GET /broadcast", lambda fault: self._broadcast_query(tx_hex)
        if method == "GET" and s0 is not None:
            found = self._match_get(s0, s1, s2, s3, s4)
            if found is not None:
                return found
        return "unknown", lambda fault: self._not_found(path)

    def _match_get(
        self, s0: str, s1: str | None, s2: str | None, s3: str | None, s4: str | None
    ) -> tuple[str, _Handler] | None:
        if s0 == "blocks" and s1 == "tip" and s2 in ("hash", "height") and s3 is None:
            if s2 == "hash":
                return "GET /blocks/tip/hash", self._tip_hash
            return "GET /blocks/tip/height", self._tip_height
        if s1 is None:
            return None
        if s0 == "block-height" and s2 is None:
            return "GET /block-height/:height", lambda fault: self._block_at(s1, fault)
        if s0 == "block" and s4 is None:
            return self._match_block(s1, s2, s3)
        if s0 in ("address", "scripthash"):
            return self._match_script(s0, s1, s2, s3, s4)
        if s0 == "tx" and s4 is None:
            return self._match_tx(s1, s2, s3)
        return None

    def _match_block(
        self, block: str, s2: str | None, s3: str | None
    ) -> tuple[str, _Handler] | None:
        if s2 is None:
            return "GET /block/:hash", lambda fault: self._block(block)
        if s2 == "txid" and s3 is not None:
            return "GET /block/:hash/txid/:index", lambda fault: self._block_txid(block, s3)
        if s3 is not None:
            return None
        if s2 == "status":
            return "GET /block/:hash/status", lambda fault: self._block_status(block)
        if s2 == "txids":
            return "GET /block/:hash/txids", lambda fault: self._block_txids(block)
        if s2 == "header":
            return "GET /block/:hash/header", lambda fault: self._block_header(block, fault)
        return None

    def _match_script(
        self, kind: str, script: str, s2: str | None, s3: str | None, s4: str | None
    ) -> tuple[str, _Handler] | None:
        prefix = f"GET /{kind}/:{kind}"
        if s2 is None:
            return prefix, lambda fault: self._script_stats(kind, script)
        if s2 == "txs" and s3 == "chain":
            if s4 is None:
                return f"{prefix}/txs/chain", lambda fault: self._script_chain(kind, script, None)
            name = f"{prefix}/txs/chain/:last_seen"
            return name, lambda fault: self._script_chain(kind, script, s4)
        if s4 is not None:
            return None
        if s2 == "txs" and s3 is None:
            return f"{prefix}/txs", lambda fault: self._script_txs(kind, script)
        if s2 == "txs" and s3 == "mempool":
            return f"{prefix}/txs/mempool", lambda fault: self._script_mempool(kind, script)
        if s2 == "utxo" and s3 is None:
            return f"{prefix}/utxo", lambda fault: self._script_utxo(kind, script)
        return None

    def _match_tx(self, txid: str, s2: str | None, s3: str | None) -> tuple[str, _Handler] | None:
        if s2 is None:
            return "GET /tx/:txid", lambda fault: self._tx(txid)
        if s2 == "outspend" and s3 is not None:
            return "GET /tx/:txid/outspend/:vout", lambda fault: self._outspend(txid, s3)
        if s3 is not None:
            return None
        if s2 in ("raw", "hex"):
            return f"GET /tx/:txid/{s2}", lambda fault: self._tx_bytes(txid, s2 == "raw", fault)
        if s2 == "status":
            return "GET /tx/:txid/status", lambda fault: self._tx_status(txid)
        if s2 == "merkle-proof":
            return "GET /tx/:txid/merkle-proof", lambda fault: self._merkle_proof(txid)
        if s2 == "outspends":
            return "GET /tx/:txid/outspends", lambda fault: self._outspends(txid)
        return None

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

    def _not_found(self, path: str) -> _Reply:
        raise _HttpError(404, f"endpoint does not exist {json.dumps(path)}")

    def _height_of(self, block: str) -> int:
        height = self._chain.block_height(_hash_arg(block))
        if height is None:
            raise _HttpError(404, "Block not found")
        return height

    # blocks

    def _tip_hash(self, fault: str | None) -> _Reply:
        if fault == "lying_tip":
            return _text(self._lie().block_hash, _TTL_SHORT)
        return _text(self._chain.tip_hash(), _TTL_SHORT)

    def _tip_height(self, fault: str | None) -> _Reply:
        lie = LYING_TIP_OFFSET if fault == "lying_tip" else 0
        return _text(str(self._chain.tip_height() + lie), _TTL_SHORT)

    def _block_at(self, height_arg: str, fault: str | None) -> _Reply:
        height = _number_arg(height_arg)
        if fault == "lying_tip" and height == self._chain.tip_height() + LYING_TIP_OFFSET:
            return _text(self._lie().block_hash, _TTL_SHORT)
        # block 0: the chain the server declares (see RegtestChain)
        block = self._chain.genesis_hash if height == 0 else self._chain.block_hash(height)
        if block is None:
            raise _HttpError(404, "Block not found")
        return _text(block, self._ttl(height))

    def _block(self, block: str) -> _Reply:
        value = self._query.block_json(_hash_arg(block))
        if value is None:
            raise _HttpError(404, "Block not found")
        return _json(value, _TTL_LONG)

    def _block_status(self, block: str) -> _Reply:
        status = self._query.block_status(_hash_arg(block))
        return _json(status, self._ttl(status.get("height")))

    def _block_txids(self, block: str) -> _Reply:
        return _json(self._chain.block_txids(self._height_of(block)), _TTL_LONG)

    def _block_txid(self, block: str, index_arg: str) -> _Reply:
        height = self._height_of(block)
        index = _number_arg(index_arg)
        txids = self._chain.block_txids(height)
        if index >= len(txids):
            raise _HttpError(404, "tx index out of range")
        return _text(txids[index], _TTL_LONG)

    def _block_header(self, block: str, fault: str | None) -> _Reply:
        if fault == "lying_tip":
            fake = self._lie()
            if block.lower() == fake.block_hash:
                return _text(fake.to_hex(), _TTL_SHORT)
        return _text(self._chain.header(self._height_of(block)).hex(), _TTL_LONG)

    # scripts

    def _script(self, kind: str, script: str) -> bytes | None:
        """The script a path names; None for a script hash the chain has never seen."""
        if kind == "address":
            try:
                decoded = address_to_script(script)
            except DecodeError as exc:
                raise _HttpError(400, str(exc)) from exc
            if decoded.network is not self._chain.network:
                raise _HttpError(400, "Address on invalid network")
            return decoded.script_pubkey
        if not _HEX64.fullmatch(script):
            raise _HttpError(400, "Invalid scripthash")
        return self._query.script_for_scripthash(bytes.fromhex(script))

    def _script_stats(self, kind: str, script: str) -> _Reply:
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
        return _json(value, _TTL_SHORT)

    def _script_list(self, kind: str, script: str, pick: Callable[[bytes], list[Json]]) -> _Reply:
        spk = self._script(kind, script)
        return _json([] if spk is None else pick(spk), _TTL_SHORT)

    def _script_txs(self, kind: str, script: str) -> _Reply:
        return self._script_list(kind, script, self._query.txs)

    def _script_chain(self, kind: str, script: str, last_seen: str | None) -> _Reply:
        # An unparseable cursor is ignored (first page); a valid unknown one ends the paging.
        cursor = last_seen.lower() if last_seen and _HEX64.fullmatch(last_seen) else None
        return self._script_list(kind, script, lambda spk: self._query.chain_txs(spk, cursor))

    def _script_mempool(self, kind: str, script: str) -> _Reply:
        return self._script_list(kind, script, self._query.mempool_txs)

    def _script_utxo(self, kind: str, script: str) -> _Reply:
        return self._script_list(kind, script, self._query.utxos)

    # transactions

    def _tx(self, txid_arg: str) -> _Reply:
        txid = _hash_arg(txid_arg)
        value = self._query.tx_json(txid)
        if value is None:
            raise _HttpError(404, "Transaction not found")
        return _json(value, self._ttl(self._chain.tx_height(txid)))

    def _tx_bytes(self, txid_arg: str, raw: bool, fault: str | None) -> _Reply:
        txid = _hash_arg(txid_arg)
        data = self._chain.tx_raw(txid)
        if data is None:
            raise _HttpError(404, "Transaction not found")
        if fault == "wrong_tx":
            data = self._query.other_tx(txid) or data
        cache = _cache(self._ttl(self._chain.tx_height(txid)))
        if raw:
            return _Reply(200, data, "application/octet-stream", cache)
        return _Reply(200, data.hex().encode(), "text/plain", cache)

    def _tx_status(self, txid_arg: str) -> _Reply:
        txid = _hash_arg(txid_arg)
        return _json(self._query.tx_status(txid), self._ttl(self._chain.tx_height(txid)))

    def _merkle_proof(self, txid_arg: str) -> _Reply:
        txid = _hash_arg(txid_arg)
        if self._chain.tx_height(txid) is None:
            raise _HttpError(404, "Transaction not found or is unconfirmed")
        height, branch, pos = self._chain.merkle_proof(txid)
        return _json({"block_height": height, "merkle": branch, "pos": pos}, self._ttl(height))

    def _outspends(self, txid_arg: str) -> _Reply:
        spends = self._query.outspends(_hash_arg(txid_arg))
        if spends is None:
            raise _HttpError(404, "Transaction not found")
        return _json(spends, _TTL_SHORT)

    def _outspend(self, txid_arg: str, vout_arg: str) -> _Reply:
        txid = _hash_arg(txid_arg)
        spend = self._query.outspend(txid, _number_arg(vout_arg, 2**32))
        return _json(spend, self._ttl(spend.get("status", {}).get("block_height")))

    def _broadcast_query(self, tx_hex: list[str] | None) -> _Reply:
        if not tx_hex:
            raise _HttpError(400, "Missing tx")
        return self._broadcast(tx_hex[0].encode())

    def _broadcast(self, body: bytes) -> _Reply:
        try:
            tx_hex = body.decode()
        except UnicodeDecodeError as exc:
            raise _HttpError(400, f"invalid utf-8 sequence from index {exc.start}") from exc
        if not _HEX.fullmatch(tx_hex):
            raise _HttpError(400, _DECODE_FAILED)
        raw = bytes.fromhex(tx_hex)
        try:
            Transaction.from_bytes(raw)  # elementsd's decode error text, before any policy
            txid = self._chain.broadcast(raw)
        except DecodeError as exc:
            raise _HttpError(400, _DECODE_FAILED) from exc
        except RegtestRejected as exc:
            message = f"sendrawtransaction RPC error {exc.code}: {exc.reason}"
            raise _HttpError(400, message) from exc
        return _Reply(200, txid.encode(), "text/plain", _cache(0))


def _encode(reply: _Reply, close: bool) -> tuple[bytes, int]:
    """The whole HTTP/1.1 response, and the length of its head."""
    lines = [
        f"HTTP/1.1 {reply.status} {http.HTTPStatus(reply.status).phrase}",
        f"Content-Type: {reply.content_type}",
        f"Content-Length: {len(reply.body)}",
    ]
    if reply.cache_control is not None:
        lines.append(f"Cache-Control: {reply.cache_control}")
    lines += [f"{name}: {value}" for name, value in reply.headers]
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + reply.body, len(head)


def _oversized(content_type: str) -> bytes:
    """A valid but huge body of the route's type."""
    if content_type == "application/json":
        return b'["' + b"0" * (OVERSIZED_BYTES - 4) + b'"]'
    if content_type == "application/octet-stream":
        return bytes(OVERSIZED_BYTES)
    return b"0" * OVERSIZED_BYTES


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # a parallel client opens ~10 connections at once

    def __init__(self, address: tuple[str, int], owner: EsploraServer) -> None:
        self.owner = owner
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Dropped connections are routine here; anything else is a bug worth a traceback."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, False)

    def do_GET(self) -> None:
        self.server.owner._serve(self, "GET")

    def do_POST(self) -> None:
        self.server.owner._serve(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and benchmarks make thousands of requests."""


class EsploraServer:
    """Serve `chain` over Esplora REST on `host:port` (0: any free port) from a thread.

    `requests` counts the requests received per route name (e.g. "GET /tx/:txid/raw"),
    faulty or not; unmatched paths count as "unknown".
    """

    def __init__(
        self,
        chain: ChainView,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
    ) -> None:
        self.chain = chain
        self.faults = faults if faults is not None else Faults()
        self.requests: collections.Counter[str] = collections.Counter()
        self._address = (host, port)
        self._router = _Router(chain)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    @property
    def url(self) -> str:
        """http://host:port, without the /api prefix (both forms are served)."""
        if self._httpd is None:
            raise RuntimeError("EsploraServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> EsploraServer:
        if self._httpd is not None:
            raise RuntimeError("EsploraServer is already started")
        self._stopping.clear()
        self._httpd = _HTTPServer(self._address, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"esplora-server-{self.url}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection (hanging requests included)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> EsploraServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # connection plumbing (called from the request threads)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _read_body(self, handler: _RequestHandler) -> bytes | _Reply:
        """The request body, or the error answer when it cannot or must not be used."""
        if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
            return _Reply(411, b"Length Required")
        length_header = handler.headers.get("Content-Length", "0")
        if not length_header.isdigit():
            return _Reply(400, b"Invalid Content-Length")
        length = int(length_header)
        if length <= MAX_BODY_SIZE:
            return handler.rfile.read(length)
        if length > _MAX_DRAINED:
            handler.close_connection = True
        else:  # read it away so that the client gets to read the answer
            while length > 0:
                chunk = handler.rfile.read(min(length, 1 << 16))
                length = length - len(chunk) if chunk else 0
        return _Reply(413, b"Request body too large")

    def _serve(self, handler: _RequestHandler, method: str) -> None:
        target, _, params = handler.path.partition("?")
        if target == "/api" or target.startswith("/api/"):
            target = target[4:] or "/"
        body = self._read_body(handler)
        name, respond = self._router.match(
            method, target, params, body if isinstance(body, bytes) else b""
        )
        with self._lock:
            self.requests[name] += 1
        if isinstance(body, _Reply):
            if body.status != 413:  # the body was not read: this connection cannot go on
                handler.close_connection = True
            handler.wfile.write(_encode(body, handler.close_connection)[0])
            return
        fault = self.faults.take()
        if self.faults.latency > 0:
            self._stopping.wait(self.faults.latency)
        conn = handler.connection
        if fault in ("refuse", "hang"):
            handler.close_connection = True
            if fault == "hang":
                self._hang(conn)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            return
        reply = self._reply(respond, fault)
        data, head_len = _encode(reply, handler.close_connection)
        if fault not in ("reset", "truncate"):
            handler.wfile.write(data)
            return
        handler.close_connection = True
        body_len = len(reply.body)
        with contextlib.suppress(OSError):
            conn.sendall(data[: head_len + body_len // 2])
            if fault == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                conn.shutdown(socket.SHUT_RDWR)

    def _reply(self, respond: _Handler, fault: str | None) -> _Reply:
        if fault == "http429":
            retry = (("Retry-After", f"{self.faults.retry_after:g}"),)
            return _Reply(429, b"Too Many Requests", headers=retry)
        if fault == "http500":
            return _Reply(500, b"Internal Server Error")
        try:
            with self.chain.lock:
                reply = respond(fault)
        except _HttpError as exc:
            reply = _Reply(exc.status, exc.message.encode())
        except Exception:
            _log.exception("esplora request handler failed")
            reply = _Reply(500, b"Internal server error")
        if fault == "garbage":
            return attrs.evolve(reply, status=200, body=_GARBAGE)
        if fault == "oversized":
            return attrs.evolve(reply, status=200, body=_oversized(reply.content_type))
        return reply

    def _hang(self, conn: socket.socket) -> None:
        """Answer nothing until the server stops or the client goes away."""
        while not self._stopping.wait(0.05):
            readable, _, _ = select.select([conn], [], [], 0)
            if readable:
                try:
                    if not conn.recv(1, socket.MSG_PEEK):
                        return
                except OSError:
                    return
