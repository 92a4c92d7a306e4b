"""lwk-esplora passes the backend conformance kit of lwk_regtest.testing, both flavours."""

from __future__ import annotations

from lwk_esplora import AsyncEsploraClient, EsploraClient
from lwk_regtest import Regtest
from lwk_regtest.testing import BackendConformance


class TestEsploraConformance(BackendConformance):
    offers_spv = True

    def make_backend(self, rt: Regtest, *, timeout: float) -> EsploraClient:
        return EsploraClient(rt.esplora_url, rt.network, timeout=timeout, max_retries=1)

    def make_async_backend(self, rt: Regtest, *, timeout: float) -> AsyncEsploraClient:
        return AsyncEsploraClient(rt.esplora_url, rt.network, timeout=timeout, max_retries=1)

    def set_fault(self, rt: Regtest, mode: str | None, remaining: int | None = None) -> None:
        rt.esplora_faults.set(mode, remaining)
