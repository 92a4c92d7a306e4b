"""lwk-metrics, installed as its own distribution, sees the calls of a real scan."""

from __future__ import annotations

import lwk_metrics
import pytest
from lwk_memory_backend import MemoryChain, MemoryClient, register_chain

from lwk_core import Network, Wollet
from lwk_core.plugin.manager import list_plugins, reset_plugin_manager

DESCRIPTOR = (
    "ct(slip77(ac53739ddde9fdf6bba3dbc51e989b09aa8c9cdce7b7d7eddd49cec86ddf71f7),elwpkh("
    "[93970d14/84'/1'/0']tpubDC3BrFCCjXq4jAceV8k6UACxDDJCFb1eb7R7BiKYUGZdNagEhNfJoYtUrRdci9"
    "JFs1meiGGModvmNm8PrqkrEjJ6mpt6gA1DRNU8vu7GqXH/<0;1>/*))"
)


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LWK_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("LWK_LOAD_PLUGINS", raising=False)
    reset_plugin_manager()
    lwk_metrics.reset()


def test_counts_every_hook_call_of_a_scan() -> None:
    register_chain("metrics-empty", MemoryChain(Network.LIQUID_TESTNET))
    client = MemoryClient("metrics-empty", Network.LIQUID_TESTNET)
    client.full_scan(Wollet(Network.LIQUID_TESTNET, DESCRIPTOR))
    stats = {(s.plugin, s.hook): s for s in lwk_metrics.snapshot()}
    # An empty wallet: one tip, one request holding the first batch of both chains.
    assert stats[("lwk_memory_backend", "tip")].calls == 1
    assert stats[("lwk_memory_backend", "scan_scripts")].calls == 1
    assert ("lwk_memory_backend", "get_tx") not in stats
    assert client.conn.calls == ["scan_scripts", "tip"]


def test_counts_failures() -> None:
    register_chain("metrics-down", MemoryChain(Network.LIQUID_TESTNET))
    client = MemoryClient("metrics-down", Network.LIQUID_TESTNET)
    client.conn.faults["refuse"] = True
    with pytest.raises(Exception, match="refused"):
        client.tip()
    (row,) = lwk_metrics.snapshot()
    assert (row.hook, row.calls, row.errors) == ("tip", 1, 1)


def test_is_discovered_and_can_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    from lwk_core.plugin.manager import get_plugin_manager

    listed = {p.name: p for p in list_plugins()}
    assert listed["metrics"].schemes == ()  # a wrapper: it owns no URL scheme
    monkeypatch.setenv("LWK_DISABLE_PLUGINS", "metrics")
    reset_plugin_manager()
    assert get_plugin_manager().get_plugin("metrics") is None
    assert "metrics" not in {p.name for p in list_plugins()}


def test_times_the_awaited_work_of_an_async_backend() -> None:
    """The async flavour answers an awaitable at once; the time recorded is its awaiting."""
    import asyncio

    from lwk_core import connect_async

    register_chain("metrics-async", MemoryChain(Network.LIQUID_TESTNET))

    async def main() -> None:
        async with connect_async("memory://metrics-async", Network.LIQUID_TESTNET) as client:
            client.connection.faults["latency"] = 0.05  # type: ignore[attr-defined]
            await client.tip()
            client.connection.faults["refuse"] = True  # type: ignore[attr-defined]
            with pytest.raises(Exception, match="refused"):
                await client.tip()

    asyncio.run(main())
    (row,) = lwk_metrics.snapshot()
    assert (row.hook, row.calls, row.errors) == ("tip", 2, 1)
    assert row.seconds >= 2 * 0.05
