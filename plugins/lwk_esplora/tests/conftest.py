"""Fixtures of the lwk-esplora tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from esplora_fake import FakeEsplora
from lwk_esplora import EsploraClient, _retry

from lwk_core import Network


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff without Retry-After starts at 10 ms instead of 0.5 s."""
    monkeypatch.setattr(_retry, "_BACKOFF_BASE", 0.01)


@pytest.fixture
def fake() -> FakeEsplora:
    return FakeEsplora()


@pytest.fixture
def client(fake: FakeEsplora) -> Iterator[EsploraClient]:
    with EsploraClient(
        "http://esplora.test/api", Network.LIQUID_TESTNET, transport=fake.transport()
    ) as c:
        yield c
