"""AsyncBackend: what a plugin implements to offer a server to asyncio programs.

The same contract as `Backend` (`_backend.py`: method names, arguments, answers, errors),
with every method a coroutine function (`async def`), `name` excepted. A plugin offers one
through the same hooks as a blocking backend:

- `lwk_connect(url, network, options, asynchronous=True)` returns an AsyncBackend (core
  wraps it in a `lwk_core.AsyncClient`) or the plugin's own AsyncClient subclass;
- every later hook receives that backend as `connection` and returns, without awaiting
  it, the awaitable of the backend's method of the same name: `return
  connection.tip(min_height=min_height)` serves both flavours unchanged. `lwk_close` and
  `lwk_ping` return it too (`return connection.close()`), so that core can await it.

Core awaits each hook's answer in the task that asked, and checks it as it checks a
blocking backend's. A wrapper plugin (`@hookimpl(wrapper=True)`) receives that awaitable
from its `yield`: to time or observe the work rather than the coroutine's creation, it
returns `(yield from lwk_core.plugin.when_done(done))`, which calls `done(failed)` once the
work is over, for either flavour.

An async backend is used from one event loop: the one of its first awaited call. Several
tasks (e.g. many wallets' scans) may await its methods concurrently; it bounds its own
concurrency. Cancelling a task awaiting a method must leave the backend usable: no request
half-read on a connection that is then reused, no task left behind. `close()` releases its
sockets and tasks; a later call may connect again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ._descriptor import WolletDescriptor
from ._types import DescriptorHistories, HistoryEntry, MerkleProof, ScriptUsage, Tip

__all__ = ["AsyncBackend", "AsyncDescriptorScanner", "AsyncMerkleProver", "AsyncUsageScanner"]


class AsyncBackend(Protocol):
    """One server as a plugin talks to it from asyncio; building one does no network I/O.

    Each method means what the `Backend` method of the same name means (see there).
    """

    @property
    def name(self) -> str:
        """Shown in logs and errors (scheme://host:port): no credentials, paths or scripts."""
        ...

    async def ping(self) -> None:
        """Check that the server answers."""
        ...

    async def genesis_hash(self) -> str:
        """The hash of the server's block 0 (display hex): proves which chain it serves."""
        ...

    async def tip(self, *, min_height: int = 0) -> Tip:
        """The server's best block; a kept tip below `min_height` is stale."""
        ...

    async def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        """The history of each script (unconfidential scriptPubKey), in order."""
        ...

    async def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        """The raw transactions `txids` (display hex), in order."""
        ...

    async def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        """The raw header of the best chain's block at each height."""
        ...

    async def broadcast(self, tx: bytes) -> str:
        """Send a raw transaction, return the txid the server answered (a refusal:
        `lwk_core.BroadcastRejected(reason)`)."""
        ...

    async def close(self) -> None:
        """Release sockets and tasks; a later call may connect again."""
        ...


class AsyncDescriptorScanner(Protocol):
    """Optional: an async backend whose server derives a wallet's scripts itself."""

    async def scan_descriptor(
        self, descriptor: WolletDescriptor, *, gap_limit: int, to_index: int
    ) -> DescriptorHistories:
        """The histories of the wallet's scripts in one request (see DescriptorScanner)."""
        ...


class AsyncUsageScanner(Protocol):
    """Optional: an async backend telling usage before histories (see UsageScanner)."""

    async def scan_usage(self, scripts: Sequence[bytes], pending: Sequence[bytes]) -> ScriptUsage:
        """Usage of `scripts`, histories of `pending` (see UsageScanner)."""
        ...


class AsyncMerkleProver(Protocol):
    """Optional: an async backend offering SPV (see MerkleProver)."""

    async def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        """A Merkle proof of each (txid, height), in order (see MerkleProver)."""
        ...
