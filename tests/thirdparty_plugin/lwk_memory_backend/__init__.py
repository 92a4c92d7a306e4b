"""A third-party backend plugin, installed as its own distribution for the tests.

`memory://NAME` connects to the in-process `MemoryChain` registered under NAME. Each
connection can be told to misbehave (`faults`), which is how the failover tests drive
backends that refuse, hang, answer garbage or die mid-scan without any network.

`connect("memory://NAME")` returns a plain `lwk_core.Client` around a `MemoryBackend` (core
wraps what `lwk_connect` returns); `MemoryClient(NAME)` builds the same by hand. The backend
also answers the optional whole-wallet scan (`lwk_scan_descriptor`) when told to
(`descriptor_scan = True`), deriving the scripts as a Waterfalls server would.

`connect_async("memory://NAME")` gets an `AsyncMemoryBackend` (the plugin's async flavour,
through the same hooks): the same answers, awaited, its latency and hangs asyncio sleeps.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lwk_regtest import DEFAULT_SIGNERS

from lwk_core import Client
from lwk_core.plugin import (
    BackendConnectError,
    BackendProtocolError,
    BackendTimeout,
    BlockHeader,
    BroadcastRejected,
    DescriptorHistories,
    HistoryEntry,
    Network,
    Tip,
    Transaction,
    hookimpl,
)

if TYPE_CHECKING:
    from lwk_core import WolletDescriptor

__all__ = [
    "AsyncMemoryBackend",
    "MemoryBackend",
    "MemoryChain",
    "MemoryClient",
    "register_chain",
]

_chains: dict[str, MemoryChain] = {}


class MemoryChain:
    """Transactions at heights (None = mempool) with block times, and a tip."""

    def __init__(self, network: Network = Network.ELEMENTS_REGTEST) -> None:
        self.network = network
        self.genesis_hash = network.genesis_hash  # another value: a chain of another network
        self.txs: dict[str, Transaction] = {}
        self.heights: dict[str, int | None] = {}
        self.times: dict[int, int] = {}
        self.tip_height = 0
        self.lock = threading.Lock()

    def add(self, tx: Transaction, height: int | None, timestamp: int | None = None) -> None:
        with self.lock:
            self.txs[tx.txid] = tx
            self.heights[tx.txid] = height
            if height is not None:
                self.tip_height = max(self.tip_height, height)
                self.times[height] = timestamp if timestamp is not None else 1_700_000_000 + height

    def remove(self, txid: str) -> None:
        with self.lock:
            self.heights.pop(txid, None)

    def tip(self) -> Tip:
        h = self.tip_height
        return _signed_tip(h, self.times.get(h, 1_700_000_000 + h))

    def history(self, script: bytes) -> list[HistoryEntry]:
        with self.lock:
            live = {t: self.txs[t] for t in self.heights}
            funding = {
                (txid, vout)
                for txid, tx in live.items()
                for vout, out in enumerate(tx.outputs)
                if out.script_pubkey == script
            }
            touching = {txid for txid, _ in funding} | {
                txid
                for txid, tx in live.items()
                if any((i.prevout.txid, i.prevout.vout) in funding for i in tx.inputs)
            }
            return [
                HistoryEntry(txid, self.heights[txid])
                for txid in sorted(touching, key=lambda t: (self.heights[t] or 2**32, t))
            ]


@functools.lru_cache(maxsize=1024)
def _signed_tip(height: int, timestamp: int) -> Tip:
    """The tip at `height`: a header signed by the embedded regtest chain's signers (the
    ones the test environment trusts), so clients check memory tips as any other."""
    header = BlockHeader.parse(DEFAULT_SIGNERS.header(bytes(32), bytes(32), timestamp, height))
    return Tip(height, header.block_hash, timestamp, header.to_bytes())


def register_chain(name: str, chain: MemoryChain) -> None:
    _chains[name] = chain


class MemoryBackend:
    """`faults`: {"refuse"|"hang"|"garbage"|"wrong_tx"|"lying_tip": True, "die_after": N,
    "latency": seconds every call takes}."""

    def __init__(self, name: str, timeout: float) -> None:
        self.chain_name = name
        self.name = f"memory://{name}"
        self.timeout = timeout
        self.faults: dict[str, Any] = {}
        self.calls: list[str] = []
        self.descriptor_scan = False
        self.blocking = True  # False: an AsyncMemoryBackend does the waiting

    @property
    def chain(self) -> MemoryChain:
        try:
            return _chains[self.chain_name]
        except KeyError:
            raise BackendConnectError("no such chain", backend=self.name) from None

    def enter(self, call: str) -> MemoryChain:
        self.calls.append(call)
        if self.blocking:
            time.sleep(self.faults.get("latency", 0.0))
        if self.faults.get("refuse"):
            raise BackendConnectError("connection refused", backend=self.name)
        if self.faults.get("hang"):
            if self.blocking:
                time.sleep(self.timeout)
            raise BackendTimeout(f"no answer within {self.timeout}s", backend=self.name)
        die_after = self.faults.get("die_after")
        if die_after is not None and len(self.calls) > die_after:
            raise BackendConnectError("connection reset by peer", backend=self.name)
        return self.chain

    def ping(self) -> None:
        self.enter("ping")

    def genesis_hash(self) -> str:
        return self.enter("genesis_hash").genesis_hash

    def tip(self, *, min_height: int = 0) -> Tip:
        tip = self.enter("tip").tip()
        if self.faults.get("lying_tip"):
            return Tip(height=tip.height + 1000, hash="ff" * 32, timestamp=tip.timestamp)
        return tip

    def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        chain = self.enter("scan_scripts")
        if self.faults.get("garbage"):
            raise BackendProtocolError("unparseable answer", backend=self.name)
        return [chain.history(script) for script in scripts]

    def scan_descriptor(
        self, descriptor: WolletDescriptor, *, gap_limit: int, to_index: int
    ) -> DescriptorHistories:
        """Each chain's histories up to `gap_limit` unused scripts past the last used one
        (and at least to `to_index`), as a server deriving the scripts would answer."""
        chain = self.enter("scan_descriptor")
        found: DescriptorHistories = {}
        for which in descriptor.chains:
            histories: list[list[HistoryEntry]] = []
            unused = 0
            wanted = gap_limit if descriptor.has_wildcard else 1
            while unused < wanted or len(histories) < to_index:
                (script,) = descriptor.script_pubkeys(which, len(histories), 1)
                history = chain.history(script)
                histories.append(history)
                unused = 0 if history else unused + 1
            found[which] = histories
        return found

    def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        chain = self.enter("get_tx")
        raws = [chain.txs[txid].to_bytes() for txid in txids]
        if self.faults.get("wrong_tx") and raws:
            other = next(tx for txid, tx in chain.txs.items() if txid != txids[0])
            raws[0] = other.to_bytes()
        return raws

    def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        """Headers carrying the chain's block times, signed as its tips are."""
        chain = self.enter("block_headers")
        return {h: _signed_tip(h, chain.times.get(h, 1_700_000_000 + h)).header for h in heights}

    def broadcast(self, tx: bytes) -> str:
        chain = self.enter("broadcast")
        parsed = Transaction.from_bytes(tx)
        if parsed.txid in chain.heights:
            raise BroadcastRejected("txn-already-in-mempool", backend=self.name)
        chain.add(parsed, None)
        return parsed.txid

    def close(self) -> None:
        return None


