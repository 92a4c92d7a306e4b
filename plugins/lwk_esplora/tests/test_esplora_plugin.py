"""The plugin as lwk-core sees it: entry point, schemes, connect() options, hooks."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator

import pytest
from esplora_fake import FakeEsplora
from lwk_esplora import EsploraClient, _plugin

from lwk_core import Network, connect
from lwk_core.plugin.manager import get_plugin_manager, list_plugins, reset_plugin_manager


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("LWK_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("LWK_LOAD_PLUGINS", raising=False)
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def test_entry_point_and_schemes() -> None:
    (ep,) = [
        e for e in importlib.metadata.entry_points(group="lwk.backends") if e.name == "esplora"
    ]
    assert ep.load() is _plugin
    assert ep.dist is not None and ep.dist.name == "lwk-esplora"
    info = {p.name: p for p in list_plugins()}["esplora"]
    assert info.schemes == ("http", "https")
    assert get_plugin_manager().get_plugin("esplora") is _plugin


def test_connect_builds_an_esplora_client_with_options() -> None:
    client = connect(
        "https://blockstream.info/liquid/api", Network.LIQUID, timeout=5, concurrency=2
    )
    assert isinstance(client, EsploraClient)
    assert client.connection.http.settings.timeout == 5.0
    assert client.connection.http.settings.concurrency == 2
    assert client.network is Network.LIQUID


def test_connect_errors() -> None:
    with pytest.raises(TypeError, match="network"):
        connect("https://blockstream.info/liquid/api")
    with pytest.raises(TypeError, match="unknown Esplora option"):
        connect("https://blockstream.info/liquid/api", Network.LIQUID, tls=True)


def test_client_methods_go_through_the_hooks() -> None:
    fake = FakeEsplora()
    calls: list[str] = []

    class Spy:
        from lwk_core.plugin import hookimpl

        @hookimpl(wrapper=True)
        def lwk_tip(self, connection: object) -> object:
            calls.append(type(connection).__name__)
            return (yield)

    spy = Spy()
    get_plugin_manager().register(spy)
    try:
        with EsploraClient(
            "http://esplora.test/api", Network.LIQUID_TESTNET, transport=fake.transport()
        ) as client:
            assert client.tip().height == fake.headers[-1].height
    finally:
        get_plugin_manager().unregister(spy)
    assert calls == ["EsploraBackend"]


def test_close_then_reuse_reopens(fake: FakeEsplora) -> None:
    client = EsploraClient("http://esplora.test/api", Network.LIQUID, transport=fake.transport())
    client.ping()
    client.close()
    client.close()  # idempotent
    client.ping()
    assert len(fake.requests) == 2
