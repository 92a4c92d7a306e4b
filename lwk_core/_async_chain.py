"""AsyncBackendChain: BackendChain's failover (the same policy and walk), awaited."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._async_client import AsyncClient, AsyncScanMethods, connect_async
from ._chain import ChainCore
from ._client import tx_bytes, txid_of
from ._errors import BackendError, BroadcastRejected
from ._failover import relayed_txid
from ._network import Network
from ._scan import DEFAULT_LIMITS, ScanLimits
from ._transaction import Transaction
from ._types import Progress, Tip
from ._update import Update

if TYPE_CHECKING:
    from ._wollet import Wollet

__all__ = ["AsyncBackendChain"]

T = TypeVar("T")


class AsyncBackendChain(ChainCore[AsyncClient], AsyncScanMethods):
    """Async clients (or URLs, through `connect_async`) tried in order; the same methods
    as one AsyncClient, and the same failover as `BackendChain` (see there): one scan
    takes histories and tip from one backend, fetched transactions are reused across a
    failover, failed backends cool down, `private=N` keeps wallet-revealing calls on the
    first N. A cancelled call is not a backend failure: it neither fails over nor cools
    the backend down. `async with` closes every client.
    """

    def __init__(
        self,
        backends: Sequence[AsyncClient | str],
        *,
        network: Network | None = None,
        cooldown: float = 30.0,
        private: int = 0,
        **options: Any,
    ) -> None:
        super().__init__(
            backends,
            connect_url=lambda url: connect_async(url, network, **options),
            network=network,
            cooldown=cooldown,
            private=private,
        )

    async def _call(
        self,
        what: str,
        call: Callable[[AsyncClient], Awaitable[T]],
        *,
        reveals_wallet: bool = True,
    ) -> T:
        walk = self._walk(what, reveals_wallet=reveals_wallet)
        for client in walk:
            try:
                result = await call(client)
            except BackendError as exc:
                walk.failed(exc)
                continue
            walk.succeeded()
            return result
        raise walk.exhausted()

    # -- the client methods ------------------------------------------------------------

    async def ping(self) -> None:
        await self._call("ping", lambda c: c.ping(), reveals_wallet=False)

    async def tip(self) -> Tip:
        return await self._call("tip", lambda c: c.tip(), reveals_wallet=False)

    async def get_txs(self, txids: Sequence[str]) -> list[Transaction]:
        return await self._call("get_tx", lambda c: c.get_txs(txids))

    async def get_tx(self, txid: str) -> Transaction:
        return (await self.get_txs([txid]))[0]

    async def scan_wallet(
        self,
        wollet: Wollet,
        *,
        gap_limit: int,
        to_index: int,
        progress: Progress | None = None,
        tx_cache: MutableMapping[str, Transaction] | None = None,
        limits: ScanLimits = DEFAULT_LIMITS,
    ) -> Update | None:
        """`sync`, sharing `tx_cache` (verified transactions) with other scans, as
        `Client.scan_wallet` does (the backends of the chain share it too)."""
        cache: MutableMapping[str, Transaction] = {} if tx_cache is None else tx_cache
        return await self._call(
            "scan",
            lambda c: c.scan_wallet(
                wollet,
                gap_limit=gap_limit,
                to_index=to_index,
                progress=progress,
                tx_cache=cache,
                limits=limits,
            ),
        )

    async def broadcast(self, tx: Transaction | bytes | str) -> str:
        """Broadcast; a rejection is final, a transport failure moves to the next backend
        (a later "already known" rejection then counts as success)."""
        raw = tx_bytes(tx)
        txid = txid_of(raw)
        attempts = itertools.count(1)

        async def send(client: AsyncClient) -> str:
            attempt = next(attempts)
            try:
                return await client.broadcast(raw)
            except BroadcastRejected as exc:
                return relayed_txid(exc, attempt, txid)

        return await self._call("broadcast", send, reveals_wallet=False)

    async def close(self) -> None:
        for client in self.backends:
            await client.close()

    async def __aenter__(self) -> AsyncBackendChain:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