class AsyncMemoryBackend:
    """The async flavour: a MemoryBackend's answers after an asyncio sleep of its latency
    (of its timeout for "hang"); `faults`, `calls` and `descriptor_scan` are the inner's."""

    def __init__(self, name: str, timeout: float) -> None:
        self.inner = MemoryBackend(name, timeout)
        self.inner.blocking = False
        self.name = self.inner.name
        self.faults = self.inner.faults
        self.calls = self.inner.calls
        self.closed = 0
        self.waiting = 0
        self.most_waiting = 0  # the most calls awaited at once: concurrency seen

    @property
    def descriptor_scan(self) -> bool:
        return self.inner.descriptor_scan

    async def _wait(self) -> None:
        self.waiting += 1
        self.most_waiting = max(self.most_waiting, self.waiting)
        try:
            await asyncio.sleep(self.faults.get("latency", 0.0))
            if self.faults.get("hang"):
                await asyncio.sleep(self.inner.timeout)
        finally:
            self.waiting -= 1

    async def ping(self) -> None:
        await self._wait()
        self.inner.ping()

    async def genesis_hash(self) -> str:
        await self._wait()
        return self.inner.genesis_hash()

    async def tip(self, *, min_height: int = 0) -> Tip:
        await self._wait()
        return self.inner.tip(min_height=min_height)

    async def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        await self._wait()
        return self.inner.scan_scripts(scripts)

    async def scan_descriptor(
        self, descriptor: WolletDescriptor, *, gap_limit: int, to_index: int
    ) -> DescriptorHistories:
        await self._wait()
        return self.inner.scan_descriptor(descriptor, gap_limit=gap_limit, to_index=to_index)

    async def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        await self._wait()
        return self.inner.get_raw_txs(txids)

    async def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        await self._wait()
        return self.inner.block_headers(heights)

    async def broadcast(self, tx: bytes) -> str:
        await self._wait()
        return self.inner.broadcast(tx)

    async def close(self) -> None:
        self.closed += 1


