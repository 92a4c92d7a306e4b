"""A third-party network backend, as an outside author would write one: an Esplora client
built on the standard library only (http.client), behind its own URL scheme.

`tinyesplora://HOST:PORT[/PATH]` is the Esplora REST API at `http://HOST:PORT[/PATH]`
(plain HTTP: a test-only example, no TLS). It imports nothing but the public SDK
(`lwk_core.plugin`), and passes lwk-regtest's backend conformance kit
(tests/test_thirdparty_conformance.py)::

    client = lwk_core.connect("tinyesplora://127.0.0.1:3000", network, timeout=5.0)
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from lwk_core.plugin import HistoryEntry, MerkleProof, Network, PluginError, Tip, hookimpl

from ._backend import TinyEsploraBackend
from ._http import HttpLink

__all__ = ["SCHEME", "TinyEsploraBackend"]

SCHEME = "tinyesplora"


@hookimpl
def lwk_schemes() -> list[str]:
    return [SCHEME]


@hookimpl
def lwk_connect(
    url: str, network: Network | None, options: Mapping[str, Any]
) -> TinyEsploraBackend:
    unknown = sorted(set(options) - {"timeout"})
    if unknown:
        raise TypeError(f"{SCHEME}:// takes only a timeout, not {', '.join(unknown)}")
    timeout = float(options.get("timeout", 30.0))
    if not timeout > 0:
        raise PluginError("the timeout must be a positive number of seconds")
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or 80
    except ValueError:
        raise PluginError(f"{SCHEME}:// URL with an invalid port") from None
    if not parts.hostname or parts.username or parts.password or parts.query:
        raise PluginError(f"expected {SCHEME}://HOST:PORT[/PATH], without credentials or query")
    name = f"{SCHEME}://{parts.hostname}:{port}"
    link = HttpLink(parts.hostname, port, parts.path.rstrip("/"), timeout=timeout, name=name)
    return TinyEsploraBackend(link)


@hookimpl
def lwk_ping(connection: TinyEsploraBackend) -> bool:
    connection.ping()
    return True


@hookimpl
def lwk_genesis_hash(connection: TinyEsploraBackend) -> str:
    return connection.genesis_hash()


@hookimpl
def lwk_tip(connection: TinyEsploraBackend, min_height: int) -> Tip:
    return connection.tip(min_height=min_height)


@hookimpl
def lwk_scan_scripts(
    connection: TinyEsploraBackend, scripts: Sequence[bytes]
) -> list[list[HistoryEntry]]:
    return connection.scan_scripts(scripts)


@hookimpl
def lwk_get_tx(connection: TinyEsploraBackend, txids: Sequence[str]) -> list[bytes]:
    return connection.get_raw_txs(txids)


@hookimpl
def lwk_block_headers(connection: TinyEsploraBackend, heights: Sequence[int]) -> dict[int, bytes]:
    return connection.block_headers(heights)


@hookimpl
def lwk_merkle_proofs(
    connection: TinyEsploraBackend, confirmed: Sequence[tuple[str, int]]
) -> list[MerkleProof]:
    return connection.merkle_proofs(confirmed)


@hookimpl
def lwk_broadcast(connection: TinyEsploraBackend, tx: bytes) -> str:
    return connection.broadcast(tx)


@hookimpl
def lwk_close(connection: TinyEsploraBackend) -> None:
    connection.close()
