"""Hook specifications: the contract between lwk-core and backend plugins.

Every hook except `lwk_connect`, `lwk_schemes` and `lwk_close` is `firstresult`: core calls
it with a `connection` object created by some plugin's `lwk_connect`; each plugin returns
None unless the connection is its own (check with isinstance), and the owner answers.

Backends answer with plain data; core verifies it (txids are re-hashed, heights are
checked against the tip). Raise a `lwk_core.BackendError` subclass for transport
failures, timeouts and malformed answers: that is what makes a BackendChain fail over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import hookspec

if TYPE_CHECKING:
    from .._client import Client
    from .._network import Network
    from .._types import HistoryEntry, Tip


@hookspec
def lwk_schemes() -> list[str]:  # type: ignore[empty-body]
    """The URL schemes this plugin owns, e.g. ["tcp", "ssl"].

    Called when plugins are loaded, to list them and to detect two plugins claiming one
    scheme (a PluginError).
    """


@hookspec(firstresult=True)
def lwk_connect(url: str, network: Network | None, options: Mapping[str, Any]) -> Client | None:
    """Return a client for `url` if this plugin owns its scheme, else None.

    Must not do network I/O: the first request connects. `options` are the keyword
    arguments given to `lwk_core.connect` (timeout, ...); reject unknown ones with a
    TypeError.
    """


@hookspec(firstresult=True)
def lwk_ping(connection: object) -> bool | None:
    """Check the server answers; return True. Called by `Client.ping()`."""


@hookspec(firstresult=True)
def lwk_tip(connection: object) -> Tip | None:
    """Return the server's best block: height, hash, timestamp and raw header.

    Called once at the start of each scan, before any history is fetched.
    """


@hookspec(firstresult=True)
def lwk_scan_scripts(
    connection: object, scripts: Sequence[bytes]
) -> list[list[HistoryEntry]] | None:
    """Return the history of each script (unconfidential scriptPubKey bytes), in order.

    One list per script, each entry (txid, height or None for mempool, optional block
    time). Called by the orchestrator with batches of scripts (20 by default per chain).
    A backend may answer from a cache it keeps valid (e.g. Electrum status hashes).
    """


@hookspec(firstresult=True)
def lwk_get_tx(connection: object, txids: Sequence[str]) -> list[bytes] | None:
    """Return the raw transactions for `txids` (display hex), in the same order.

    Called for the transactions the wallet does not know yet. Core checks that each
    returned byte string hashes to the txid asked for.
    """


@hookspec(firstresult=True)
def lwk_block_timestamps(connection: object, heights: Sequence[int]) -> dict[int, int] | None:
    """Return block time for each height of the best chain (from its header).

    Called for confirmation heights whose time the history did not already carry.
    """


@hookspec(firstresult=True)
def lwk_broadcast(connection: object, tx: bytes) -> str | None:
    """Send a raw transaction and return its txid.

    Raise `lwk_core.BroadcastRejected` with the node's reason when the server refuses
    the transaction itself (that is not a backend failure: a chain does not fail over).
    """


@hookspec
def lwk_close(connection: object) -> None:
    """Release the connection's sockets and threads (owner only; others ignore it)."""
