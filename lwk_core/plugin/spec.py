"""Hook specifications: the contract between lwk-core and backend plugins.

A call about a backend (every hook taking `connection`) reaches only the plugin whose
`lwk_connect` created that backend, plus wrapper plugins (`@hookimpl(wrapper=True)`), which
see every backend's calls. So an owner's implementation receives its own `Backend` and
always answers; None from it is a PluginError, except for `lwk_scan_descriptor` and
`lwk_scan_usage`, where it means "not offered". A plugin usually implements each hook by
calling the method of the same name on its backend (see `lwk_core.plugin.Backend`).

Async backends (`lwk_core.plugin.AsyncBackend`) are offered through these same hooks:
`lwk_connect(..., asynchronous=True)` asks for one, and every later hook returns the
awaitable of its backend's method (`return connection.tip(min_height=min_height)`), which
core awaits. A wrapper sees that awaitable: `return (yield from when_done(done))` observes
the awaited work rather than the coroutine's creation (`lwk_core.plugin.when_done`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._markers import hookspec

if TYPE_CHECKING:
    from .._async_backend import AsyncBackend
    from .._backend import Backend, DescriptorHistories
    from .._descriptor import WolletDescriptor
    from .._network import Network
    from .._types import HistoryEntry, MerkleProof, ScriptUsage, Tip


@hookspec
def lwk_schemes() -> list[str]:  # type: ignore[empty-body]
    """The URL schemes this plugin owns, e.g. ["tcp", "ssl"].

    Called when plugins are loaded, to list them, to detect two plugins claiming one scheme
    (a PluginError), and to pick the one plugin `connect` asks for a URL.
    """


@hookspec(firstresult=True)
def lwk_connect(  # type: ignore[empty-body]
    url: str, network: Network | None, options: Mapping[str, Any], asynchronous: bool
) -> Backend | AsyncBackend:
    """Return the backend for `url` (called only on the plugin owning its scheme).

    Core wraps the `Backend` in a `lwk_core.Client`; a plugin with its own Client subclass
    (extra methods, e.g. ElectrumClient.watch) may return an instance of it instead. Must
    not do network I/O: the first request connects. `options` are the keyword arguments given to
    `lwk_core.connect` (timeout, ...); reject unknown ones with a TypeError.

    `asynchronous` is True when `lwk_core.connect_async` asks: return an `AsyncBackend`
    (core wraps it in a `lwk_core.AsyncClient`) or the plugin's AsyncClient subclass. A
    plugin without one may leave the argument out of its signature: asked for one, it then
    answers a blocking backend, which `connect_async` refuses with a PluginError.
    """


@hookspec(firstresult=True)
def lwk_ping(connection: Backend) -> bool:  # type: ignore[empty-body]
    """Check the server answers; return True. Called by `Client.ping()`."""


@hookspec(firstresult=True)
def lwk_genesis_hash(connection: Backend) -> str:  # type: ignore[empty-body]
    """Return the hash of the server's block 0 (display hex): which chain it serves.

    Asked once per client before its first wallet scan (again after `close`); a hash other
    than the wallet's network's (or its pinned regtest chain's) is a WrongNetwork error.
    """


@hookspec(firstresult=True)
def lwk_tip(connection: Backend, min_height: int) -> Tip:  # type: ignore[empty-body]
    """Return the server's best block: height, hash, timestamp and raw header if known.

    A scan asks it once its histories are in (again if a history is above it), so a backend
    keeping a tip pushed by its server has read every header sent before those answers.
    `min_height` is the highest confirmation height this backend's histories showed: a
    kept tip below it is stale. Core checks a given header against the height, hash and
    time.
    """


@hookspec(firstresult=True)
def lwk_scan_scripts(  # type: ignore[empty-body]
    connection: Backend, scripts: Sequence[bytes]
) -> list[list[HistoryEntry]]:
    """Return the history of each script (unconfidential scriptPubKey bytes), in order.

    One list per script, each entry (txid, height or None for mempool, optional block
    time). A scan starts with it: per round one call holding the batches (`gap_limit`
    scripts each, 20 by default) of every chain. A backend may answer from a cache it keeps
    valid (e.g. Electrum status hashes).
    """


@hookspec(firstresult=True)
def lwk_scan_descriptor(
    connection: Backend, descriptor: WolletDescriptor, gap_limit: int, to_index: int
) -> DescriptorHistories | None:
    """Optional: the histories of a whole wallet in one request, for servers that derive the
    scripts themselves (Waterfalls). Per chain, the history of each script index 0..n-1 as
    the server scanned them, the server applying the gap limit (and reaching `to_index`).
    None (or not implementing it): not offered, core scans scripts instead.
    """


@hookspec(firstresult=True)
def lwk_scan_usage(
    connection: Backend, scripts: Sequence[bytes], pending: Sequence[bytes]
) -> ScriptUsage | None:
    """Optional: which scripts are used, for servers that tell it before (and cheaper than)
    the histories. Return a `ScriptUsage`: per script of `scripts`, its history or `USED`
    (it has one, not fetched yet), and the history of each of `pending` (scripts a previous
    call of this scan told USED), in order. A scan then asks each gap-limit round's usage
    together with the previous round's histories (one exchange per round, not two); the
    histories still pending at its end are asked with `lwk_scan_scripts`. None (or not
    implementing it): not offered, core asks `lwk_scan_scripts` for each round.
    """


@hookspec(firstresult=True)
def lwk_get_tx(connection: Backend, txids: Sequence[str]) -> list[bytes]:  # type: ignore[empty-body]
    """Return the raw transactions for `txids` (display hex), in the same order.

    Called for the transactions the wallet does not know yet. Core checks that each
    returned byte string hashes to the txid asked for.
    """


@hookspec(firstresult=True)
def lwk_block_headers(  # type: ignore[empty-body]
    connection: Backend, heights: Sequence[int]
) -> dict[int, bytes]:
    """Return the raw header of the best chain's block at each height: {height: bytes}.

    Called after the tip, for confirmation heights whose time the wallet and the tip do not
    give (and, without block signers, the histories), and for the blocks of confirmations
    to prove (`lwk_merkle_proofs`). Core parses each header, checks it is at its height and
    carries the block signers' signatures (`Client.block_signers`), and takes its time.
    """


@hookspec(firstresult=True)
def lwk_merkle_proofs(  # type: ignore[empty-body]
    connection: Backend, confirmed: Sequence[tuple[str, int]]
) -> list[MerkleProof]:
    """Return a `MerkleProof` of each (txid, height) a history of this backend gave, in
    order (Electrum's `blockchain.transaction.get_merkle`, Esplora's
    `/tx/:txid/merkle-proof`).

    Called only when the client's `verify_merkle` is on (SPV), once per (txid, height) per
    client until it closes. Core checks each proof against the header at that height
    (asked with `lwk_block_headers` and verified); a mismatch is a BackendProtocolError.
    """


@hookspec(firstresult=True)
def lwk_broadcast(connection: Backend, tx: bytes) -> str:  # type: ignore[empty-body]
    """Send a raw transaction and return its txid.

    Core parses the transaction first and checks the answered txid is its own. Raise
    `lwk_core.BroadcastRejected` with the node's reason when the server refuses the
    transaction itself (not a backend failure: a chain does not fail over).
    """


@hookspec
def lwk_close(connection: Backend) -> None:
    """Release the backend's sockets and threads (for an async backend: return the
    awaitable `connection.close()`)."""