class MemoryClient(Client):
    """A client of `memory://NAME` built by hand (the plugin must be loaded)."""

    connection: MemoryBackend

    def __init__(self, name: str, network: Network | None = None, *, timeout: float = 1.0) -> None:
        backend = MemoryBackend(name, timeout)
        super().__init__(backend, name=backend.name, network=network, plugin=__name__)

    @property
    def conn(self) -> MemoryBackend:
        return self.connection


@hookimpl
def lwk_schemes() -> list[str]:
    return ["memory"]


@hookimpl
def lwk_connect(
    url: str, network: Network | None, options: Mapping[str, Any], asynchronous: bool
) -> MemoryBackend | AsyncMemoryBackend:
    unknown = set(options) - {"timeout"}
    if unknown:
        raise TypeError(f"memory:// takes only a timeout, not {', '.join(sorted(unknown))}")
    flavour = AsyncMemoryBackend if asynchronous else MemoryBackend
    return flavour(url.removeprefix("memory://"), float(options.get("timeout", 1.0)))


# Each hook below answers for both flavours: what the backend's method returns is the answer
# of a MemoryBackend, the awaitable of it for an AsyncMemoryBackend (core awaits it).


@hookimpl
def lwk_ping(connection: MemoryBackend) -> Any:
    return connection.ping() or True  # None from a blocking backend; a coroutine is truthy


@hookimpl
def lwk_genesis_hash(connection: MemoryBackend) -> str:
    return connection.genesis_hash()


@hookimpl
def lwk_tip(connection: MemoryBackend, min_height: int) -> Tip:
    return connection.tip(min_height=min_height)


@hookimpl
def lwk_scan_scripts(
    connection: MemoryBackend, scripts: Sequence[bytes]
) -> list[list[HistoryEntry]]:
    return connection.scan_scripts(scripts)


@hookimpl
def lwk_scan_descriptor(
    connection: MemoryBackend, descriptor: WolletDescriptor, gap_limit: int, to_index: int
) -> DescriptorHistories | None:
    if not connection.descriptor_scan:
        return None
    return connection.scan_descriptor(descriptor, gap_limit=gap_limit, to_index=to_index)


@hookimpl
def lwk_get_tx(connection: MemoryBackend, txids: Sequence[str]) -> list[bytes]:
    return connection.get_raw_txs(txids)


@hookimpl
def lwk_block_headers(connection: MemoryBackend, heights: Sequence[int]) -> dict[int, bytes]:
    return connection.block_headers(heights)


@hookimpl
def lwk_broadcast(connection: MemoryBackend, tx: bytes) -> str:
    return connection.broadcast(tx)


@hookimpl
def lwk_close(connection: MemoryBackend) -> Any:
    return connection.close()
