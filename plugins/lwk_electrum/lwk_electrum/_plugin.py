"""The lwk-electrum hook implementations (entry point "electrum" in group "lwk.backends").

Core calls each hook only with a backend this plugin created (an ElectrumSession).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lwk_core.plugin import HistoryEntry, Network, Tip, hookimpl

from ._client import ElectrumClient
from ._session import ElectrumSession

__all__ = [
    "lwk_block_timestamps",
    "lwk_broadcast",
    "lwk_close",
    "lwk_connect",
    "lwk_genesis_hash",
    "lwk_get_tx",
    "lwk_ping",
    "lwk_scan_scripts",
    "lwk_schemes",
    "lwk_tip",
]

SCHEMES = ("tcp", "ssl")


@hookimpl
def lwk_schemes() -> list[str]:
    return list(SCHEMES)


@hookimpl
def lwk_connect(url: str, network: Network | None, options: Mapping[str, Any]) -> ElectrumClient:
    return ElectrumClient.from_url(url, network=network, **options)


@hookimpl
def lwk_ping(connection: ElectrumSession) -> bool:
    connection.ping()
    return True


@hookimpl
def lwk_genesis_hash(connection: ElectrumSession) -> str:
    return connection.genesis_hash()


@hookimpl
def lwk_tip(connection: ElectrumSession, min_height: int) -> Tip:
    return connection.tip(min_height=min_height)


@hookimpl
def lwk_scan_scripts(
    connection: ElectrumSession, scripts: Sequence[bytes]
) -> list[list[HistoryEntry]]:
    return connection.scan_scripts(scripts)


@hookimpl
def lwk_get_tx(connection: ElectrumSession, txids: Sequence[str]) -> list[bytes]:
    return connection.get_raw_txs(txids)


@hookimpl
def lwk_block_timestamps(connection: ElectrumSession, heights: Sequence[int]) -> dict[int, int]:
    return connection.block_timestamps(heights)


@hookimpl
def lwk_broadcast(connection: ElectrumSession, tx: bytes) -> str:
    return connection.broadcast(tx)


@hookimpl
def lwk_close(connection: ElectrumSession) -> None:
    connection.close()
