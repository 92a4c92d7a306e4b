"""`SharedTxs` in the async driver: scans run at once ask the backend once for a
transaction they both want; the second awaits the first one's fetch in flight, and asks
itself only when that fetch failed. Ground truth: the calls a fake backend received (each
fetch is held open until the test releases it, so the scans are in flight together)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

import pytest

from lwk_core import BackendError
from lwk_core._async_driver import SharedTxs, perform_async
from lwk_core._requests import GetTransactions
from lwk_core._source import AsyncScanSource


class HeldSource:
    """Answers `get_raw_txs` with b"raw <txid>" once `release` is set; the first call
    fails instead when `fail_first`."""

    name = "held"

    def __init__(self, *, fail_first: bool = False) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.release = asyncio.Event()
        self.fail_first = fail_first

    async def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        self.calls.append(tuple(txids))
        first = len(self.calls) == 1
        await self.release.wait()
        if self.fail_first and first:
            raise BackendError("the first fetch fails")
        return [f"raw {txid}".encode() for txid in txids]


def fetch_at_once(
    source: HeldSource, *requests: tuple[str, ...]
) -> list[list[bytes] | BaseException]:
    async def main() -> list[list[bytes] | BaseException]:
        shared = SharedTxs()
        client = cast(AsyncScanSource, source)
        tasks = [
            asyncio.create_task(perform_async(client, GetTransactions(r), shared.fetching))
            for r in requests
        ]
        for _ in range(10):  # let every task reach its fetch or its wait
            await asyncio.sleep(0)
        source.release.set()
        replies = await asyncio.gather(*tasks, return_exceptions=True)
        assert shared.fetching == {}
        return replies

    return asyncio.run(main())


def raws(*txids: str) -> list[bytes]:
    return [f"raw {txid}".encode() for txid in txids]


def test_a_transaction_in_flight_is_awaited_not_asked_again() -> None:
    source = HeldSource()
    replies = fetch_at_once(source, ("a", "b"), ("b", "c"), ("a", "b"))
    assert source.calls == [("a", "b"), ("c",)]
    assert replies == [raws("a", "b"), raws("b", "c"), raws("a", "b")]


def test_a_failed_fetch_is_asked_again_by_its_waiter() -> None:
    source = HeldSource(fail_first=True)
    first, second = fetch_at_once(source, ("a",), ("a", "b"))
    assert isinstance(first, BackendError)
    assert source.calls == [("a",), ("b",), ("a",)]
    assert second == raws("a", "b")


@pytest.mark.parametrize("reply", [None, [b"one"]])
def test_a_malformed_reply_reaches_the_steps_as_it_is(reply: object) -> None:
    class Malformed:
        name = "malformed"

        async def get_raw_txs(self, txids: Sequence[str]) -> object:
            return reply

    async def main() -> object:
        shared = SharedTxs()
        client = cast(AsyncScanSource, Malformed())
        return await perform_async(client, GetTransactions(("a", "b")), shared.fetching)

    assert asyncio.run(main()) == reply
