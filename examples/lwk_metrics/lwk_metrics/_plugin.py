"""The wrapper hook implementations: time the inner call, record it, pass the result on.

For an async backend the owner answers an awaitable: `when_done` records once it has been
awaited, so the time is the backend's work, not the coroutine's creation.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from typing import Any

from lwk_core.plugin import hookimpl, when_done

from ._stats import record


def _plugin_of(connection: object) -> str:
    """Name a connection by the top-level package that defined its class."""
    return type(connection).__module__.split(".")[0]


def _timed(hook: str, connection: object) -> Generator[None, Any, Any]:
    started = time.perf_counter()

    def done(failed: bool) -> None:
        record(_plugin_of(connection), hook, time.perf_counter() - started, failed)

    return (yield from when_done(done))


@hookimpl(wrapper=True)
def lwk_ping(connection: object) -> Generator[None, Any, Any]:
    return (yield from _timed("ping", connection))


@hookimpl(wrapper=True)
def lwk_genesis_hash(connection: object) -> Generator[None, Any, Any]:
    return (yield from _timed("genesis_hash", connection))


@hookimpl(wrapper=True)
def lwk_tip(connection: object) -> Generator[None, Any, Any]:
    return (yield from _timed("tip", connection))


@hookimpl(wrapper=True)
def lwk_scan_scripts(connection: object, scripts: Sequence[bytes]) -> Generator[None, Any, Any]:
    return (yield from _timed("scan_scripts", connection))


@hookimpl(wrapper=True)
def lwk_scan_usage(
    connection: object, scripts: Sequence[bytes], pending: Sequence[bytes]
) -> Generator[None, Any, Any]:
    return (yield from _timed("scan_usage", connection))


@hookimpl(wrapper=True)
def lwk_get_tx(connection: object, txids: Sequence[str]) -> Generator[None, Any, Any]:
    return (yield from _timed("get_tx", connection))


@hookimpl(wrapper=True)
def lwk_block_headers(connection: object, heights: Sequence[int]) -> Generator[None, Any, Any]:
    return (yield from _timed("block_headers", connection))


@hookimpl(wrapper=True)
def lwk_merkle_proofs(
    connection: object, confirmed: Sequence[tuple[str, int]]
) -> Generator[None, Any, Any]:
    return (yield from _timed("merkle_proofs", connection))


@hookimpl(wrapper=True)
def lwk_broadcast(connection: object, tx: bytes) -> Generator[None, Any, Any]:
    return (yield from _timed("broadcast", connection))


@hookimpl(wrapper=True)
def lwk_scan_descriptor(
    connection: object, descriptor: object, gap_limit: int, to_index: int
) -> Generator[None, Any, Any]:
    return (yield from _timed("scan_descriptor", connection))
