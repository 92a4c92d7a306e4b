"""The lwk.backends entry point "esplora": hook implementations for http:// and https://."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lwk_core import HistoryEntry, Network, Tip
from lwk_core.plugin import hookimpl

from ._backend import EsploraBackend

if TYPE_CHECKING:
    from ._client import EsploraClient

__all__ = [
    "lwk_block_timestamps",
    "lwk_broadcast",
    "lwk_close",
    "lwk_connect",
    "lwk_get_tx",
    "lwk_ping",
    "lwk_scan_scripts",
    "lwk_schemes",
    "lwk_tip",
]

SCHEMES = ("http", "https")
OPTIONS = frozenset(
    {"timeout", "concurrency", "headers", "proxy", "max_retries", "verify", "transport"}
)


@hookimpl
def lwk_schemes() -> list[str]:
    return list(SCHEMES)


@hookimpl
def lwk_connect(
    url: str, network: Network | None, options: Mapping[str, Any]
) -> EsploraClient | None:
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        return None
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise TypeError(f"unknown Esplora option(s): {', '.join(unknown)}")
    if network is None:
        raise TypeError("an Esplora URL needs its network: connect(url, Network.LIQUID, ...)")
    from ._client import EsploraClient  # here: _client imports this module

    return EsploraClient(url, network, **options)


@hookimpl
def lwk_ping(connection: object) -> bool | None:
    return connection.ping() if isinstance(connection, EsploraBackend) else None


@hookimpl
def lwk_tip(connection: object) -> Tip | None:
    return connection.tip() if isinstance(connection, EsploraBackend) else None


@hookimpl
def lwk_scan_scripts(
    connection: object, scripts: Sequence[bytes]
) -> list[list[HistoryEntry]] | None:
    if not isinstance(connection, EsploraBackend):
        return None
    return connection.scan_scripts(scripts)


@hookimpl
def lwk_get_tx(connection: object, txids: Sequence[str]) -> list[bytes] | None:
    return connection.get_txs(txids) if isinstance(connection, EsploraBackend) else None


@hookimpl
def lwk_block_timestamps(connection: object, heights: Sequence[int]) -> dict[int, int] | None:
    if not isinstance(connection, EsploraBackend):
        return None
    return connection.block_timestamps(heights)


@hookimpl
def lwk_broadcast(connection: object, tx: bytes) -> str | None:
    return connection.broadcast(tx) if isinstance(connection, EsploraBackend) else None


@hookimpl
def lwk_close(connection: object) -> None:
    if isinstance(connection, EsploraBackend):
        connection.close()
