"""Client: a plugin's Backend driven through the hooks, its answers checked; and connect()."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, cast
from urllib.parse import urlsplit

import attrs

from ._backend import Backend, DescriptorHistories
from ._blocksign import Federation, pinned_federation
from ._descriptor import WolletDescriptor
from ._errors import (
    BackendProtocolError,
    BadBlockSignature,
    DecodeError,
    PluginError,
    WrongNetwork,
)
from ._header import BlockHeader
from ._network import Network
from ._proofs import Verification
from ._scan import DEFAULT_LIMITS, ScanLimits
from ._sync import get_txs, scan
from ._transaction import Transaction
from ._types import USED, HistoryEntry, MerkleProof, Progress, ScriptUsage, Tip
from ._update import Update
from ._watch import watch_events
from .plugin.manager import loaded, owner_hook, plugin_named, scheme_owner

if TYPE_CHECKING:
    from ._events import WalletEvent
    from ._wollet import Wollet

__all__ = [
    "BackendHandle",
    "Client",
    "ScanMethods",
    "connect",
    "connect_hook",
    "proven",
    "tx_bytes",
    "txid_of",
]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_PINNED: Any = object()  # block_signers not set: those pinned for the network


class ScanMethods:
    """LWK's `full_scan` names, shared by clients and chains, on top of their `sync`."""

    def sync(
        self,
        wollet: Wollet,
        gap_limit: int = 20,
        *,
        to_index: int = 0,
        progress: Progress | None = None,
        limits: ScanLimits = DEFAULT_LIMITS,
    ) -> Update | None:
        """Scan until `gap_limit` unused scripts per chain (and at least to `to_index`),
        once the server proved it serves the wallet's chain (WrongNetwork otherwise);
        `limits` bound what a server can make the scan do (ScanLimitExceeded)."""
        return self.scan_wallet(
            wollet, gap_limit=gap_limit, to_index=to_index, progress=progress, limits=limits
        )

    def scan_wallet(
        self,
        wollet: Wollet,
        *,
        gap_limit: int,
        to_index: int,
        progress: Progress | None = None,
        tx_cache: MutableMapping[str, Transaction] | None = None,
        limits: ScanLimits = DEFAULT_LIMITS,
    ) -> Update | None:
        """`sync`, sharing `tx_cache` (verified transactions) with other scans."""
        raise NotImplementedError

    def full_scan(
        self,
        wollet: Wollet,
        *,
        to_index: int = 0,
        progress: Progress | None = None,
        limits: ScanLimits = DEFAULT_LIMITS,
    ) -> Update | None:
        """Scan the wallet with the default gap limit (20). None when nothing changed."""
        return self.sync(wollet, 20, to_index=to_index, progress=progress, limits=limits)

    def full_scan_to_index(self, wollet: Wollet, index: int) -> Update | None:
        """Scan at least up to derivation `index` on each chain, beyond the gap limit."""
        return self.sync(wollet, 20, to_index=index)

    def watch(
        self,
        wollet: Wollet,
        *,
        gap_limit: int = 20,
        interval: float = 10.0,
        timeout: float | None = None,
    ) -> Iterator[WalletEvent]:
        """Sync `wollet` now and after each change, applying every Update and yielding its
        events (`Wollet.apply_update`'s), forever.

        A client whose server pushes changes (Electrum: new blocks, script statuses) is
        waited on; otherwise the backend is polled every `interval` seconds. A failing
        server is retried with a backoff (a chain fails over to its next backend). With
        `timeout`, the watch ends once `timeout` seconds of watching brought no event, and
        a failure lasting longer is raised. Building the iterator does no I/O. If the
        application applies updates of its own to `wollet` meanwhile, their events are
        theirs (`apply_update` returns them), and the watch syncs again from that state.
        """
        return watch_events(self, wollet, gap_limit=gap_limit, interval=interval, timeout=timeout)

    def _push_clients(self) -> Sequence[object]:
        return [self]

    def _served_last(self) -> object | None:
        return self


B = TypeVar("B")


