"""Checks of what a backend replied, before the scan believes it: shapes, counts, and that
each raw transaction hashes to the txid asked for. Every check raises the error that
`error(message)` builds (the scan's BackendProtocolError naming the backend)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._errors import BackendProtocolError, DecodeError, TxidMismatch
from ._transaction import Transaction
from ._types import USED, HistoryEntry, ScriptUsage, Tip, Used

__all__ = ["check_histories", "check_tip", "check_usage", "decode_fetched"]

ErrorFactory = Callable[[str], BackendProtocolError]


def check_histories(reply: Any, count: int, error: ErrorFactory) -> list[list[HistoryEntry]]:
    """`count` histories of HistoryEntry, heights None (mempool) or positive."""
    if not isinstance(reply, Sequence) or len(reply) != count:
        got = len(reply) if isinstance(reply, Sequence) else type(reply).__name__
        raise error(f"asked for {count} histories, got {got}")
    return [_history(history, error) for history in reply]


def check_usage(
    reply: Any, count: int, pending: int, error: ErrorFactory
) -> tuple[list[list[HistoryEntry] | Used], list[list[HistoryEntry]]]:
    """A ScriptUsage of `count` scripts (each a history or USED) and `pending` histories."""
    if not isinstance(reply, ScriptUsage):
        raise error(f"a script usage that is not a ScriptUsage: {type(reply).__name__}")
    scripts = reply.scripts
    if isinstance(scripts, Sequence):
        scripts = [[] if u is USED else u for u in scripts]
    told = check_histories(scripts, count, error)
    return (
        [USED if u is USED else history for u, history in zip(reply.scripts, told, strict=True)],
        check_histories(reply.pending, pending, error),
    )


def _history(history: Any, error: ErrorFactory) -> list[HistoryEntry]:
    if not isinstance(history, Sequence) or not all(
        isinstance(e, HistoryEntry) and (e.height is None or e.height > 0) for e in history
    ):
        raise error("a history that is not a list of entries at positive heights")
    return list(history)


def check_tip(reply: Any, error: ErrorFactory) -> Tip:
    if not isinstance(reply, Tip) or reply.height < 0:
        raise error(f"a tip that is not a Tip: {type(reply).__name__}")
    return reply


def decode_fetched(txids: Sequence[str], raws: Any, error: ErrorFactory) -> list[Transaction]:
    """Parse the raw transactions a backend returned; each must hash to its txid."""
    if not isinstance(raws, Sequence) or len(raws) != len(txids):
        got = len(raws) if isinstance(raws, Sequence) else type(raws).__name__
        raise error(f"asked for {len(txids)} transactions, got {got}")
    txs = []
    for txid, raw in zip(txids, raws, strict=True):
        try:
            txs.append(Transaction.from_bytes(raw, expected_txid=txid))
        except TxidMismatch as exc:
            raise error(f"returned a transaction hashing to {exc.actual} for {txid}") from exc
        except (DecodeError, TypeError) as exc:
            raise error(f"returned undecodable bytes for transaction {txid}: {exc}") from exc
    return txs
