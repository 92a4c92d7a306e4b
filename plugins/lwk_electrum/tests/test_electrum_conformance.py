"""lwk-electrum passes the backend conformance kit of lwk_regtest.testing, both flavours."""

from __future__ import annotations

from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_regtest import Regtest
from lwk_regtest.testing import BackendConformance


class TestElectrumConformance(BackendConformance):
    offers_spv = True

    def make_backend(self, rt: Regtest, *, timeout: float) -> ElectrumClient:
        return ElectrumClient.from_url(rt.electrum_url, timeout=timeout)

    def make_async_backend(self, rt: Regtest, *, timeout: float) -> AsyncElectrumClient:
        return AsyncElectrumClient.from_url(rt.electrum_url, timeout=timeout)

    def set_fault(self, rt: Regtest, mode: str | None, remaining: int | None = None) -> None:
        rt.electrum_faults.set(mode, remaining)