class BackendHandle(Generic[B]):
    """What Client and AsyncClient share: a plugin's backend, the owner-only hook calls,
    and the checks of answers that hold for every plugin (whichever the flavour)."""

    def __init__(
        self,
        connection: B,
        *,
        name: str,
        plugin: object,
        network: Network | None = None,
        verify_merkle: bool = False,
    ) -> None:
        self._plugin = plugin_named(plugin) if isinstance(plugin, str) else loaded(plugin)
        self.connection = connection
        self.name = name  # shown in logs and errors: scheme://host:port, nothing secret
        self.network = network
        self._history_height = 0  # the highest confirmation height the histories showed
        self._genesis: str | None = None  # the server's block 0, asked once (until close)
        self._signers: Federation | None = _PINNED
        self._verified_header: bytes | None = None  # the last tip header found well signed
        self.verify_merkle = verify_merkle
        """SPV: prove each confirmation a scan reports with a Merkle proof against the
        (signed) header at its height, once per (txid, height) until `close()`."""
        self._proven: set[tuple[str, int]] = set()  # (txid, height) proven by this client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    @property
    def block_signers(self) -> Federation | None:
        """Whose signatures every tip header must carry; None turns the check off.

        By default the signers pinned for the client's network (Liquid, Liquid testnet; for a
        client made without a network, the network of the first wallet it scans), so the
        check is on there and off for regtest and custom chains until set. A tip without its
        header, or one they did not sign, is a BadBlockSignature (a chain fails over).
        Parameter changes a verified dynafed header proposes are followed
        (`Federation.follow`).
        """
        if self._signers is _PINNED:
            return pinned_federation(self.network)
        return self._signers

    @block_signers.setter
    def block_signers(self, signers: Federation | None) -> None:
        if signers is not None and not isinstance(signers, Federation):
            raise TypeError("block_signers must be a lwk_core.Federation or None")
        self._signers = signers
        self._verified_header = None

    def _forget(self) -> None:
        """On close: a later call may reach another server under the same name."""
        self._genesis = None
        self._proven.clear()

    def _verification(self) -> Verification:
        """What this client's scans check: see `block_signers` and `verify_merkle`."""
        return Verification(
            signers=lambda: self.block_signers, spv=self.verify_merkle, proven=self._proven
        )

    def _hook(self, hook: str, **kwargs: Any) -> Any:
        """The answer of the owning plugin (and wrappers); for an async backend, the
        awaitable of it. None is a PluginError (`lwk_scan_descriptor` aside)."""
        result = owner_hook(hook, self._plugin)(connection=self.connection, **kwargs)
        if result is None:
            raise PluginError(f"the plugin of {self.name} did not answer {hook}")
        return result

    def _hook_optional(self, hook: str, **kwargs: Any) -> Any:
        return owner_hook(hook, self._plugin)(connection=self.connection, **kwargs)

    def _kept_genesis(self, served: Any) -> str:
        """The genesis the server answered, checked to be a hash and kept until `close()`."""
        if not (isinstance(served, str) and _HEX64.fullmatch(served.lower())):
            raise BackendProtocolError("the genesis answered is no hash", backend=self.name)
        self._genesis = served.lower()
        return self._genesis

    def _chain_checked(self, wollet: Wollet, served: str) -> str:
        """`served`, the server's genesis, if it is the chain `wollet` follows (see
        `check_chain`); WrongNetwork otherwise."""
        if wollet.state.follows(served):
            return served
        expected = wollet.genesis_hash
        follows = f"{wollet.network.value} (not pinned to a chain yet)"
        raise WrongNetwork(
            f"the server serves {_chain_name(served)}, the wallet follows "
            f"{_chain_name(expected, wollet.network) if expected else follows}",
            backend=self.name,
            expected=expected,
            served=served,
        )

    def _scan_starts(self, wollet: Wollet) -> None:
        """A client made without a network checks the signers of its first wallet's."""
        if self._signers is _PINNED and self.network is None:
            self._signers = pinned_federation(wollet.network)

    def _checked_tip(self, tip: Tip) -> Tip:
        """The tip, its header (if given) checked to be that block's and, where block
        signers are set, to carry their signatures."""
        if tip.header:
            self._check_header(tip)
        signers = self.block_signers
        if signers is not None and tip.header != self._verified_header:
            self._check_signed(tip, signers)
        return tip

    def _check_signed(self, tip: Tip, signers: Federation) -> None:
        if not tip.header:
            raise BadBlockSignature(
                "the tip comes without its header, so its signatures cannot be checked",
                backend=self.name,
            )
        try:
            self._signers = signers.follow(BlockHeader.parse(tip.header))
        except BadBlockSignature as exc:
            raise BadBlockSignature(
                f"tip {tip.hash} at height {tip.height}: {exc.reason}", backend=self.name
            ) from exc
        self._verified_header = tip.header

    def _check_header(self, tip: Tip) -> None:
        try:
            header = BlockHeader.parse(tip.header)
        except DecodeError as exc:
            raise BackendProtocolError(f"malformed tip header: {exc}", backend=self.name) from exc
        if (header.height, header.block_hash, header.time) != (tip.height, tip.hash, tip.timestamp):
            raise BackendProtocolError(
                f"the tip at height {tip.height} comes with the header of another block "
                f"(height {header.height}, hash {header.block_hash})",
                backend=self.name,
            )

    def _seen(self, histories: list[list[HistoryEntry]]) -> list[list[HistoryEntry]]:
        """Histories as answered; their highest height makes older kept tips stale."""
        heights = [e.height for h in histories for e in h if e.height is not None]
        self._history_height = max([self._history_height, *heights])
        return histories

    def _seen_usage(self, answer: Any) -> ScriptUsage | None:
        """A usage answer as given (None: not offered); its histories make older kept tips
        stale (see `_seen`). The scan checks its shape."""
        if isinstance(answer, ScriptUsage):
            self._seen([h for h in answer.scripts if h is not USED] + list(answer.pending))
        return cast(ScriptUsage | None, answer)

    def _checked_txid(self, answered: Any, txid: str) -> str:
        """`txid`, if that is what the server answered to its broadcast."""
        if not (isinstance(answered, str) and _HEX64.fullmatch(answered.lower())):
            raise BackendProtocolError("broadcast answered no txid", backend=self.name)
        if answered.lower() != txid:
            raise BackendProtocolError(
                f"broadcast answered txid {answered}, the transaction is {txid}",
                backend=self.name,
            )
        return txid


