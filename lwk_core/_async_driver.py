"""The async driver: runs the scan's steps (`_scan.py`) over one async backend client.

The twin of `_sync.py`, and as thin: each backend request the steps yield is one awaited
call of the client (`call_for` picks the method), `Unblind` runs in a worker thread
(`asyncio.to_thread`) so that unblinding a big wallet does not stall the event loop. The
scan holds nothing but its steps: cancelling it (a task cancel, `asyncio.timeout`) closes
them and leaves the wallet as it was, since only `Wollet.apply_update` changes a wallet.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from ._requests import Request, Unblind
from ._scan import DEFAULT_LIMITS, Progress, ScanLimits, Steps
from ._sync import call_for, checked_txs, wallet_steps
from ._unblind import unblind_many

if TYPE_CHECKING:
    from ._source import AsyncScanSource
    from ._transaction import Transaction
    from ._update import Update
    from ._wollet import Wollet

__all__ = ["drive_async", "get_txs_async", "perform_async", "scan_async"]


async def perform_async(client: AsyncScanSource, request: Request) -> Any:
    """Answer one request with one awaited call of `client` (Unblind: in a thread)."""
    if isinstance(request, Unblind):
        return await asyncio.to_thread(unblind_many, request.jobs)
    return await call_for(client, request)


async def drive_async(client: AsyncScanSource, steps: Steps) -> Update | None:
    """Run `steps` to the end over `client`; what a request raises (or a cancellation)
    ends the scan and closes the steps."""
    reply: Any = None
    try:
        while True:
            reply = await perform_async(client, steps.send(reply))
    except StopIteration as done:
        result: Update | None = done.value
        return result
    finally:
        steps.close()


async def scan_async(
    client: AsyncScanSource,
    wollet: Wollet,
    *,
    gap_limit: int = 20,
    to_index: int = 0,
    progress: Progress | None = None,
    tx_cache: MutableMapping[str, Transaction] | None = None,
    limits: ScanLimits = DEFAULT_LIMITS,
) -> Update | None:
    """Scan `wollet` through `client`; None when nothing at all changed.

    Scans of different wallets may run concurrently on one client. The wallet must not be
    changed (`apply_update`) while one of its own scans runs: apply the Update after.
    """
    steps = wallet_steps(
        wollet,
        client.name,
        gap_limit=gap_limit,
        to_index=to_index,
        progress=progress,
        tx_cache=tx_cache,
        limits=limits,
    )
    return await drive_async(client, steps)


async def get_txs_async(client: AsyncScanSource, txids: Sequence[str]) -> list[Transaction]:
    """Fetch transactions and check that each hashes to its txid."""
    return checked_txs(client.name, txids, await client.get_raw_txs(txids) if txids else [])
