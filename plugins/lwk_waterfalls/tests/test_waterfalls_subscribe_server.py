"""The regtest Waterfalls server's `GET /v1/subscribe` (RCasatta/waterfalls `docs/API.md`,
"Descriptor Subscription"), read by LWK 0.19's own subscriber (`WaterfallsClient.subscribe`):
the events it parses are the ones upstream documents, in the order the chain changed."""

from __future__ import annotations

import threading
import time
from typing import Any

import lwk
import pytest
from lwk_regtest import Regtest

from lwk_core import Chain, WolletDescriptor

pytestmark = pytest.mark.lwk

NETWORK = lwk.Network.regtest_default()


def _descriptor(seed: int) -> str:
    mnemonic = lwk.Mnemonic.from_entropy(bytes([seed] * 16))
    return str(lwk.Signer(mnemonic, NETWORK).wpkh_slip77_descriptor())


def _scanned(rt: Regtest, descriptor: str) -> lwk.WaterfallsClient:
    client = lwk.WaterfallsClient(rt.waterfalls_url.removeprefix("waterfalls+"), NETWORK)
    wollet = lwk.Wollet(NETWORK, lwk.WolletDescriptor(descriptor), None)
    client.full_scan(wollet)
    return client


def _subscribe(rt: Regtest, client: lwk.WaterfallsClient, descriptor: str) -> Any:
    """LWK's subscription, once the server's stream watches the chain: LWK connects in the
    background, and a change before that would be no event of the stream."""
    before = rt.waterfalls_server.watching
    subscription = client.subscribe(lwk.WolletDescriptor(descriptor))
    deadline = time.monotonic() + 30
    while rt.waterfalls_server.watching == before:
        assert time.monotonic() < deadline, "LWK's subscription never reached the server"
        time.sleep(0.01)
    return subscription


def _next(subscription: Any) -> Any:
    """The next update, or a failure after 30 s: LWK's next_update() has no timeout."""
    found: list[Any] = []
    reader = threading.Thread(target=lambda: found.append(subscription.next_update()), daemon=True)
    reader.start()
    reader.join(30)
    assert found, "no update from LWK's subscription in 30 s"
    return found[0]


def test_lwk_reads_each_change_as_upstream_names_it() -> None:
    descriptor = _descriptor(7)
    with Regtest() as rt:
        rt.fund_wallet(descriptor, 2)
        rt.mine(1)
        client = _scanned(rt, descriptor)  # kept: LWK ends its streams with the client
        subscription = _subscribe(rt, client, descriptor)
        try:
            # index 21: beyond the first gap window, within the highest used (1) + 20
            address = WolletDescriptor(descriptor).address(Chain.EXTERNAL, 21, rt.network)
            rt.faucet(address, 5_000)
            mempool = _next(subscription)
            rt.mine(1)
            block = _next(subscription)
            rt.mine(1)
            tip = _next(subscription)
            rt.reorg(1)
            reorg = _next(subscription)
        finally:
            subscription.close_subscription()
        assert [e.kind for e in (mempool, block, tip, reorg)] == [
            "mempool",
            "block",
            "tip",
            "reorg",
        ]
        assert mempool.tip is not None and tip.tip is not None and reorg.tip is not None
        assert (block.tip.height, tip.tip.height) == (
            mempool.tip.height + 1,
            mempool.tip.height + 2,
        )
        assert tip.tip.block_hash != reorg.tip.block_hash  # the reorg replaced that block
        assert reorg.tip.block_hash == rt.waterfalls_server.chain.tip_hash()


def test_a_payment_to_another_wallet_is_no_event_of_this_one() -> None:
    mine, other = _descriptor(8), _descriptor(9)
    with Regtest() as rt:
        rt.fund_wallet(mine, 1)
        rt.mine(1)
        client = _scanned(rt, mine)
        subscription = _subscribe(rt, client, mine)
        try:
            rt.faucet(WolletDescriptor(other).address(Chain.EXTERNAL, 0, rt.network), 5_000)
            rt.mine(1)  # the other wallet's payment confirms: a new tip, nothing of ours
            event = _next(subscription)
        finally:
            subscription.close_subscription()
        assert event.kind == "tip"


def test_a_descriptor_never_scanned_is_refused() -> None:
    descriptor = _descriptor(10)
    with Regtest() as rt:
        client = lwk.WaterfallsClient(rt.waterfalls_url.removeprefix("waterfalls+"), NETWORK)
        with pytest.raises(lwk.LwkError) as refused:
            client.subscribe(lwk.WolletDescriptor(descriptor)).next_update()
        assert "DescriptorNotScanned" in str(refused.value)
        assert rt.waterfalls_server.requests["GET /v1/subscribe"] == 1
