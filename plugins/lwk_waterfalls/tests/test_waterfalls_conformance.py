"""lwk-waterfalls passes the backend conformance kit of lwk_regtest.testing, both flavours."""

from __future__ import annotations

from lwk_regtest import Regtest
from lwk_regtest.testing import BackendConformance
from lwk_waterfalls import AsyncWaterfallsClient, WaterfallsClient


class TestWaterfallsConformance(BackendConformance):
    offers_spv = True

    def make_backend(self, rt: Regtest, *, timeout: float) -> WaterfallsClient:
        return WaterfallsClient(
            rt.waterfalls_url, rt.network, send_descriptor=True, timeout=timeout, max_retries=1
        )

    def make_async_backend(self, rt: Regtest, *, timeout: float) -> AsyncWaterfallsClient:
        return AsyncWaterfallsClient(
            rt.waterfalls_url, rt.network, send_descriptor=True, timeout=timeout, max_retries=1
        )

    def set_fault(self, rt: Regtest, mode: str | None, remaining: int | None = None) -> None:
        rt.waterfalls_server.faults.set(mode, remaining)


class TestWaterfallsScriptsConformance(TestWaterfallsConformance):
    """Without the descriptor: the histories come from `addresses=` requests."""

    def make_backend(self, rt: Regtest, *, timeout: float) -> WaterfallsClient:
        return WaterfallsClient(rt.waterfalls_url, rt.network, timeout=timeout, max_retries=1)

    def make_async_backend(self, rt: Regtest, *, timeout: float) -> AsyncWaterfallsClient:
        return AsyncWaterfallsClient(rt.waterfalls_url, rt.network, timeout=timeout, max_retries=1)
