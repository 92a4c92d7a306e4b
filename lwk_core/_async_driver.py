"""The async driver: runs the scan's steps (`_scan.py`) over one async backend client.

The twin of `_sync.py`, and as thin: each backend request the steps yield is one awaited
call of the client (`call_for` picks the method), `Unblind` runs in a worker thread
(`asyncio.to_thread`) so that unblinding a big wallet does not stall the event loop. The
scan holds nothing but its steps: cancelling it (a task cancel, `asyncio.timeout`) closes
them and leaves the wallet as it was, since only `Wollet.apply_update` changes a wallet.

Scans run at once can share a `SharedTxs` cache (a monitor's round): a transaction one scan
is fetching is then awaited by the others instead of being asked again.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from ._proofs import Verification
from ._requests import GetTransactions, Request, Unblind
from ._scan import DEFAULT_LIMITS, Progress, ScanLimits, Steps
from ._sync import call_for, checked_txs, wallet_steps
from ._transaction import Transaction
from ._unblind import unblind_many

if TYPE_CHECKING:
    from ._source import AsyncScanSource
    from ._update import Update
    from ._wollet import Wollet

__all__ = ["SharedTxs", "drive_async", "get_txs_async", "perform_async", "scan_async"]

# txid -> the future of its raw bytes (None when that fetch failed), while one scan asks
Fetching = dict[str, "asyncio.Future[Any]"]


class SharedTxs(dict[str, Transaction]):
    """A tx cache (txid -> verified Transaction) for scans run at once on one event loop,
    which also knows the transactions still being fetched by one of them (`fetching`)."""

    def __init__(self) -> None:
        super().__init__()
        self.fetching: Fetching = {}


async def perform_async(
    client: AsyncScanSource, request: Request, fetching: Fetching | None = None
) -> Any:
    """Answer one request with one awaited call of `client` (Unblind: in a thread); with
    `fetching`, the transactions another scan is fetching are awaited, not asked again."""
    if isinstance(request, Unblind):
        return await asyncio.to_thread(unblind_many, request.jobs)
    if fetching is not None and isinstance(request, GetTransactions):
        return await _get_raw_txs_shared(client, request.txids, fetching)
    return await call_for(client, request)


async def _get_raw_txs_shared(
    client: AsyncScanSource, txids: Sequence[str], fetching: Fetching
) -> Any:
    """The raw txs `txids` in order: those another scan is fetching awaited (and asked here
    only if that fetch failed), the rest asked. A malformed reply is returned as it is, for
    the steps to refuse."""
    theirs = {txid: fetching[txid] for txid in txids if txid in fetching}
    mine = [txid for txid in txids if txid not in theirs]
    reply = await _ask(client, mine, fetching) if mine else []
    if not theirs or not _answers(reply, mine):
        return reply
    raws = dict(zip(mine, reply, strict=True))
    for txid, future in theirs.items():
        raws[txid] = await asyncio.shield(future)  # a cancelled waiter cancels only itself
    failed = [txid for txid in theirs if raws[txid] is None]
    if failed:
        again = await _ask(client, failed, fetching)
        if not _answers(again, failed):
            return again
        raws.update(zip(failed, again, strict=True))
    return [raws[txid] for txid in txids]


async def _ask(client: AsyncScanSource, txids: list[str], fetching: Fetching) -> Any:
    """`client.get_raw_txs(txids)`, announced in `fetching` until it ends: each txid's
    future then holds its raw bytes, or None if the call failed or was cancelled (its
    waiters ask themselves). The reply goes on unchecked: the steps check it."""
    loop = asyncio.get_running_loop()
    futures = {txid: loop.create_future() for txid in txids}
    fetching.update(futures)
    reply: Any = None
    try:
        reply = await client.get_raw_txs(txids)
        return reply
    finally:
        raws = reply if _answers(reply, txids) else [None] * len(txids)
        for (txid, future), raw in zip(futures.items(), raws, strict=True):
            del fetching[txid]
            future.set_result(raw)


def _answers(reply: Any, txids: Sequence[str]) -> bool:
    return isinstance(reply, Sequence) and len(reply) == len(txids)


async def drive_async(
    client: AsyncScanSource, steps: Steps, fetching: Fetching | None = None
) -> Update | None:
    """Run `steps` to the end over `client`; what a request raises (or a cancellation)
    ends the scan and closes the steps. `fetching`: see `perform_async`."""
    reply: Any = None
    try:
        while True:
            reply = await perform_async(client, steps.send(reply), fetching)
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
    verification: Verification | None = None,
) -> Update | None:
    """Scan `wollet` through `client`; None when nothing at all changed.

    Scans of different wallets may run concurrently on one client, sharing a `SharedTxs`
    `tx_cache`. The wallet must not be changed (`apply_update`) while one of its own scans
    runs: apply the Update after.
    """
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
    fetching = tx_cache.fetching if isinstance(tx_cache, SharedTxs) else None
    return await drive_async(client, steps, fetching)


async def get_txs_async(client: AsyncScanSource, txids: Sequence[str]) -> list[Transaction]:
    """Fetch transactions and check that each hashes to its txid."""
    return checked_txs(client.name, txids, await client.get_raw_txs(txids) if txids else [])
