"""The lwk-electrum hook implementations (entry point "electrum" in group "lwk.backends").

Core calls each hook only with a backend this plugin created: an ElectrumSession, or an
AsyncElectrumSession when `lwk_core.connect_async` asked. Each hook answers for both: what
the session's method returns, which for the async session is the awaitable core awaits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeAlias, TypeVar

from lwk_core.plugin import HistoryEntry, MerkleProof, Network, ScriptUsage, Tip, hookimpl

from ._async_client import AsyncElectrumClient
from ._async_session import AsyncElectrumSession
from ._client import ElectrumClient
from ._session import ElectrumSession

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
    "lwk_scan_usage",
    "lwk_schemes",
    "lwk_tip",
]

SCHEMES = ("tcp", "ssl")

Session = ElectrumSession | AsyncElectrumSession
T = TypeVar("T")
Answer: TypeAlias = T | Awaitable[T]  # a blocking session's answer, or an async session's awaitable


@hookimpl
def lwk_schemes() -> list[str]:
    return list(SCHEMES)


@hookimpl
def lwk_connect(
    url: str, network: Network | None, options: Mapping[str, Any], asynchronous: bool
) -> ElectrumClient | AsyncElectrumClient:
    flavour = AsyncElectrumClient if asynchronous else ElectrumClient
    return flavour.from_url(url, network=network, **options)


@hookimpl
def lwk_ping(connection: Session) -> Any:
    answer = connection.ping()  # None from a blocking session, else the awaitable
    return True if answer is None else answer


@hookimpl
def lwk_genesis_hash(connection: Session) -> Answer[str]:
    return connection.genesis_hash()


@hookimpl
def lwk_tip(connection: Session, min_height: int) -> Answer[Tip]:
    return connection.tip(min_height=min_height)


@hookimpl
def lwk_scan_scripts(
    connection: Session, scripts: Sequence[bytes]
) -> Answer[list[list[HistoryEntry]]]:
    return connection.scan_scripts(scripts)


@hookimpl
def lwk_scan_usage(
    connection: Session, scripts: Sequence[bytes], pending: Sequence[bytes]
) -> Answer[ScriptUsage]:
    return connection.scan_usage(scripts, pending)


@hookimpl
def lwk_get_tx(connection: Session, txids: Sequence[str]) -> Answer[list[bytes]]:
    return connection.get_raw_txs(txids)


@hookimpl
def lwk_block_headers(connection: Session, heights: Sequence[int]) -> Answer[dict[int, bytes]]:
    return connection.block_headers(heights)


@hookimpl
def lwk_merkle_proofs(
    connection: Session, confirmed: Sequence[tuple[str, int]]
) -> Answer[list[MerkleProof]]:
    return connection.merkle_proofs(confirmed)


@hookimpl
def lwk_broadcast(connection: Session, tx: bytes) -> Answer[str]:
    return connection.broadcast(tx)


@hookimpl
def lwk_close(connection: Session) -> Any:
    return connection.close()
