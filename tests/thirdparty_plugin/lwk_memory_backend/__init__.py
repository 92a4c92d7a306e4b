"""A third-party backend plugin, installed as its own distribution for the tests.

`memory://NAME` connects to the in-process `MemoryChain` registered under NAME. Each
connection can be told to misbehave (`faults`), which is how the failover tests drive
backends that refuse, hang, answer garbage or die mid-scan without any network.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from lwk_core import (
    BackendConnectError,
    BackendProtocolError,
    BackendTimeout,
    BroadcastRejected,
    HistoryEntry,
    Network,
    Tip,
)
from lwk_core._client import Client
from lwk_core._transaction import Transaction
from lwk_core.plugin import hookimpl

__all__ = ["MemoryChain", "MemoryClient", "register_chain"]

_chains: dict[str, MemoryChain] = {}


class MemoryChain:
    """Transactions at heights (None = mempool) with block times, and a tip."""

    def __init__(self, network: Network = Network.ELEMENTS_REGTEST) -> None:
        self.network = network
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
        return Tip(height=h, hash=f"{h:064x}", timestamp=self.times.get(h, 1_700_000_000 + h))

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


def register_chain(name: str, chain: MemoryChain) -> None:
    _chains[name] = chain


class MemoryConnection:
    """`faults`: {"refuse"|"hang"|"garbage"|"wrong_tx"|"lying_tip": True, "die_after": N}."""

    def __init__(self, name: str, timeout: float) -> None:
        self.name = name
        self.timeout = timeout
        self.faults: dict[str, Any] = {}
        self.calls: list[str] = []

    @property
    def chain(self) -> MemoryChain:
        try:
            return _chains[self.name]
        except KeyError:
            raise BackendConnectError("no such chain", backend=f"memory://{self.name}") from None

    def enter(self, call: str) -> MemoryChain:
        self.calls.append(call)
        backend = f"memory://{self.name}"
        if self.faults.get("refuse"):
            raise BackendConnectError("connection refused", backend=backend)
        if self.faults.get("hang"):
            time.sleep(self.timeout)
            raise BackendTimeout(f"no answer within {self.timeout}s", backend=backend)
        die_after = self.faults.get("die_after")
        if die_after is not None and len(self.calls) > die_after:
            raise BackendConnectError("connection reset by peer", backend=backend)
        return self.chain


class MemoryClient(Client):
    def __init__(self, name: str, network: Network | None = None, *, timeout: float = 1.0) -> None:
        import lwk_memory_backend

        self.conn = MemoryConnection(name, timeout)
        super().__init__(
            self.conn, name=f"memory://{name}", network=network, plugin=lwk_memory_backend
        )


def _ours(connection: object) -> MemoryConnection | None:
    return connection if isinstance(connection, MemoryConnection) else None


@hookimpl
def lwk_schemes() -> list[str]:
    return ["memory"]


@hookimpl
def lwk_connect(url: str, network: Network | None, options: Mapping[str, Any]) -> Client | None:
    if not url.startswith("memory://"):
        return None
    return MemoryClient(url.removeprefix("memory://"), network, **options)


@hookimpl
def lwk_ping(connection: object) -> bool | None:
    if (conn := _ours(connection)) is None:
        return None
    conn.enter("ping")
    return True


@hookimpl
def lwk_tip(connection: object) -> Tip | None:
    if (conn := _ours(connection)) is None:
        return None
    tip = conn.enter("tip").tip()
    if conn.faults.get("lying_tip"):
        return Tip(height=tip.height + 1000, hash="ff" * 32, timestamp=tip.timestamp)
    return tip


@hookimpl
def lwk_scan_scripts(
    connection: object, scripts: Sequence[bytes]
) -> list[list[HistoryEntry]] | None:
    if (conn := _ours(connection)) is None:
        return None
    chain = conn.enter("scan_scripts")
    if conn.faults.get("garbage"):
        raise BackendProtocolError("unparseable answer", backend=f"memory://{conn.name}")
    return [chain.history(script) for script in scripts]


@hookimpl
def lwk_get_tx(connection: object, txids: Sequence[str]) -> list[bytes] | None:
    if (conn := _ours(connection)) is None:
        return None
    chain = conn.enter("get_tx")
    raws = [chain.txs[txid].to_bytes() for txid in txids]
    if conn.faults.get("wrong_tx") and raws:
        other = next(tx for txid, tx in chain.txs.items() if txid != txids[0])
        raws[0] = other.to_bytes()
    return raws


@hookimpl
def lwk_block_timestamps(connection: object, heights: Sequence[int]) -> dict[int, int] | None:
    if (conn := _ours(connection)) is None:
        return None
    chain = conn.enter("block_timestamps")
    return {h: chain.times.get(h, 1_700_000_000 + h) for h in heights}


@hookimpl
def lwk_broadcast(connection: object, tx: bytes) -> str | None:
    if (conn := _ours(connection)) is None:
        return None
    chain = conn.enter("broadcast")
    parsed = Transaction.from_bytes(tx)
    if parsed.txid in chain.heights:
        raise BroadcastRejected("txn-already-in-mempool", backend=f"memory://{conn.name}")
    chain.add(parsed, None)
    return parsed.txid


@hookimpl
def lwk_close(connection: object) -> None:
    return None
