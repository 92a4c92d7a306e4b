"""Fixtures of the connectivity tests (see connectivity_support)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from connectivity_support import (
    Funded,
    Resolver,
    Socks,
    TlsFront,
    fund,
    start_microsocks,
    stop,
)
from lwk_regtest import Regtest
from lwk_regtest._tls import SelfSignedCert, self_signed_cert
from lwk_regtest.testing import new_wallet_descriptor


@pytest.fixture(scope="module")
def socks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Socks]:
    """microsocks on a free loopback port (it resolves names itself, like Tor)."""
    proc, server = start_microsocks(tmp_path_factory.mktemp("socks") / "microsocks.log")
    yield server
    stop(proc)


@pytest.fixture(scope="module")
def socks_with_login(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Socks]:
    """microsocks that accepts only the user "alice" with the password "s3cret-pw"."""
    log = tmp_path_factory.mktemp("socks-login") / "microsocks.log"
    proc, server = start_microsocks(log, "-u", "alice", "-P", "s3cret-pw")
    yield server
    stop(proc)


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    """Local name resolution in this process, under the test's control (asyncio's resolver
    calls socket.getaddrinfo too)."""
    fake = Resolver(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


@pytest.fixture(scope="module")
def cert() -> SelfSignedCert:
    """The certificate the embedded servers serve (one per process)."""
    return self_signed_cert()


@pytest.fixture(scope="module")
def esplora_tls(rt: Regtest, cert: SelfSignedCert) -> Iterator[TlsFront]:
    port = int(rt.esplora_url.rsplit(":", 1)[1])
    front = TlsFront(cert, port).start()
    yield front
    front.stop()


@pytest.fixture(scope="module")
def funded(rt: Regtest) -> Funded:
    return fund(rt, new_wallet_descriptor())
