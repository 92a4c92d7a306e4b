"""Timing one backend on one wallet: the three scenarios, ours and LWK interleaved."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._clients import Impl
from ._server import Backend, ServerProcess
from ._wallets import BenchWallet

__all__ = ["PAYMENT_SATS", "SCENARIOS", "Sample", "measure_case"]

SCENARIOS = ("first_scan", "rescan_nothing", "rescan_payment")
PAYMENT_SATS = 30_000


@attrs.frozen
class Sample:
    """One timed scan: wall-clock seconds and requests the server received meanwhile."""

    seconds: float
    requests: int


class _Case:
    def __init__(
        self,
        server: ServerProcess,
        wallet: BenchWallet,
        backend: Backend,
        impls: Mapping[str, Impl],
    ) -> None:
        self.server, self.wallet, self.backend, self.impls = server, wallet, backend, impls
        self.url = server.urls[backend]
        self.live: dict[str, tuple[Any, Any]] = {}  # impl name -> (client, wollet)
        self.samples: dict[str, dict[str, list[Sample]]] = {
            scenario: {name: [] for name in impls} for scenario in SCENARIOS
        }

    def timed(self, scenario: str, name: str, scan: Callable[[str], None]) -> None:
        gc.collect()
        before = self.server.requests(self.backend)
        start = time.perf_counter()
        scan(name)
        seconds = time.perf_counter() - start
        requests = self.server.requests(self.backend) - before
        self.samples[scenario][name].append(Sample(seconds, requests))

    def order(self, run: int) -> list[str]:
        """Alternate who scans first, so neither always meets a server warmed by the other."""
        names = list(self.impls)
        return names if run % 2 == 0 else names[::-1]

    def first_scan(self, name: str) -> None:
        impl = self.impls[name]
        old = self.live.pop(name, None)
        if old is not None:
            impl.close(old[0])
        wollet = impl.new_wollet(self.wallet.descriptor)
        client = impl.new_client(self.backend, self.url)
        impl.scan(client, wollet)
        self.live[name] = (client, wollet)

    def rescan(self, name: str) -> None:
        client, wollet = self.live[name]
        self.impls[name].scan(client, wollet)

    def check_same_wallet(self) -> int:
        """Both implementations must see the same transactions, or the race is unfair."""
        counts = {name: self.impls[name].tx_count(w) for name, (_, w) in self.live.items()}
        if len(set(counts.values())) != 1:
            raise RuntimeError(f"implementations disagree on the wallet: {counts}")
        return next(iter(counts.values()))

    def close(self) -> None:
        for name, (client, _) in self.live.items():
            self.impls[name].close(client)
        self.live.clear()


def measure_case(
    server: ServerProcess,
    wallet: BenchWallet,
    backend: Backend,
    impls: Mapping[str, Impl],
    runs: int,
) -> tuple[dict[str, dict[str, list[Sample]]], int]:
    """Samples per scenario and implementation, and the wallet's transaction count at the end.

    First scans use a fresh wallet and client each run; rescans reuse the last ones, as an
    app would; before each "rescan_payment" run the faucet pays a never-used address.
    """
    case = _Case(server, wallet, backend, impls)
    try:
        for run in range(runs):
            for name in case.order(run):
                case.timed("first_scan", name, case.first_scan)
        case.check_same_wallet()
        for run in range(runs):
            for name in case.order(run):
                case.timed("rescan_nothing", name, case.rescan)
        for run in range(runs):
            server.rt.faucet(wallet.fresh_address(), PAYMENT_SATS)
            for name in case.order(run):
                case.timed("rescan_payment", name, case.rescan)
        return case.samples, case.check_same_wallet()
    finally:
        case.close()
