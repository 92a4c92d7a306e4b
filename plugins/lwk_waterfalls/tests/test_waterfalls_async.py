"""AsyncWaterfallsClient on the embedded Waterfalls server: the same answers as the blocking
client and as LWK 0.19's WaterfallsClient, in the same requests."""

from __future__ import annotations

import asyncio
import os

import lwk
import pytest
from lwk_regtest import Regtest
from lwk_waterfalls import AsyncWaterfallsClient, WaterfallsClient
from waterfalls_views import lwk_waterfalls_view, scanned, view

from lwk_core import AsyncClient, Chain, Update, Wollet, WolletDescriptor, connect_async


def _funded_descriptor(rt: Regtest) -> str:
    mnemonic = lwk.Mnemonic.from_entropy(os.urandom(16))
    descriptor = str(lwk.Signer(mnemonic, lwk.Network.regtest_default()).wpkh_slip77_descriptor())
    d = WolletDescriptor(descriptor)
    for index, sats in ((0, 2_000), (19, 3_000), (38, 4_000)):  # three address batches deep
        rt.faucet(d.address(Chain.EXTERNAL, index, rt.network), sats)
    rt.mine(1)
    rt.faucet(d.address(Chain.INTERNAL, 3, rt.network), 1_500)  # stays in the mempool
    return descriptor


async def _scan(client: AsyncClient, wollet: Wollet) -> Update | None:
    async with client:
        return await client.full_scan(wollet)


@pytest.mark.lwk
@pytest.mark.parametrize("send_descriptor", [True, False], ids=["descriptor", "scripts"])
def test_async_scan_equals_blocking_client_and_lwk(
    lwk_regtest: Regtest, send_descriptor: bool
) -> None:
    rt = lwk_regtest
    descriptor = _funded_descriptor(rt)
    server = rt.waterfalls_server.faults
    before = server.requests
    blocking = view(
        scanned(
            WaterfallsClient(rt.waterfalls_url, rt.network, send_descriptor=send_descriptor),
            Wollet(rt.network, descriptor),
        )
    )
    blocking_requests, before = server.requests - before, server.requests
    wollet = Wollet(rt.network, descriptor)
    client = AsyncWaterfallsClient(rt.waterfalls_url, rt.network, send_descriptor=send_descriptor)
    update = asyncio.run(_scan(client, wollet))
    assert update is not None
    wollet.apply_update(update)
    assert server.requests - before == blocking_requests  # the same steps, the same requests
    assert view(wollet) == blocking
    assert blocking == lwk_waterfalls_view(
        rt.waterfalls_url, lwk.Network.regtest_default(), descriptor
    )
    assert blocking[0] == {rt.network.policy_asset: 10_500}


def test_connect_async_gives_an_async_waterfalls_client(lwk_regtest: Regtest) -> None:
    rt = lwk_regtest

    async def main() -> tuple[type, int]:
        async with connect_async(rt.waterfalls_url, rt.network, send_descriptor=True) as client:
            return type(client), (await client.tip()).height

    kind, height = asyncio.run(main())
    assert kind is AsyncWaterfallsClient
    assert height == rt.chain.tip_height()
