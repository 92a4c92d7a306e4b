"""BackendChain: several backends in the caller's order, failing over on backend errors."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._client import Client, ScanMethods, connect, tx_bytes
from ._errors import AllBackendsFailed, BackendError, BroadcastRejected
from ._failover import FailoverPolicy, relayed_before
from ._network import Network
from ._scan import DEFAULT_LIMITS, ScanLimits
from ._transaction import Transaction
from ._types import Progress, Tip
from ._update import Update

if TYPE_CHECKING:
    from ._wollet import Wollet

__all__ = ["BackendChain"]

log = logging.getLogger("lwk_core.failover")

T = TypeVar("T")


class BackendChain(ScanMethods):
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
        self.policy = FailoverPolicy(len(backends), cooldown=cooldown, private=private)
        self.backends: list[Client] = [
            b if isinstance(b, Client) else connect(b, network, **options) for b in backends
        ]
        self.network = network
        self._lock = threading.Lock()
        self.name = " -> ".join(b.name for b in self.backends)

    def __repr__(self) -> str:
        return f"<BackendChain {self.name}>"

    # -- failover ----------------------------------------------------------------------

    def _call(self, what: str, call: Callable[[Client], T], *, reveals_wallet: bool = True) -> T:
        causes: list[tuple[str, BackendError]] = []
        with self._lock:
            order = self.policy.order(time.monotonic(), reveals_wallet=reveals_wallet)
        for position, i in enumerate(order):
            client = self.backends[i]
            try:
                result = call(client)
            except BackendError as exc:
                causes.append((client.name, exc))
                with self._lock:
                    self.policy.failed(i, time.monotonic())
                following = order[position + 1 :]
                if following:
                    log.warning(
                        "%s failed on %s (%s: %s); failing over to %s",
                        what,
                        client.name,
                        type(exc).__name__,
                        exc.reason,
                        self.backends[following[0]].name,
                    )
                continue
            with self._lock:
                self.policy.succeeded(i)
            return result
        log.error("%s failed on every backend", what)
        raise AllBackendsFailed(causes)

    # -- the client methods ------------------------------------------------------------

    def ping(self) -> None:
        self._call("ping", lambda c: c.ping(), reveals_wallet=False)

    def tip(self) -> Tip:
        return self._call("tip", lambda c: c.tip(), reveals_wallet=False)

    def get_txs(self, txids: Sequence[str]) -> list[Transaction]:
        return self._call("get_tx", lambda c: c.get_txs(txids))

    def get_tx(self, txid: str) -> Transaction:
        return self.get_txs([txid])[0]

    def sync(
        self,
        wollet: Wollet,
        gap_limit: int = 20,
        *,
        to_index: int = 0,
        progress: Progress | None = None,
        limits: ScanLimits = DEFAULT_LIMITS,
    ) -> Update | None:
        tx_cache: dict[str, Transaction] = {}
        return self._call(
            "scan",
            lambda c: c.scan_wallet(
                wollet,
                gap_limit=gap_limit,
                to_index=to_index,
                progress=progress,
                tx_cache=tx_cache,
                limits=limits,
            ),
        )

    def broadcast(self, tx: Transaction | bytes | str) -> str:
        """Broadcast; a rejection is final, a transport failure moves to the next backend.

        If an earlier backend failed mid-request it may have relayed the transaction, so
        a later "already known" rejection counts as success.
        """
        raw = tx_bytes(tx)
        txid = Transaction.from_bytes(raw).txid
        attempts = 0

        def send(client: Client) -> str:
            nonlocal attempts
            attempts += 1
            try:
                return client.broadcast(raw)
            except BroadcastRejected as exc:
                if relayed_before(exc.reason, attempts):
                    return txid
                raise

        return self._call("broadcast", send, reveals_wallet=False)

    def close(self) -> None:
        for client in self.backends:
            client.close()

    def __enter__(self) -> BackendChain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
