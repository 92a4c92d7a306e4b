"""AsyncElectrumClient proves the chain its server serves and holds the caller's scan limits
exactly as ElectrumClient does (both run lwk_core's checks on one protocol core): the
genesis hash from `server.features`, asked once per client until it closes; a server of
another network refused before any script is asked, the wallet left as it was.

Ground truth: the networks' genesis hashes as LWK gives them (`genesis_block_hash()`), the
blocking client's request counts on the same server, and the faucet's payments.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import lwk
import pytest
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_regtest import Regtest
from regtest_wallets import address, descriptor

from lwk_core import (
    Network,
    ScanLimitExceeded,
    ScanLimits,
    Update,
    Wollet,
    WrongNetwork,
    connect_async,
)

TESTNET = str(lwk.Network.testnet().genesis_block_hash())
REGTEST = str(lwk.Network.regtest_default().genesis_block_hash())


@pytest.fixture(scope="module")
def testnet() -> Iterator[Regtest]:
    """A server of Liquid testnet (as far as its genesis says)."""
    with Regtest(Network.LIQUID_TESTNET) as regtest:
        yield regtest


def _requests(rt: Regtest) -> Counter[str]:
    return Counter(rt.electrum_server.requests)


def _funded(rt: Regtest, name: str) -> Wollet:
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor(name))
    rt.faucet(address(wollet, 0), 10_000)
    rt.faucet(address(wollet, 1), 20_000)
    rt.mine(1)
    return wollet


def test_the_async_client_answers_the_networks_genesis(rt: Regtest, testnet: Regtest) -> None:
    async def genesis(server: Regtest) -> str:
        async with AsyncElectrumClient.from_url(server.electrum_url) as client:
            return await client.genesis_hash()

    assert asyncio.run(genesis(testnet)) == TESTNET
    assert asyncio.run(genesis(rt)) == REGTEST


def test_a_server_of_another_network_is_refused_before_any_script(
    rt: Regtest, testnet: Regtest
) -> None:
    wollet = _funded(rt, "async identity refused")
    with ElectrumClient.from_url(rt.electrum_url) as blocking:
        update = blocking.full_scan(wollet)
    assert update is not None
    wollet.apply_update(update)  # pins the wallet to rt's chain
    before = wollet.state
    asked = _requests(testnet)

    async def main() -> None:
        async with connect_async(testnet.electrum_url) as client:
            with pytest.raises(WrongNetwork) as caught:
                await client.full_scan(wollet)
            assert caught.value.served == TESTNET
            assert caught.value.expected == REGTEST
            assert str(caught.value).startswith(f"{client.name}: the server serves liquidtestnet")

    asyncio.run(main())
    # the handshake and the genesis (with the tip's subscription, one burst), no script asked
    assert _requests(testnet) - asked == {
        "server.version": 1,
        "server.features": 1,
        "blockchain.headers.subscribe": 1,
    }
    assert wollet.state is before


def test_the_genesis_is_asked_once_per_client_until_it_closes_as_blocking(rt: Regtest) -> None:
    wollet = _funded(rt, "async identity once")
    before = _requests(rt)
    with ElectrumClient.from_url(rt.electrum_url) as blocking:
        blocking.full_scan(wollet)
        blocking.full_scan(wollet)
    blocking_asked = (_requests(rt) - before)["server.features"]

    async def main() -> Update | None:
        client = AsyncElectrumClient.from_url(rt.electrum_url)
        update = await client.full_scan(wollet)
        await client.full_scan(wollet)
        await client.close()
        await client.full_scan(wollet)
        await client.close()
        return update

    before = _requests(rt)
    update = asyncio.run(main())
    assert blocking_asked == 1
    assert (_requests(rt) - before)["server.features"] == 2
    assert update is not None
    assert update.genesis_hash == REGTEST


def test_scan_limits_hold_for_the_async_client_as_for_the_blocking(rt: Regtest) -> None:
    wollet = _funded(rt, "async limits")  # two history entries
    tight = ScanLimits(max_history_entries=1)
    with (
        ElectrumClient.from_url(rt.electrum_url) as blocking,
        pytest.raises(ScanLimitExceeded) as blocking_refused,
    ):
        blocking.full_scan(wollet, limits=tight)

    async def main() -> Update | None:
        async with AsyncElectrumClient.from_url(rt.electrum_url) as client:
            with pytest.raises(ScanLimitExceeded) as refused:
                await client.full_scan(wollet, limits=tight)
            assert str(refused.value) == str(blocking_refused.value)
            return await client.full_scan(wollet)  # the default limits let it through

    update = asyncio.run(main())
    assert update is not None and len(update.new_txs) == 2
