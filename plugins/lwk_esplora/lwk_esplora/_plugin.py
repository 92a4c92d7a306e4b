"""The lwk.backends entry point "esplora": hook implementations for http:// and https://.

Core calls each hook only with a backend this plugin created: an EsploraBackend, or for
`connect_async` an AsyncEsploraBackend. Each hook returns what the backend's method
returns: the answer, or for the async backend the awaitable of it, which core awaits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lwk_core.plugin import HistoryEntry, MerkleProof, Network, Tip, hookimpl

from ._backend import AsyncEsploraBackend, EsploraBackend
from ._client import AsyncEsploraClient, EsploraClient

__all__ = [
    "lwk_block_headers",
    "lwk_broadcast",
    "lwk_close",
    "lwk_connect",
    "lwk_genesis_hash",
    "lwk_get_tx",
    "lwk_merkle_proofs",
    "lwk_ping",
    "lwk_scan_scripts",
    "lwk_schemes",
    "lwk_tip",
]

SCHEMES = ("http", "https")
OPTIONS = frozenset(
    {
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
) -> EsploraClient | AsyncEsploraClient:
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise TypeError(f"unknown Esplora option(s): {', '.join(unknown)}")
    if network is None:
        raise TypeError("an Esplora URL needs its network: connect(url, Network.LIQUID, ...)")
    flavour = AsyncEsploraClient if asynchronous else EsploraClient
    return flavour(url, network, **options)


@hookimpl
def lwk_ping(connection: EsploraBackend | AsyncEsploraBackend) -> Any:
    answer = connection.ping()  # None from the blocking backend, else an awaitable
    return True if answer is None else answer


@hookimpl
def lwk_genesis_hash(connection: EsploraBackend) -> str:
    return connection.genesis_hash()


@hookimpl
def lwk_tip(connection: EsploraBackend, min_height: int) -> Tip:
    return connection.tip(min_height=min_height)


@hookimpl
def lwk_scan_scripts(
    connection: EsploraBackend, scripts: Sequence[bytes]
) -> list[list[HistoryEntry]]:
    return connection.scan_scripts(scripts)


@hookimpl
def lwk_get_tx(connection: EsploraBackend, txids: Sequence[str]) -> list[bytes]:
    return connection.get_raw_txs(txids)


@hookimpl
def lwk_block_headers(connection: EsploraBackend, heights: Sequence[int]) -> dict[int, bytes]:
    return connection.block_headers(heights)


@hookimpl
def lwk_merkle_proofs(
    connection: EsploraBackend, confirmed: Sequence[tuple[str, int]]
) -> list[MerkleProof]:
    return connection.merkle_proofs(confirmed)


@hookimpl
def lwk_broadcast(connection: EsploraBackend, tx: bytes) -> str:
    return connection.broadcast(tx)


@hookimpl
def lwk_close(connection: EsploraBackend) -> Any:
    return connection.close()
