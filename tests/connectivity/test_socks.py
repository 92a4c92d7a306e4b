"""Every backend through a real SOCKS5 server (microsocks, started by the fixtures) gives
what it gives directly, host names reach the proxy unresolved, and each way a proxy fails
is a typed error, for the blocking and the asyncio clients.

Ground truth: the faucet's payments (amounts and txids) and the direct scan of each client.
The proxy's name resolution is proven by refusing the name to this process's resolver
(socket.getaddrinfo, which asyncio's uses too) while the scan through the proxy works, and
by microsocks's log, which names each destination as the client sent it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from typing import Any

import pytest
from connectivity_support import FUNDED_SATS, Funded, Resolver, Socks, async_view, free_port, view
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_esplora import AsyncEsploraClient, EsploraClient
from lwk_regtest import Regtest
from lwk_waterfalls import WaterfallsClient

from lwk_core import (
    AllBackendsFailed,
    BackendChain,
    Client,
    ExtraNotInstalled,
    LwkError,
    ProxyRefused,
    ProxyUnreachable,
    connect,
)

ONION = "lwkregtest2vxbsgbkmzdhxzn3h2oq4rycxvbxdwvz6ufmnb6gx3s7lqd.onion"

KINDS = ["electrum-tcp", "electrum-ssl", "esplora", "waterfalls"]


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def client(kind: str, rt: Regtest, host: str, proxy: str | None = None) -> Client:
    """A blocking client of `kind` for the embedded server, named by `host`."""
    if kind == "electrum-tcp":
        return ElectrumClient.from_url(f"tcp://{host}:{_port(rt.electrum_url)}", proxy=proxy)
    if kind == "electrum-ssl":  # the certificate names localhost (and 127.0.0.1): pinned
        url = f"ssl://{host}:{_port(rt.electrum_ssl_url)}"
        return ElectrumClient.from_url(url, proxy=proxy, cert_fingerprint=rt.cert_fingerprint)
    if kind == "esplora":
        url = f"http://{host}:{_port(rt.esplora_url)}"
        return EsploraClient(url, rt.network, proxy=proxy, trust_env=False)
    url = f"waterfalls+http://{host}:{_port(rt.waterfalls_url)}"
    return WaterfallsClient(url, rt.network, proxy=proxy, trust_env=False)


def port_of(kind: str, rt: Regtest) -> int:
    url = {
        "electrum-tcp": rt.electrum_url,
        "electrum-ssl": rt.electrum_ssl_url,
        "esplora": rt.esplora_url,
        "waterfalls": rt.waterfalls_url,
    }[kind]
    return _port(url)


@pytest.mark.parametrize("kind", KINDS)
def test_each_backend_through_the_proxy_scans_as_directly_and_names_reach_it_unresolved(
    kind: str, rt: Regtest, funded: Funded, socks: Socks, resolver: Resolver
) -> None:
    with client(kind, rt, "127.0.0.1") as direct:
        expected = view(direct, rt, funded.descriptor)
    assert expected["balance"] == FUNDED_SATS
    assert {t[0] for t in expected["txs"]} == funded.txids

    resolver.refused.add("localhost")  # only the proxy can resolve it now
    with client(kind, rt, "localhost", socks.url) as proxied:
        assert view(proxied, rt, funded.descriptor) == expected
    assert "localhost" not in resolver.asked  # not even tried locally
    assert socks.connected_to("localhost", port_of(kind, rt))


@pytest.mark.parametrize("kind", ["electrum-tcp", "electrum-ssl", "esplora"])
def test_the_async_clients_through_the_proxy_scan_as_directly(
    kind: str, rt: Regtest, funded: Funded, socks: Socks, resolver: Resolver
) -> None:
    with client(kind, rt, "127.0.0.1") as direct:
        expected = view(direct, rt, funded.descriptor)
    resolver.refused.add("localhost")
    port = port_of(kind, rt)
    proxied: Any
    if kind == "electrum-tcp":
        proxied = AsyncElectrumClient.from_url(f"tcp://localhost:{port}", proxy=socks.url)
    elif kind == "electrum-ssl":
        proxied = AsyncElectrumClient.from_url(
            f"ssl://localhost:{port}", proxy=socks.url, cert_fingerprint=rt.cert_fingerprint
        )
    else:
        proxied = AsyncEsploraClient(
            f"http://localhost:{port}", rt.network, proxy=socks.url, trust_env=False
        )
    assert asyncio.run(async_view(proxied, rt, funded.descriptor)) == expected
    assert "localhost" not in resolver.asked
    assert socks.connected_to("localhost", port)


@pytest.mark.parametrize("kind", ["electrum-tcp", "electrum-ssl", "esplora"])
def test_an_onion_name_goes_to_the_proxy_unresolved(
    kind: str, rt: Regtest, socks: Socks, resolver: Resolver
) -> None:
    """microsocks cannot resolve a .onion name (Tor could): it answers that it could not
    connect, which only a proxy that was given the name can say; this process never
    looked the name up."""
    with pytest.raises(ProxyRefused), client(kind, rt, ONION, socks.url) as c:
        c.tip()
    assert not [name for name in resolver.asked if name.endswith(".onion")]


def test_an_async_onion_name_goes_to_the_proxy_unresolved(
    rt: Regtest, socks: Socks, resolver: Resolver
) -> None:
    async def scan() -> None:
        async with AsyncElectrumClient.from_url(f"tcp://{ONION}:50001", proxy=socks.url) as c:
            await c.tip()

    with pytest.raises(ProxyRefused):
        asyncio.run(scan())
    assert not [name for name in resolver.asked if name.endswith(".onion")]


@pytest.mark.parametrize("kind", ["electrum-tcp", "esplora"])
def test_a_server_the_proxy_cannot_connect_to_is_proxy_refused(
    kind: str, rt: Regtest, socks: Socks
) -> None:
    closed = free_port()
    url = f"tcp://localhost:{closed}" if kind == "electrum-tcp" else f"http://localhost:{closed}"
    c = (
        ElectrumClient.from_url(url, proxy=socks.url)
        if kind == "electrum-tcp"
        else EsploraClient(url, rt.network, proxy=socks.url, trust_env=False, max_retries=0)
    )
    with pytest.raises(ProxyRefused), c:
        c.tip()


@pytest.mark.parametrize("kind", KINDS)
def test_an_unreachable_proxy_is_proxy_unreachable(kind: str, rt: Regtest) -> None:
    dead = f"socks5h://127.0.0.1:{free_port()}"
    with pytest.raises(ProxyUnreachable) as info, client(kind, rt, "localhost", dead) as c:
        c.tip()
    assert f"127.0.0.1:{_port(dead)}" in str(info.value)


@pytest.mark.parametrize("flavour", ["electrum", "esplora"])
def test_an_unreachable_proxy_is_proxy_unreachable_for_async_clients(
    flavour: str, rt: Regtest
) -> None:
    dead = f"socks5h://127.0.0.1:{free_port()}"

    async def tip() -> None:
        c: Any = (
            AsyncElectrumClient.from_url(rt.electrum_url, proxy=dead)
            if flavour == "electrum"
            else AsyncEsploraClient(rt.esplora_url, rt.network, proxy=dead, trust_env=False)
        )
        async with c:
            await c.tip()

    with pytest.raises(ProxyUnreachable):
        asyncio.run(tip())


def test_a_chain_fails_over_from_a_dead_proxy_with_each_cause_typed(
    rt: Regtest, funded: Funded
) -> None:
    with client("esplora", rt, "127.0.0.1") as direct:
        expected = view(direct, rt, funded.descriptor)
    dead = f"socks5h://127.0.0.1:{free_port()}"
    chain = BackendChain([client("electrum-tcp", rt, "localhost", dead), direct])
    assert view(chain, rt, funded.descriptor) == expected
    with pytest.raises(AllBackendsFailed) as info:
        BackendChain([client(k, rt, "localhost", dead) for k in KINDS]).tip()
    assert [type(e) for _, e in info.value.causes] == [ProxyUnreachable] * len(KINDS)


def test_proxy_credentials_are_used_and_never_shown(
    rt: Regtest, funded: Funded, socks_with_login: Socks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = socks_with_login.port
    good = f"socks5h://alice:s3cret-pw@127.0.0.1:{port}"
    with client("electrum-tcp", rt, "localhost", good) as c:
        assert view(c, rt, funded.descriptor)["balance"] == FUNDED_SATS
    for kind in ("electrum-tcp", "esplora"):
        bad = f"socks5h://alice:wr0ng-pw@127.0.0.1:{port}"
        c = client(kind, rt, "localhost", bad)
        with pytest.raises(ProxyRefused) as info, c:
            c.tip()
        shown = f"{info.value} {info.value!r} {c!r} {c.connection!r}"
        assert "wr0ng-pw" not in shown and "alice" not in shown
    assert caplog.records  # the clients did log (debug), and no password is in it
    assert "s3cret-pw" not in caplog.text and "wr0ng-pw" not in caplog.text


def test_esplora_takes_its_proxy_from_the_environment_with_trust_env(
    rt: Regtest, funded: Funded, socks: Socks, resolver: Resolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    # socks5:// (httpx of every supported version reads it; names are sent unresolved)
    monkeypatch.setenv("ALL_PROXY", socks.url.replace("socks5h://", "socks5://"))
    resolver.refused.add("localhost")
    url = f"http://localhost:{_port(rt.esplora_url)}"
    with EsploraClient(url, rt.network) as c:
        assert view(c, rt, funded.descriptor)["balance"] == FUNDED_SATS
    assert socks.connected_to("localhost", _port(rt.esplora_url))
    direct = EsploraClient(url, rt.network, trust_env=False, max_retries=0)
    with pytest.raises(LwkError), direct:  # without the proxy the name cannot be resolved
        direct.tip()


class TestMissingExtra:
    """Without python-socks or socksio a SOCKS proxy is ExtraNotInstalled, when the client
    is built, with the command that installs the extra: never an ImportError."""

    @pytest.fixture(autouse=True)
    def no_socks_libraries(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real = importlib.util.find_spec

        def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
            if name in ("python_socks", "socksio"):
                return None
            return real(name, *args, **kwargs)

        monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    @pytest.mark.parametrize(
        ("kind", "extra"),
        [
            ("electrum-tcp", "lwk-electrum[socks]"),
            ("electrum-ssl", "lwk-electrum[socks]"),
            ("esplora", "lwk-esplora[socks]"),
            ("waterfalls", "lwk-esplora[socks]"),
        ],
    )
    def test_each_client(self, kind: str, extra: str, rt: Regtest) -> None:
        with pytest.raises(ExtraNotInstalled) as info:
            client(kind, rt, "localhost", "socks5h://127.0.0.1:9050")
        assert not isinstance(info.value, ImportError)
        assert info.value.extra == extra
        assert f"pip install '{extra}'" in str(info.value)

    def test_through_connect(self, rt: Regtest) -> None:
        with pytest.raises(ExtraNotInstalled):
            connect(rt.electrum_url, rt.network, proxy="socks5h://127.0.0.1:9050")
        with pytest.raises(ExtraNotInstalled):
            connect(rt.esplora_url, rt.network, proxy="socks5h://127.0.0.1:9050")

    def test_from_the_environment_only_with_trust_env(
        self, rt: Regtest, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("ALL_PROXY", "socks5h://127.0.0.1:9050")
        with pytest.raises(ExtraNotInstalled):
            EsploraClient(rt.esplora_url, rt.network)
        EsploraClient(rt.esplora_url, rt.network, trust_env=False).close()  # not asked
