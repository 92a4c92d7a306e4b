"""BackendChain: several backends in the caller's order, failing over on backend errors."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._client import BackendHandle, Client, ScanMethods, connect, tx_bytes, txid_of
from ._errors import AllBackendsFailed, BackendError, BroadcastRejected
from ._failover import FailoverPolicy, relayed_txid
from ._network import Network
from ._scan import DEFAULT_LIMITS, ScanLimits
from ._transaction import Transaction
from ._types import Progress, Tip
from ._update import Update

if TYPE_CHECKING:
    from ._wollet import Wollet

__all__ = ["BackendChain", "ChainCore", "Walk"]

log = logging.getLogger("lwk_core.failover")

T = TypeVar("T")


C = TypeVar("C", bound=BackendHandle[Any])


class Walk(Generic[C]):
    """One call's walk along a chain, in the policy's order: each failure logged with its
    cause and the policy told every outcome. BackendChain and AsyncBackendChain loop over
    it; only the call made on each backend differs (awaited or not)."""

    def __init__(self, chain: ChainCore[C], what: str, *, reveals_wallet: bool) -> None:
        self.chain = chain
        self.what = what
        self.causes: list[tuple[str, BackendError]] = []
        with chain._lock:
            self.order = chain.policy.order(time.monotonic(), reveals_wallet=reveals_wallet)
        self.position = 0

    def __iter__(self) -> Iterator[C]:
        for position, i in enumerate(self.order):
            self.position = position
            yield self.chain.backends[i]

    def failed(self, exc: BackendError) -> None:
        index = self.order[self.position]
        client = self.chain.backends[index]
        self.causes.append((client.name, exc))
        with self.chain._lock:
            self.chain.policy.failed(index, time.monotonic())
        following = self.order[self.position + 1 :]
        if following:
            log.warning(
                "%s failed on %s (%s: %s); failing over to %s",
                self.what,
                client.name,
                type(exc).__name__,
                exc.reason,
                self.chain.backends[following[0]].name,
            )

    def succeeded(self) -> None:
        with self.chain._lock:
            self.chain.policy.succeeded(self.order[self.position])
            self.chain.served_last = self.chain.backends[self.order[self.position]]

    def exhausted(self) -> AllBackendsFailed:
        log.error("%s failed on every backend", self.what)
        return AllBackendsFailed(self.causes)


class ChainCore(Generic[C]):
    """What both chains hold: the clients in the caller's order and the failover policy."""

    def __init__(
        self,
        backends: Sequence[C | str],
        *,
        connect_url: Callable[[str], C],
        network: Network | None,
        cooldown: float,
        private: int,
    ) -> None:
        self.policy = FailoverPolicy(len(backends), cooldown=cooldown, private=private)
        self.backends = [connect_url(b) if isinstance(b, str) else b for b in backends]
        self.network = network
        self._lock = threading.Lock()  # held only around the policy, never across a call
        self.name = " -> ".join(b.name for b in self.backends)
        self.served_last: C | None = None  # the backend of the last call that worked

    def _push_clients(self) -> Sequence[object]:
        """The backends a watch may wait on for pushes (see `watch`)."""
        return self.backends

    def _served_last(self) -> object | None:
        return self.served_last

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def _walk(self, what: str, *, reveals_wallet: bool = True) -> Walk[C]:
        return Walk(self, what, reveals_wallet=reveals_wallet)


class BackendChain(ChainCore[Client], ScanMethods):
    """Backends (clients or URLs) tried in order; the same methods as one client.

    Transport failures, timeouts, rate limits and malformed answers (any BackendError)
    move to the next backend; a valid broadcast rejection does not. One scan takes its
    histories and tip from a single backend; transactions already fetched by a failed
    backend are reused (their txids were checked). A backend that failed is skipped for
    `cooldown` seconds unless every backend is cooling down. With `private=N`, the first
    N backends are the caller's own servers: scans and transaction lookups, which reveal
    the wallet's scripts and txids, never fall back from them to the others; tip, ping and
    broadcast, which reveal nothing of the wallet, may.
    """

    def __init__(
        self,
        backends: Sequence[Client | str],
        *,
        network: Network | None = None,
        cooldown: float = 30.0,
        private: int = 0,
        **options: Any,
    ) -> None:
        super().__init__(
            backends,
            connect_url=lambda url: connect(url, network, **options),
            network=network,
            cooldown=cooldown,
            private=private,
        )

    def _call(self, what: str, call: Callable[[Client], T], *, reveals_wallet: bool = True) -> T:
        walk = self._walk(what, reveals_wallet=reveals_wallet)
        for client in walk:
            try:
                result = call(client)
            except BackendError as exc:
                walk.failed(exc)
                continue
            walk.succeeded()
            return result
        raise walk.exhausted()

    # -- the client methods ------------------------------------------------------------

    def ping(self) -> None:
        self._call("ping", lambda c: c.ping(), reveals_wallet=False)

    def tip(self) -> Tip:
        return self._call("tip", lambda c: c.tip(), reveals_wallet=False)

    def get_txs(self, txids: Sequence[str]) -> list[Transaction]:
        return self._call("get_tx", lambda c: c.get_txs(txids))

    def get_tx(self, txid: str) -> Transaction:
        return self.get_txs([txid])[0]

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
        """`sync`, sharing `tx_cache` (verified transactions) with other scans, as
        `Client.scan_wallet` does (the backends of the chain share it too)."""
        cache: MutableMapping[str, Transaction] = {} if tx_cache is None else tx_cache
        return self._call(
            "scan",
            lambda c: c.scan_wallet(
                wollet,
                gap_limit=gap_limit,
                to_index=to_index,
                progress=progress,
                tx_cache=cache,
                limits=limits,
            ),
        )

    def broadcast(self, tx: Transaction | bytes | str) -> str:
        """Broadcast; a rejection is final, a transport failure moves to the next backend.

        If an earlier backend failed mid-request it may have relayed the transaction, so
        a later "already known" rejection counts as success.
        """
        raw = tx_bytes(tx)
        txid = txid_of(raw)
        attempts = itertools.count(1)

        def send(client: Client) -> str:
            attempt = next(attempts)
            try:
                return client.broadcast(raw)
            except BroadcastRejected as exc:
                return relayed_txid(exc, attempt, txid)

        return self._call("broadcast", send, reveals_wallet=False)

    def close(self) -> None:
        for client in self.backends:
            client.close()

    def __enter__(self) -> BackendChain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
