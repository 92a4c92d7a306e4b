"""The plugin system: discovery through entry points, environment switches, validation."""

from __future__ import annotations

import importlib.metadata
import logging
import time
import types
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from lwk_electrum import ElectrumClient
from lwk_memory_backend import MemoryBackend, MemoryChain, MemoryClient, register_chain
from shared_data import load_fixture, unique_name

from lwk_core import Client, Network, PluginError, Transaction, UnknownScheme, Wollet, connect
from lwk_core.plugin import Tip, hookimpl
from lwk_core.plugin.manager import get_plugin_manager, list_plugins, register_plugin

pytestmark = pytest.mark.usefixtures("fresh_plugins")


def test_third_party_distribution_is_discovered_with_its_version() -> None:
    plugins = {p.name: p for p in list_plugins()}
    assert plugins["memory"].schemes == ("memory",)
    assert plugins["memory"].version == importlib.metadata.version("lwk-memory-backend")


def test_connect_wraps_the_owning_plugins_backend_in_a_client() -> None:
    client = connect("memory://anything", Network.ELEMENTS_REGTEST)
    assert type(client) is Client  # the plugin returned a bare Backend
    assert isinstance(client.connection, MemoryBackend)
    assert client.name == "memory://anything"
    electrum = connect("tcp://127.0.0.1:1", None)
    assert isinstance(electrum, ElectrumClient)  # a plugin's own Client subclass, as it is


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
    def lwk_genesis_hash(self, connection: object) -> Any:
        return (yield from self._record("genesis_hash"))

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
    def lwk_block_headers(self, connection: object, heights: Sequence[int]) -> Any:
        return (yield from self._record("block_headers"))

    @hookimpl(wrapper=True)
    def lwk_connect(self, url: str, network: Any, options: Mapping[str, Any]) -> Any:
        return (yield from self._record("connect"))


def _fixture_chain(prefix: str) -> tuple[str, dict[str, Any]]:
    """A memory chain holding the first step of the testnet fixture wallet."""
    fixture = load_fixture("liquid-testnet-wallet.json")
    chain = MemoryChain(Network.LIQUID_TESTNET)
    name = unique_name(prefix)
    register_chain(name, chain)
    for txid in fixture["steps"][0]["txids"]:
        entry = fixture["transactions"][txid]
        chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])
    return name, fixture


def test_wrapper_plugin_observes_every_backend_call_of_a_scan() -> None:
    name, fixture = _fixture_chain("wrapped")
    recorder = Recorder()
    register_plugin(recorder, name="recorder")
    client = connect(f"memory://{name}", Network.LIQUID_TESTNET)
    wollet = Wollet(Network.LIQUID_TESTNET, fixture["descriptor"])
    assert client.full_scan(wollet) is not None
    assert recorder.calls[0] == "connect"
    # The wrapper saw exactly the calls the backend served, in order.
    assert recorder.calls[1:] == client.connection.calls
    assert {"tip", "scan_scripts", "get_tx"} <= set(recorder.calls)


class Timer:
    """A wrapper timing each backend call around the owner's answer."""

    def __init__(self) -> None:
        self.seconds: list[tuple[str, float]] = []

    def _timed(self, hook: str) -> Any:
        started = time.perf_counter()
        try:
            return (yield)
        finally:
            self.seconds.append((hook, time.perf_counter() - started))

    @hookimpl(wrapper=True)
    def lwk_genesis_hash(self) -> Any:
        return (yield from self._timed("genesis_hash"))

    @hookimpl(wrapper=True)
    def lwk_tip(self) -> Any:
        return (yield from self._timed("tip"))

    @hookimpl(wrapper=True)
    def lwk_scan_scripts(self) -> Any:
        return (yield from self._timed("scan_scripts"))

    @hookimpl(wrapper=True)
    def lwk_get_tx(self) -> Any:
        return (yield from self._timed("get_tx"))

    @hookimpl(wrapper=True)
    def lwk_block_headers(self) -> Any:
        return (yield from self._timed("block_headers"))


def test_wrapper_plugin_sees_every_call_of_a_scan_with_its_duration() -> None:
    name, fixture = _fixture_chain("timed")
    timer = Timer()
    register_plugin(timer, name="timer")
    client = MemoryClient(name, Network.LIQUID_TESTNET)
    client.conn.faults["latency"] = 0.03  # each backend call takes at least 30 ms
    assert client.full_scan(Wollet(Network.LIQUID_TESTNET, fixture["descriptor"])) is not None
    assert [hook for hook, _ in timer.seconds] == client.conn.calls
    assert all(seconds >= 0.03 for _, seconds in timer.seconds)


def test_a_hook_reaches_only_the_plugin_owning_the_backend() -> None:
    class Rival:
        """Owns another scheme and would answer any tip if it were asked."""

        def __init__(self) -> None:
            self.asked = 0

        @hookimpl
        def lwk_schemes(self) -> list[str]:
            return ["rival"]

        @hookimpl
        def lwk_tip(self, connection: object) -> Tip:
            self.asked += 1
            return Tip(height=999, hash="ee" * 32, timestamp=0)

    rival = Rival()
    register_plugin(rival, name="rival")
    name = unique_name("owned")
    register_chain(name, MemoryChain())
    tip = connect(f"memory://{name}").tip()
    assert (tip.height, rival.asked) == (0, 0)


def test_a_plugin_returning_none_is_a_plugin_error() -> None:
    class Silent:
        @hookimpl
        def lwk_schemes(self) -> list[str]:
            return ["silent"]

        @hookimpl
        def lwk_connect(self, url: str) -> MemoryBackend:
            return MemoryBackend("silent", 1.0)

    register_plugin(Silent(), name="silent")
    client = connect("silent://x")
    with pytest.raises(PluginError, match="did not answer lwk_tip"):
        client.tip()  # the plugin created the backend but implements no lwk_tip


def test_disabled_plugins_hold_for_explicitly_built_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lwk_core.plugin.manager import reset_plugin_manager

    monkeypatch.setenv("LWK_DISABLE_PLUGINS", "electrum,memory")
    reset_plugin_manager()
    with pytest.raises(PluginError, match=r"'electrum' is not loaded.*LWK_DISABLE_PLUGINS"):
        ElectrumClient("127.0.0.1:1", tls=False)
    with pytest.raises(PluginError, match=r"'memory' is not loaded"):
        MemoryClient(unique_name("explicit"))
    assert get_plugin_manager().get_plugin("memory") is None
    assert get_plugin_manager().get_plugin("electrum") is None
    monkeypatch.setenv("LWK_LOAD_PLUGINS", "")
    monkeypatch.delenv("LWK_DISABLE_PLUGINS")
    reset_plugin_manager()
    with pytest.raises(PluginError, match=r"LWK_LOAD_PLUGINS"):
        MemoryClient(unique_name("explicit"))
