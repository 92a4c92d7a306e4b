"""AsyncClient: a plugin's AsyncBackend driven through the hooks, awaited; connect_async()."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, MutableMapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, cast
from urllib.parse import urlsplit

from ._async_backend import AsyncBackend
from ._async_driver import get_txs_async, scan_async
from ._async_watch import watch_events_async
from ._backend import DescriptorHistories
from ._client import BackendHandle, Client, connect_hook, proven, tx_bytes, txid_of
from ._descriptor import WolletDescriptor
from ._errors import PluginError
from ._network import Network
from ._scan import DEFAULT_LIMITS, ScanLimits
from ._transaction import Transaction
from ._types import HistoryEntry, MerkleProof, Progress, ScriptUsage, Tip
from ._update import Update

if TYPE_CHECKING:
    from ._events import WalletEvent
    from ._wollet import Wollet

__all__ = ["AsyncClient", "AsyncScanMethods", "connect_async"]


class AsyncScanMethods:
    """LWK's `full_scan` names, awaited, shared by async clients and chains."""

    async def sync(
        self,
        wollet: Wollet,
        gap_limit: int = 20,
        *,
        to_index: int = 0,
        progress: Progress | None = None,
        limits: ScanLimits = DEFAULT_LIMITS,
    ) -> Update | None:
        """Scan until `gap_limit` unused scripts per chain (and at least to `to_index`),
        once the server proved it serves the wallet's chain (WrongNetwork otherwise);
        `limits` bound what a server can make the scan do (ScanLimitExceeded)."""
        return await self.scan_wallet(
            wollet, gap_limit=gap_limit, to_index=to_index, progress=progress, limits=limits
        )

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
        """`sync`, sharing `tx_cache` (verified transactions) with other scans."""
        raise NotImplementedError

    async def full_scan(
        self,
        wollet: Wollet,
        *,
        to_index: int = 0,
        progress: Progress | None = None,
        limits: ScanLimits = DEFAULT_LIMITS,
    ) -> Update | None:
        """Scan the wallet with the default gap limit (20). None when nothing changed."""
        return await self.sync(wollet, 20, to_index=to_index, progress=progress, limits=limits)

    async def full_scan_to_index(self, wollet: Wollet, index: int) -> Update | None:
        """Scan at least up to derivation `index` on each chain, beyond the gap limit."""
        return await self.sync(wollet, 20, to_index=index)

    def watch(
        self,
        wollet: Wollet,
        *,
        gap_limit: int = 20,
        interval: float = 10.0,
        timeout: float | None = None,
    ) -> AsyncIterator[WalletEvent]:
        """`async for event in client.watch(wollet)`: the events of `Client.watch` (see
        there), each sync and wait awaited in the consuming task. It starts no task:
        cancelling the consumer, or `aclose()` after leaving the loop, leaves nothing
        behind."""
        return watch_events_async(
            self, wollet, gap_limit=gap_limit, interval=interval, timeout=timeout
        )

    def _push_clients(self) -> Sequence[object]:
        return [self]

    def _served_last(self) -> object | None:
        return self


