"""The monitor: wallets synced through one failover chain, each change announced once."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from lwk_core import BackendChain, Client, LwkError, Network, Wollet, WolletDescriptor

from ._changes import wallet_changes

__all__ = ["Monitor"]

log = logging.getLogger("lwk_paymon")

Emit = Callable[[dict[str, Any]], None]


class Monitor:
    """Keeps `descriptors`' wallets synced through `backends` (URLs or clients, failover in
    that order), persisted in `datadir`, and passes each change to `emit` as a dict.

    A wallet's first sync in this run ends with a `synced` event (its height, number of
    transactions and balance, and whether its state was `resumed` from the datadir). A
    wallet resumed from the datadir announces what changed since it was stored; a wallet
    synced for the first time announces no history (the `synced` event sums it up), only
    what happens from then on. A sync that fails (every backend down) is logged and tried
    again at the next poll. Close it (or use `with`) to release the datadir.
    """

    def __init__(
        self,
        network: Network,
        descriptors: Sequence[WolletDescriptor],
        backends: Sequence[Client | str],
        datadir: str | os.PathLike[str],
        emit: Emit,
        *,
        gap_limit: int = 20,
    ) -> None:
        self._emit = emit
        self._gap_limit = gap_limit
        self._chain = BackendChain(list(backends), network=network)
        self._wallets: list[Wollet] = []
        try:
            for descriptor in descriptors:
                self._wallets.append(Wollet(network, descriptor, datadir=datadir))
        except BaseException:
            self.close()
            raise
        self._resumed = {w.dwid() for w in self._wallets if w.tip() is not None}
        self._pending_first = {w.dwid() for w in self._wallets}

    @property
    def wallets(self) -> list[Wollet]:
        return list(self._wallets)

    def poll(self) -> None:
        """Sync every wallet once and announce what changed."""
        for wollet in self._wallets:
            try:
                self._sync(wollet)
            except LwkError as exc:  # AllBackendsFailed, a refused update: next poll
                log.warning("wallet %s not synced: %s", wollet.dwid(), exc)

    def _sync(self, wollet: Wollet) -> None:
        dwid = wollet.dwid()
        before = {tx.txid: tx for tx in wollet.transactions()}
        update = self._chain.sync(wollet, self._gap_limit)
        if update is not None:
            wollet.apply_update(update)
            if dwid in self._resumed or dwid not in self._pending_first:
                for event in wallet_changes(dwid, before, wollet.transactions()):
                    self._emit(event)
        if dwid in self._pending_first:
            self._pending_first.discard(dwid)
            self._emit(self._synced(wollet, resumed=dwid in self._resumed))

    def _synced(self, wollet: Wollet, *, resumed: bool) -> dict[str, Any]:
        tip = wollet.tip()
        return {
            "event": "synced",
            "wallet": wollet.dwid(),
            "height": tip.height if tip is not None else None,
            "transactions": len(wollet.transactions()),
            "balance": dict(sorted(wollet.balance().items())),
            "resumed": resumed,
        }

    def run(self, interval: float, stop: threading.Event) -> None:
        """Poll every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            self.poll()
            stop.wait(interval)

    def close(self) -> None:
        for wollet in self._wallets:
            wollet.close()
        self._chain.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