class Client(BackendHandle[Backend], ScanMethods):
    """A backend client: holds a plugin's `Backend` and calls the hooks with it.

    Each call reaches the plugin owning the backend and the wrapper plugins only. Answers
    are checked here, once for every plugin: transactions hash to their txids, a tip's
    header matches it and carries the block signers' signatures (see `block_signers`), a
    broadcast answers the transaction's own txid.

    `plugin` is the owning plugin, or its module name (as in its entry point); it must be
    loaded (PluginError otherwise: LWK_DISABLE_PLUGINS holds for hand-built clients).
    Plugins subclass Client (ElectrumClient, EsploraClient) for their constructors.
    """

    # -- backend calls -----------------------------------------------------------------

    def ping(self) -> None:
        """Check that the server answers; raises a BackendError otherwise."""
        self._hook("lwk_ping")

    def genesis_hash(self) -> str:
        """The hash of the server's genesis block (display hex): which chain it serves.

        Asked once, then kept until `close()`.
        """
        return self._genesis or self._kept_genesis(self._hook("lwk_genesis_hash"))

    def check_chain(self, wollet: Wollet) -> str:
        """Prove the server serves the chain `wollet` follows; returns the server's genesis.

        WrongNetwork (a BackendError: a chain fails over) if it serves another one. A
        regtest wallet not pinned yet accepts any regtest chain (not Liquid's or Liquid
        testnet's): the Update of its first sync pins that server's.
        """
        return self._chain_checked(wollet, self.genesis_hash())

    def tip(self) -> Tip:
        """The best block; a header given with it must be that block's, signed by the
        block signers (`block_signers`)."""
        return self._checked_tip(self._hook("lwk_tip", min_height=self._history_height))

    def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        if not scripts:
            return []
        return self._seen(self._hook("lwk_scan_scripts", scripts=list(scripts)))

    def scan_usage(self, scripts: Sequence[bytes], pending: Sequence[bytes]) -> ScriptUsage | None:
        """Which of `scripts` are used (each its history, or USED: not fetched yet), with the
        histories of `pending`, if the backend offers it (else None: see `lwk_scan_usage`)."""
        return self._seen_usage(
            self._hook_optional("lwk_scan_usage", scripts=list(scripts), pending=list(pending))
        )

    def scan_descriptor(
        self, descriptor: WolletDescriptor, *, gap_limit: int, to_index: int
    ) -> DescriptorHistories | None:
        """The histories of a whole wallet in one request, if the backend offers it (else
        None): per chain, those of script indexes 0..n-1, the server applying the gap."""
        result = self._hook_optional(
            "lwk_scan_descriptor", descriptor=descriptor, gap_limit=gap_limit, to_index=to_index
        )
        return cast(DescriptorHistories | None, result)

    def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        if not txids:
            return []
        return cast(list[bytes], self._hook("lwk_get_tx", txids=list(txids)))

    def get_txs(self, txids: Sequence[str]) -> list[Transaction]:
        """Fetch transactions and check that each hashes to its txid."""
        return get_txs(self, txids)

    def get_tx(self, txid: str) -> Transaction:
        return self.get_txs([txid])[0]

    def block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        """The raw headers at `heights`, as the server answered them (a scan checks them)."""
        if not heights:
            return {}
        return cast(dict[int, bytes], self._hook("lwk_block_headers", heights=list(heights)))

    def merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        """A Merkle proof of each (txid, height), as the server answered them (a scan
        checks them against the headers)."""
        if not confirmed:
            return []
        asked = [(txid, height) for txid, height in confirmed]
        return cast(list[MerkleProof], self._hook("lwk_merkle_proofs", confirmed=asked))

    def broadcast(self, tx: Transaction | bytes | str) -> str:
        """Broadcast a transaction (object, raw bytes or hex) and return its txid.

        The transaction is parsed first (DecodeError, nothing sent); a server answering
        another txid than the transaction's is a BackendProtocolError.
        """
        raw = tx_bytes(tx)
        txid = txid_of(raw)  # DecodeError before anything is sent
        return self._checked_txid(self._hook("lwk_broadcast", tx=raw), txid)

    def close(self) -> None:
        self._forget()
        self._hook_optional("lwk_close")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- wallet scans ------------------------------------------------------------------

    def scan_wallet(
        self,
        wollet: Wollet,
        *,
        gap_limit: int,
        to_index: int,
        progress: Progress | None = None,
        tx_cache: MutableMapping[str, Transaction] | None = None,
        limits: ScanLimits = DEFAULT_LIMITS,
    ) -> Update | None:
        """`sync`, sharing `tx_cache` (verified transactions) with other clients: the
        Update carries the genesis the server proved, which pins a regtest wallet."""
        self._scan_starts(wollet)
        genesis = self.check_chain(wollet)
        update = scan(
            self,
            wollet,
            gap_limit=gap_limit,
            to_index=to_index,
            progress=progress,
            tx_cache=tx_cache,
            limits=limits,
            verification=self._verification(),
        )
        return proven(update, genesis)


