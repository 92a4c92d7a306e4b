"""The blocking driver: runs the scan's steps (`_scan.py`) over one backend client.

This and its async twin are the only places where a scan touches I/O: each request the
steps yield is answered by one client call, and the reply is sent back unchecked (the steps
check it).
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import BackendProtocolError
from ._proofs import Verification
from ._replies import decode_fetched
from ._requests import (
    GetHeaders,
    GetHistories,
    GetMerkleProofs,
    GetTip,
    GetTransactions,
    GetUsage,
    Request,
    ScanDescriptor,
    Unblind,
)
from ._scan import DEFAULT_LIMITS, Progress, ScanLimits, Steps, scan_steps
from ._unblind import unblind_many

if TYPE_CHECKING:
    from ._source import AsyncScanSource, ScanSource
    from ._transaction import Transaction
    from ._update import Update
    from ._wollet import Wollet

__all__ = ["call_for", "checked_txs", "drive", "get_txs", "perform", "scan", "wallet_steps"]


def perform(client: ScanSource, request: Request) -> Any:
    """Answer one request with one call of `client` (or, for Unblind, right here)."""
    if isinstance(request, Unblind):
        return unblind_many(request.jobs)
    return call_for(client, request)


def call_for(client: ScanSource | AsyncScanSource, request: Request) -> Any:
    """Call the method of `client` answering the backend request `request`: the reply, or
    for an async client the awaitable of it. Unblind is local work: a TypeError here."""
    if isinstance(request, GetHistories):
        return client.scan_scripts(request.scripts)
    if isinstance(request, GetUsage):
        return client.scan_usage(request.scripts, request.pending)
    if isinstance(request, GetTip):
        return client.tip()
    if isinstance(request, GetTransactions):
        return client.get_raw_txs(request.txids)
    if isinstance(request, GetHeaders):
        return client.block_headers(request.heights)
    if isinstance(request, GetMerkleProofs):
        return client.merkle_proofs(request.confirmed)
    if isinstance(request, ScanDescriptor):
        return client.scan_descriptor(
            request.descriptor, gap_limit=request.gap_limit, to_index=request.to_index
        )
    raise TypeError(f"not a backend request: {request!r}")


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
    verification: Verification | None = None,
) -> Update | None:
    """Scan `wollet` through `client`; None when nothing at all changed."""
    steps = wallet_steps(
        wollet,
        client.name,
        gap_limit=gap_limit,
        to_index=to_index,
        progress=progress,
        tx_cache=tx_cache,
        limits=limits,
        verification=verification,
    )
    return drive(client, steps)


def wallet_steps(
    wollet: Wollet,
    backend: str,
    *,
    gap_limit: int,
    to_index: int,
    progress: Progress | None,
    tx_cache: MutableMapping[str, Transaction] | None,
    limits: ScanLimits,
    verification: Verification | None,
) -> Steps:
    """The steps of one scan of `wollet` from its current state (both drivers start here)."""
    return scan_steps(
        wollet.state,
        backend=backend,
        gap_limit=gap_limit,
        to_index=to_index,
        progress=progress,
        tx_cache=tx_cache,
        unreadable=wollet._unreadable,
        limits=limits,
        verification=verification,
    )


def get_txs(client: ScanSource, txids: Sequence[str]) -> list[Transaction]:
    """Fetch transactions and check that each hashes to its txid."""
    return checked_txs(client.name, txids, client.get_raw_txs(txids) if txids else [])


def checked_txs(backend: str, txids: Sequence[str], raws: Any) -> list[Transaction]:
    """The transactions `raws` that `backend` answered for `txids`, each txid checked."""

    def error(message: str) -> BackendProtocolError:
        return BackendProtocolError(message, backend=backend)

    return decode_fetched(txids, raws, error)
