"""The plugin system: discovery through entry points, environment switches, validation."""

from __future__ import annotations

import importlib.metadata
import logging
import types
from collections.abc import Mapping, Sequence
from typing import Any

import lwk_memory_backend
import pytest
from lwk_memory_backend import MemoryChain, MemoryClient, register_chain
from shared_data import load_fixture, unique_name

from lwk_core import Network, PluginError, UnknownScheme
from lwk_core._transaction import Transaction
from lwk_core._wollet import Wollet
from lwk_core.plugin import hookimpl
from lwk_core.plugin.manager import (
    connect,
    get_plugin_manager,
    list_plugins,
    register_plugin,
)

pytestmark = pytest.mark.usefixtures("fresh_plugins")


def test_third_party_distribution_is_discovered_with_its_version() -> None:
    plugins = {p.name: p for p in list_plugins()}
    assert plugins["memory"].schemes == ("memory",)
    assert plugins["memory"].version == importlib.metadata.version("lwk-memory-backend")


def test_connect_returns_the_owning_plugins_client() -> None:
    client = connect("memory://anything", Network.ELEMENTS_REGTEST)
    assert isinstance(client, MemoryClient)
    assert client.name == "memory://anything"


def test_disable_plugins_blocks_a_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    from lwk_core.plugin.manager import reset_plugin_manager

    monkeypatch.setenv("LWK_DISABLE_PLUGINS", "other, memory")
    reset_plugin_manager()
    assert "memory" not in {p.name for p in list_plugins()}
    with pytest.raises(UnknownScheme, match=r"memory://"):
        connect("memory://x")


def test_load_plugins_empty_loads_none(monkeypatch: pytest.MonkeyPatch) -> None:
    from lwk_core.plugin.manager import reset_plugin_manager

    monkeypatch.setenv("LWK_LOAD_PLUGINS", "")
    reset_plugin_manager()
    assert list_plugins() == []


def test_load_plugins_allows_only_the_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    from lwk_core.plugin.manager import reset_plugin_manager

    monkeypatch.setenv("LWK_LOAD_PLUGINS", "memory")
    reset_plugin_manager()
    assert [p.name for p in list_plugins()] == ["memory"]
    with pytest.raises(UnknownScheme) as info:
        connect("ssl://electrum.example:50002")
    message = str(info.value)
    assert "memory:// (memory)" in message  # names what is installed
    assert "install lwk-electrum" in message  # and what to install


def test_unknown_scheme_names_installed_schemes() -> None:
    with pytest.raises(UnknownScheme, match=r"no backend plugin handles gopher://.*memory://"):
        connect("gopher://host/secret-path-token")


def test_unknown_scheme_error_does_not_echo_the_url() -> None:
    with pytest.raises(UnknownScheme) as info:
        connect("gopher://user:password@host/secret-path-token")
    assert "password" not in str(info.value) and "secret-path-token" not in str(info.value)


def test_plugin_that_fails_to_import_is_logged_and_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from lwk_core.plugin.manager import reset_plugin_manager

    broken = importlib.metadata.EntryPoint("broken", "no_such_module_xyz", "lwk.backends")
    real = importlib.metadata.entry_points

    def entry_points(**kw: Any) -> Any:
        found = list(real(**kw))
        return [*found, broken] if kw.get("group") == "lwk.backends" else found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    reset_plugin_manager()
    with caplog.at_level(logging.WARNING, logger="lwk_core.plugins"):
        names = {p.name for p in list_plugins()}
    assert "memory" in names and "broken" not in names
    assert "'broken' failed to load" in caplog.text


def test_misspelled_hook_fails_loudly() -> None:
    typo = types.SimpleNamespace(lwk_tipp=hookimpl(lambda connection: None))
    with pytest.raises(PluginError, match="lwk_tipp"):
        register_plugin(typo, name="typo")
    assert get_plugin_manager().get_plugin("typo") is None


def test_two_plugins_claiming_one_scheme_is_an_error() -> None:
    rival = types.SimpleNamespace(lwk_schemes=hookimpl(lambda: ["memory"]))
    with pytest.raises(PluginError, match=r"both claim the memory:// scheme"):
        register_plugin(rival, name="rival")
    assert get_plugin_manager().get_plugin("rival") is None


class Recorder:
    """A wrapper plugin that sees every backend call (wrapper=True hookimpls)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _record(self, name: str) -> Any:
        self.calls.append(name)
        return (yield)

    @hookimpl(wrapper=True)
    def lwk_tip(self, connection: object) -> Any:
        return (yield from self._record("tip"))

    @hookimpl(wrapper=True)
    def lwk_scan_scripts(self, connection: object, scripts: Sequence[bytes]) -> Any:
        return (yield from self._record("scan_scripts"))

    @hookimpl(wrapper=True)
    def lwk_get_tx(self, connection: object, txids: Sequence[str]) -> Any:
        return (yield from self._record("get_tx"))

    @hookimpl(wrapper=True)
    def lwk_block_timestamps(self, connection: object, heights: Sequence[int]) -> Any:
        return (yield from self._record("block_timestamps"))

    @hookimpl(wrapper=True)
    def lwk_connect(self, url: str, network: Any, options: Mapping[str, Any]) -> Any:
        return (yield from self._record("connect"))


def test_wrapper_plugin_observes_every_backend_call_of_a_scan() -> None:
    fixture = load_fixture("liquid-testnet-wallet.json")
    chain = MemoryChain(Network.LIQUID_TESTNET)
    name = unique_name("wrapped")
    register_chain(name, chain)
    for txid in fixture["steps"][0]["txids"]:
        entry = fixture["transactions"][txid]
        chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])
    recorder = Recorder()
    register_plugin(recorder, name="recorder")
    client = connect(f"memory://{name}", Network.LIQUID_TESTNET)
    wollet = Wollet(Network.LIQUID_TESTNET, fixture["descriptor"])
    assert client.full_scan(wollet) is not None
    assert recorder.calls[0] == "connect"
    # The wrapper saw exactly the calls the backend served, in order.
    assert recorder.calls[1:] == client.conn.calls
    assert {"tip", "scan_scripts", "get_tx"} <= set(recorder.calls)


def test_explicit_client_registers_its_plugin_even_if_disabled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lwk_core.plugin.manager import reset_plugin_manager

    monkeypatch.setenv("LWK_LOAD_PLUGINS", "")
    reset_plugin_manager()
    chain = MemoryChain()
    name = unique_name("explicit")
    register_chain(name, chain)
    client = MemoryClient(name)
    assert client.tip().height == 0
    assert get_plugin_manager().is_registered(lwk_memory_backend)