def connect(url: str, network: Network | None = None, **options: Any) -> Client:
    """A client for `url` from the plugin owning its scheme (no I/O yet).

    Only that plugin's `lwk_connect` is called (and wrappers); a `Backend` it returns is
    wrapped in a Client, a Client (a plugin's own subclass) is returned as it is.
    """
    plugin, made = connect_hook(url, network, options, asynchronous=False)
    if isinstance(made, Client):
        return made
    return Client(made, name=made.name, plugin=plugin, network=network)


def connect_hook(
    url: str, network: Network | None, options: Mapping[str, Any], *, asynchronous: bool
) -> tuple[object, Any]:
    """The plugin owning `url`'s scheme, and what its `lwk_connect` made (never None)."""
    scheme = urlsplit(url).scheme.lower()
    plugin = scheme_owner(scheme)
    frozen = MappingProxyType(dict(options))
    made = owner_hook("lwk_connect", plugin)(
        url=url, network=network, options=frozen, asynchronous=asynchronous
    )
    if made is None:
        raise PluginError(f"the plugin owning {scheme}:// returned no backend")
    return plugin, made


def proven(update: Update | None, genesis: str) -> Update | None:
    """A scan's Update carrying the genesis its server proved (which pins a regtest
    wallet); None stays None."""
    return None if update is None else attrs.evolve(update, genesis_hash=genesis)


def _chain_name(genesis: str, network: Network | None = None) -> str:
    """A chain as messages name it: its network and genesis."""
    known = Network.from_genesis_hash(genesis) or network
    return f"{known.value if known else 'an unknown chain'} (genesis {genesis})"


def tx_bytes(tx: Transaction | bytes | str) -> bytes:
    """Raw bytes of a transaction given as an object, bytes or hex (DecodeError if not hex)."""
    if isinstance(tx, Transaction):
        return tx.to_bytes()
    if isinstance(tx, str):
        try:
            return bytes.fromhex(tx)
        except ValueError:
            raise DecodeError("transaction hex is not valid hexadecimal") from None
    return bytes(tx)


def txid_of(raw: bytes) -> str:
    """The txid of raw transaction bytes (DecodeError if they are not one)."""
    return Transaction.from_bytes(raw).txid