class AsyncClient(BackendHandle[AsyncBackend], AsyncScanMethods):
    """The asyncio twin of `Client`: the same methods, awaited, the same checks (the
    server's chain proved before a scan, tip headers and their signatures, txids).

    Each call reaches the owning plugin and the wrapper plugins through the hooks; the
    awaitable they answer is awaited in the calling task. One AsyncClient serves many
    concurrent tasks (scans of different wallets, lookups) on the event loop of its first
    call; the backend bounds its own concurrency. Cancelling a call or a scan leaves the
    client usable and the wallet unchanged. `async with` closes it. Building one does no
    I/O. Plugins subclass AsyncClient (AsyncEsploraClient, ...) for their constructors.
    """

    async def _call(self, hook: str, **kwargs: Any) -> Any:
        result = await self._hook(hook, **kwargs)
        if result is None:
            raise PluginError(f"the plugin of {self.name} answered {hook} with None")
        return result

    # -- backend calls -----------------------------------------------------------------

    async def ping(self) -> None:
        """Check that the server answers; raises a BackendError otherwise."""
        await self._hook("lwk_ping")

    async def genesis_hash(self) -> str:
        """The hash of the server's genesis block (see `Client.genesis_hash`)."""
        return self._genesis or self._kept_genesis(await self._call("lwk_genesis_hash"))

    async def check_chain(self, wollet: Wollet) -> str:
        """Prove the server serves the chain `wollet` follows (see `Client.check_chain`)."""
        return self._chain_checked(wollet, await self.genesis_hash())

    async def tip(self) -> Tip:
        """The best block; a header given with it must be that block's, signed by the
        block signers (`block_signers`)."""
        return self._checked_tip(await self._call("lwk_tip", min_height=self._history_height))

    async def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        if not scripts:
            return []
        return self._seen(await self._call("lwk_scan_scripts", scripts=list(scripts)))

    async def scan_usage(
        self, scripts: Sequence[bytes], pending: Sequence[bytes]
    ) -> ScriptUsage | None:
        """Usage of `scripts`, histories of `pending`, if offered (see `Client.scan_usage`)."""
        answer = self._hook_optional("lwk_scan_usage", scripts=list(scripts), pending=list(pending))
        return self._seen_usage(await answer if answer is not None else None)

    async def scan_descriptor(
        self, descriptor: WolletDescriptor, *, gap_limit: int, to_index: int
    ) -> DescriptorHistories | None:
        """A whole wallet's histories in one request, if the backend offers it (else None)."""
        answer = self._hook_optional(
            "lwk_scan_descriptor", descriptor=descriptor, gap_limit=gap_limit, to_index=to_index
        )
        return cast(DescriptorHistories | None, await answer if answer is not None else None)

    async def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        if not txids:
            return []
        return cast(list[bytes], await self._call("lwk_get_tx", txids=list(txids)))

    async def get_txs(self, txids: Sequence[str]) -> list[Transaction]:
        """Fetch transactions and check that each hashes to its txid."""
        return await get_txs_async(self, txids)

    async def get_tx(self, txid: str) -> Transaction:
        return (await self.get_txs([txid]))[0]

    async def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        """The raw headers at `heights`, as the server answered them (a scan checks them)."""
        if not heights:
            return {}
        answer = await self._call("lwk_block_headers", heights=list(heights))
        return cast(dict[int, bytes], answer)

    async def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        """A Merkle proof of each (txid, height) (see `Client.merkle_proofs`)."""
        if not confirmed:
            return []
        asked = [(txid, height) for txid, height in confirmed]
        return cast(list[MerkleProof], await self._call("lwk_merkle_proofs", confirmed=asked))

    async def broadcast(self, tx: Transaction | bytes | str) -> str:
        """Broadcast a transaction (object, raw bytes or hex) and return its txid (see
        `Client.broadcast`)."""
        raw = tx_bytes(tx)
        txid = txid_of(raw)  # DecodeError before anything is sent
        return self._checked_txid(await self._call("lwk_broadcast", tx=raw), txid)

    async def close(self) -> None:
        """Release the backend's sockets and tasks; a later call may connect again."""
        self._forget()
        for answer in self._hook_optional("lwk_close"):
            if inspect.isawaitable(answer):
                await answer

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- wallet scans ------------------------------------------------------------------

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
        """`sync`, sharing `tx_cache` with other clients (see `Client.scan_wallet`)."""
        self._scan_starts(wollet)
        genesis = await self.check_chain(wollet)
        update = await scan_async(
            self,
            wollet,
            gap_limit=gap_limit,
            to_index=to_index,
            progress=progress,
            tx_cache=tx_cache,
            limits=limits,
            verification=self._verification(),
        )
        return proven(update, genesis)


def connect_async(url: str, network: Network | None = None, **options: Any) -> AsyncClient:
    """An async client for `url` from the plugin owning its scheme (no I/O yet: the first
    awaited call connects; `async with connect_async(url, network) as client:`).

    The plugin's `lwk_connect` is asked with `asynchronous=True`; an `AsyncBackend` it
    returns is wrapped in an AsyncClient, an AsyncClient subclass returned as it is. A
    plugin answering a blocking backend offers no async flavour: a PluginError.
    """
    plugin, made = connect_hook(url, network, options, asynchronous=True)
    if isinstance(made, AsyncClient):
        return made
    if isinstance(made, Client) or not inspect.iscoroutinefunction(getattr(made, "tip", None)):
        scheme = urlsplit(url).scheme.lower()
        raise PluginError(f"the plugin owning {scheme}:// offers no async backend")
    return AsyncClient(made, name=made.name, plugin=plugin, network=network)
