"""Checked parsing of Esplora answers: anything unexpected raises `Malformed`.

The backend turns `Malformed` into a BackendProtocolError naming the server and route.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from lwk_core.plugin import HistoryEntry

__all__ = [
    "Malformed",
    "PageEntry",
    "is_txid",
    "parse_hash",
    "parse_hex",
    "parse_history_page",
    "parse_int",
    "parse_json",
    "parse_mempool_count",
    "parse_txids",
]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_DECIMAL = re.compile(r"[0-9]{1,10}")
_MAX_INT32 = 2**32 - 1


class Malformed(ValueError):
    """An answer that is not what the endpoint serves."""


@attrs.frozen
class PageEntry:
    """One transaction of a history page."""

    txid: str
    height: int | None  # None: unconfirmed
    block_time: int | None
    block_hash: str | None = None  # lowercase hex, when the server names the block

    def entry(self) -> HistoryEntry:
        return HistoryEntry(self.txid, self.height, self.block_time)


def is_txid(value: object) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def _text(body: bytes) -> str:
    try:
        return body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise Malformed("expected ASCII text") from None


def parse_hash(body: bytes) -> str:
    """A 64-hex hash as Esplora prints it; returned lowercase."""
    text = _text(body)
    if not _HEX64.fullmatch(text):
        raise Malformed("expected a 64-hex hash")
    return text.lower()


def parse_int(body: bytes) -> int:
    """A block height (decimal text)."""
    text = _text(body)
    if not _DECIMAL.fullmatch(text) or int(text) > _MAX_INT32:
        raise Malformed("expected a decimal height")
    return int(text)


def parse_hex(body: bytes) -> bytes:
    text = _text(body)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise Malformed("expected hex") from None


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # ValueError: bad JSON, UTF-8, or a 4,300+ digit int
        raise Malformed("expected JSON") from None


def _u32(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_INT32:
        raise Malformed(f"{what} is not an unsigned 32-bit integer")
    return value


def _entry(item: object) -> PageEntry:
    if not isinstance(item, dict):
        raise Malformed("history item is not an object")
    txid = item.get("txid")
    if not is_txid(txid):
        raise Malformed("history item has no valid txid")
    assert isinstance(txid, str)
    status = item.get("status")
    if not isinstance(status, dict) or not isinstance(status.get("confirmed"), bool):
        raise Malformed("history item has no status.confirmed")
    if not status["confirmed"]:
        return PageEntry(txid.lower(), None, None)
    height = _u32(status.get("block_height"), "status.block_height")
    if height == 0:  # the genesis block holds no wallet's transactions; core refuses it
        raise Malformed("history item confirmed at height 0")
    time = status.get("block_time")
    block_hash = status.get("block_hash")
    return PageEntry(
        txid.lower(),
        height,
        None if time is None else _u32(time, "status.block_time"),
        block_hash.lower() if isinstance(block_hash, str) and is_txid(block_hash) else None,
    )


def parse_history_page(data: object) -> list[PageEntry]:
    """A `/scripthash/:h/txs[...]` answer: a JSON list of transaction objects."""
    if not isinstance(data, list):
        raise Malformed("history page is not a list")
    return [_entry(item) for item in data]


def parse_mempool_count(data: object) -> int:
    """`mempool_stats.tx_count` of a `/scripthash/:h` answer."""
    stats = data.get("mempool_stats") if isinstance(data, dict) else None
    if not isinstance(stats, dict):
        raise Malformed("script stats have no mempool_stats")
    return _u32(stats.get("tx_count"), "mempool_stats.tx_count")


def parse_txids(data: object) -> list[str]:
    """A JSON list of txids (`/mempool/txids`)."""
    if not isinstance(data, list) or not all(is_txid(t) for t in data):
        raise Malformed("expected a list of txids")
    return [t.lower() for t in data]
