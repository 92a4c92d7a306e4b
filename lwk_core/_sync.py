"""The blocking driver: runs the scan's steps (`_scan.py`) over one backend client.

This and its async twin are the only places where a scan touches I/O: each request the
steps yield is answered by one client call, and the reply is sent back unchecked (the steps
check it).
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import BackendProtocolError
from ._replies import decode_fetched
from ._requests import (
    GetBlockTimes,
    GetHistories,
    GetTip,
    GetTransactions,
    Request,
    ScanDescriptor,
    Unblind,
)
from ._scan import DEFAULT_LIMITS, Progress, ScanLimits, Steps, scan_steps
from ._unblind import unblind_many

if TYPE_CHECKING:
    from ._source import ScanSource
    from ._transaction import Transaction
    from ._update import Update
    from ._wollet import Wollet

__all__ = ["drive", "get_txs", "perform", "scan"]


def perform(client: ScanSource, request: Request) -> Any:
    """Answer one request with one call of `client` (or, for Unblind, right here)."""
    if isinstance(request, GetHistories):
        return client.scan_scripts(request.scripts) if request.scripts else []
    if isinstance(request, GetTip):
        return client.tip()
    if isinstance(request, GetTransactions):
        return client.get_raw_txs(request.txids)
    if isinstance(request, GetBlockTimes):
        return client.block_timestamps(request.heights)
    if isinstance(request, ScanDescriptor):
        return client.scan_descriptor(
            request.descriptor, gap_limit=request.gap_limit, to_index=request.to_index
        )
    if isinstance(request, Unblind):
        return unblind_many(request.jobs)
    raise TypeError(f"not a scan request: {request!r}")


def drive(client: ScanSource, steps: Steps) -> Update | None:
    """Run `steps` to the end over `client`; what a request raises ends the scan."""
    reply: Any = None
    try:
        while True:
            reply = perform(client, steps.send(reply))
    except StopIteration as done:
        result: Update | None = done.value
        return result
    finally:
        steps.close()


def scan(
    client: ScanSource,
    wollet: Wollet,
    *,
    gap_limit: int = 20,
    to_index: int = 0,
    progress: Progress | None = None,
    tx_cache: MutableMapping[str, Transaction] | None = None,
    limits: ScanLimits = DEFAULT_LIMITS,
) -> Update | None:
    """Scan `wollet` through `client`; None when nothing at all changed."""
    steps = scan_steps(
        wollet.state,
        backend=client.name,
        gap_limit=gap_limit,
        to_index=to_index,
        progress=progress,
        tx_cache=tx_cache,
        unreadable=wollet._unreadable,
        limits=limits,
    )
    return drive(client, steps)


def get_txs(client: ScanSource, txids: Sequence[str]) -> list[Transaction]:
    """Fetch transactions and check that each hashes to its txid."""

    def error(message: str) -> BackendProtocolError:
        return BackendProtocolError(message, backend=client.name)

    return decode_fetched(txids, client.get_raw_txs(txids) if txids else [], error)
