"""Fixtures for the lwk-electrum tests: a scriptable fake server, a self-signed cert
(the embedded regtest chain's generator), and a round-trip counter for a connection."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from electrum_fake import FakeElectrum, RoundTrips
from lwk_electrum._connection import ElectrumConnection
from lwk_regtest import Regtest
from lwk_regtest._tls import SelfSignedCert, self_signed_cert

from lwk_core.plugin.manager import reset_plugin_manager


@pytest.fixture(scope="session")
def self_signed() -> SelfSignedCert:
    return self_signed_cert()


@pytest.fixture
def fake() -> Iterator[FakeElectrum]:
    with FakeElectrum() as server:
        yield server


@pytest.fixture
def fake_tls(self_signed: SelfSignedCert) -> Iterator[FakeElectrum]:
    with FakeElectrum(ssl_context=self_signed.server_context(), host="localhost") as server:
        yield server


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    """The embedded regtest chain, one per test module."""
    with Regtest() as regtest:
        yield regtest


@pytest.fixture
def no_faults(rt: Regtest) -> Iterator[None]:
    """Clears the faults and latency a test set on the chain's Electrum servers."""
    yield
    for faults in (rt.electrum_faults, rt.electrum_ssl_faults):
        faults.clear()
        faults.latency = 0.0


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A plugin manager rebuilt from the environment for this test, and reset after it."""
    monkeypatch.delenv("LWK_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("LWK_LOAD_PLUGINS", raising=False)
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Callable[[ElectrumConnection], RoundTrips]:
    return lambda conn: RoundTrips(conn, monkeypatch)
