"""The lwk.backends entry point "waterfalls": hooks for waterfalls+http(s):// URLs.

Core calls each hook only with a backend this plugin created: a WaterfallsBackend, or for
`connect_async` an AsyncWaterfallsBackend. Each hook returns what the backend's method
returns: the answer, or for the async backend the awaitable of it, which core awaits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lwk_core import WolletDescriptor
from lwk_core.plugin import (
    DescriptorHistories,
    HistoryEntry,
    MerkleProof,
    Network,
    Tip,
    hookimpl,
)

from ._backend import AsyncWaterfallsBackend, WaterfallsBackend
from ._client import SCHEMES, AsyncWaterfallsClient, WaterfallsClient

__all__ = [
    "lwk_block_headers",
    "lwk_broadcast",
    "lwk_close",
    "lwk_connect",
    "lwk_get_tx",
    "lwk_merkle_proofs",
    "lwk_ping",
    "lwk_scan_descriptor",
    "lwk_scan_scripts",
    "lwk_schemes",
    "lwk_tip",
]

OPTIONS = frozenset(
    {
        "send_descriptor",
        "utxo_only",
        "cbor",
        "timeout",
        "concurrency",
        "headers",
        "proxy",
        "trust_env",
        "max_retries",
        "verify",
        "ca_file",
        "cert_fingerprint",
        "token",
        "allow_insecure_auth",
        "transport",
        "verify_merkle",
    }
)


@hookimpl
def lwk_schemes() -> list[str]:
    return list(SCHEMES)


@hookimpl
def lwk_connect(
    url: str, network: Network | None, options: Mapping[str, Any], asynchronous: bool
) -> WaterfallsClient | AsyncWaterfallsClient:
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise TypeError(f"unknown Waterfalls option(s): {', '.join(unknown)}")
    if network is None:
        raise TypeError("a Waterfalls URL needs its network: connect(url, Network.LIQUID, ...)")
    flavour = AsyncWaterfallsClient if asynchronous else WaterfallsClient
    return flavour(url, network, **options)


@hookimpl
def lwk_ping(connection: WaterfallsBackend | AsyncWaterfallsBackend) -> Any:
    answer = connection.ping()  # None from the blocking backend, else an awaitable
    return True if answer is None else answer


@hookimpl
def lwk_genesis_hash(connection: WaterfallsBackend) -> str:
    return connection.genesis_hash()


@hookimpl
def lwk_tip(connection: WaterfallsBackend, min_height: int) -> Tip:
    return connection.tip(min_height=min_height)


@hookimpl
def lwk_scan_scripts(
    connection: WaterfallsBackend, scripts: Sequence[bytes]
) -> list[list[HistoryEntry]]:
    return connection.scan_scripts(scripts)


@hookimpl
def lwk_scan_descriptor(
    connection: WaterfallsBackend, descriptor: WolletDescriptor, gap_limit: int, to_index: int
) -> DescriptorHistories | None:
    return connection.scan_descriptor(descriptor, gap_limit=gap_limit, to_index=to_index)


@hookimpl
def lwk_get_tx(connection: WaterfallsBackend, txids: Sequence[str]) -> list[bytes]:
    return connection.get_raw_txs(txids)


@hookimpl
def lwk_block_headers(connection: WaterfallsBackend, heights: Sequence[int]) -> dict[int, bytes]:
    return connection.block_headers(heights)


@hookimpl
def lwk_merkle_proofs(
    connection: WaterfallsBackend, confirmed: Sequence[tuple[str, int]]
) -> list[MerkleProof]:
    return connection.merkle_proofs(confirmed)


@hookimpl
def lwk_broadcast(connection: WaterfallsBackend, tx: bytes) -> str:
    return connection.broadcast(tx)


@hookimpl
def lwk_close(connection: WaterfallsBackend) -> Any:
    return connection.close()
