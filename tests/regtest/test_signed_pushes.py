"""Pushed and answered Electrum tip headers are checked against the block signers, in
`watch()` (blocking and async) and in `Monitor`/`AsyncMonitor`: a header the trusted
federation did not sign is a BadBlockSignature, the chain fails over, and the wallet never
gets the tip as a NewTip.

Ground truth: the embedded chain signs every block with `rt.signers` (2 of 3); the
`unsigned_tip` fault hands out the same headers with their signatures taken out, and a
client told to trust another federation must refuse every header of this chain. No
assertion depends on how long anything took (a watch's `timeout` only ends the watch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from following import Following
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_esplora import AsyncEsploraClient, EsploraClient
from lwk_oracle import new_wallet
from lwk_regtest import BlockSigners, Regtest

from lwk_core import (
    AsyncBackendChain,
    AsyncMonitor,
    BackendChain,
    BadBlockSignature,
    BlockHeader,
    Monitor,
    NewTip,
    WalletEvent,
    Wollet,
    verify_header,
)

WAIT = 60.0  # seconds a step may take before the test gives up (not a measurement)
OTHERS = BlockSigners(BlockSigners.generate(2, 5).seeds[2:], 2, dynafed=True).federation()


@pytest.fixture
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


def real_tip(rt: Regtest) -> NewTip:
    return NewTip(rt.tip_height(), rt.chain.tip_hash())


def check_signed_by(rt: Regtest, wollet: Wollet) -> None:
    """The wallet's tip is the chain's, its header carrying the federation's signatures."""
    tip = wollet.tip()
    federation = rt.federation()
    assert tip is not None and federation is not None
    assert (tip.height, tip.hash) == (rt.tip_height(), rt.chain.tip_hash())
    verify_header(BlockHeader.parse(tip.header), federation)


def test_the_fault_strips_the_signatures_of_the_same_block(rt: Regtest) -> None:
    client = ElectrumClient.from_url(rt.electrum_url)
    client.block_signers = rt.federation()
    signed = client.tip()
    rt.electrum_faults.set("unsigned_tip", 1)
    other = ElectrumClient.from_url(rt.electrum_url)
    other.block_signers = None  # the check off: what the server answered, as it is
    stripped = other.tip()
    assert (stripped.height, stripped.hash) == (signed.height, signed.hash)
    assert BlockHeader.parse(stripped.header).signblock_witness == ()
    assert BlockHeader.parse(signed.header).signblock_witness != ()
    client.close()
    other.close()


def test_a_pushed_unsigned_header_fails_over_in_a_blocking_watch(
    rt: Regtest, caplog: pytest.LogCaptureFixture
) -> None:
    wollet = Wollet(rt.network, new_wallet("signed push blocking").descriptor)
    electrum = ElectrumClient.from_url(rt.electrum_url)
    esplora = EsploraClient(rt.esplora_url, rt.network)
    for client in (electrum, esplora):
        client.block_signers = rt.federation()
    chain = BackendChain([electrum, esplora])
    following = Following(lambda: chain.watch(wollet, interval=0.2), "test-signed-push")
    try:
        with caplog.at_level(logging.WARNING, logger="lwk_core.failover"):
            assert following.take(1) == [real_tip(rt)]  # served by Electrum
            rt.electrum_faults.set("unsigned_tip")  # its pushes too, until cleared
            rt.mine(1)  # pushed to the watching Electrum client without signatures
            assert following.take(1) == [real_tip(rt)]  # the signed tip, from Esplora
        check_signed_by(rt, wollet)
        assert "BadBlockSignature" in caplog.text
        with pytest.raises(BadBlockSignature):
            electrum.tip()  # the header it was pushed stays refused
    finally:
        rt.electrum_faults.clear()
        following.stop(lambda: rt.mine(1))
        chain.close()


def test_a_pushed_unsigned_header_fails_over_in_an_async_watch(
    rt: Regtest, caplog: pytest.LogCaptureFixture
) -> None:
    wollet = Wollet(rt.network, new_wallet("signed push async").descriptor)

    async def main() -> None:
        electrum = AsyncElectrumClient.from_url(rt.electrum_url)
        esplora = AsyncEsploraClient(url=rt.esplora_url, network=rt.network)
        for client in (electrum, esplora):
            client.block_signers = rt.federation()
        async with AsyncBackendChain([electrum, esplora]) as chain:
            events: AsyncIterator[WalletEvent] = chain.watch(wollet, interval=0.2)
            async with contextlib.aclosing(events):  # type: ignore[type-var]
                assert await asyncio.wait_for(anext(events), WAIT) == real_tip(rt)
                rt.electrum_faults.set("unsigned_tip")
                await asyncio.to_thread(rt.mine, 1)
                assert await asyncio.wait_for(anext(events), WAIT) == real_tip(rt)
            with pytest.raises(BadBlockSignature):
                await electrum.tip()

    with caplog.at_level(logging.WARNING, logger="lwk_core.failover"):
        asyncio.run(main())
    check_signed_by(rt, wollet)
    assert "BadBlockSignature" in caplog.text


def test_a_client_trusting_another_federation_never_takes_a_tip(rt: Regtest) -> None:
    """The whole chain is signed, by signers the client does not trust: the watch ends with
    the BadBlockSignature, having handed over no event, and the wallet has no tip."""
    wollet = Wollet(rt.network, new_wallet("other federation").descriptor)
    client = ElectrumClient.from_url(rt.electrum_url)
    client.block_signers = OTHERS
    with pytest.raises(BadBlockSignature, match="not the trusted federation's"):
        for event in client.watch(wollet, interval=0.2, timeout=1.0):
            pytest.fail(f"an event from a chain the client does not trust: {event}")
    assert wollet.tip() is None
    client.close()


def test_an_async_client_trusting_another_federation_never_takes_a_tip(rt: Regtest) -> None:
    wollet = Wollet(rt.network, new_wallet("other federation async").descriptor)

    async def main() -> None:
        async with AsyncElectrumClient.from_url(rt.electrum_url) as client:
            client.block_signers = OTHERS
            with pytest.raises(BadBlockSignature, match="not the trusted federation's"):
                async for event in client.watch(wollet, interval=0.2, timeout=1.0):
                    pytest.fail(f"an event from a chain the client does not trust: {event}")

    asyncio.run(main())
    assert wollet.tip() is None


def test_monitors_report_a_header_of_other_signers_and_take_no_tip(
    rt: Regtest, caplog: pytest.LogCaptureFixture
) -> None:
    wollets = [Wollet(rt.network, new_wallet(f"monitor signers {i}").descriptor) for i in (1, 2)]
    client = ElectrumClient.from_url(rt.electrum_url)
    client.block_signers = OTHERS

    async def async_round() -> list[object]:
        async with AsyncElectrumClient.from_url(rt.electrum_url) as aclient:
            aclient.block_signers = OTHERS
            return list(await AsyncMonitor(aclient, wollets).round())

    with caplog.at_level(logging.WARNING, logger="lwk_core"):
        assert Monitor(client, wollets).round() == []
        assert asyncio.run(async_round()) == []
    client.close()
    assert [w.tip() for w in wollets] == [None, None]
    reported = [
        r.getMessage() for r in caplog.records if "block signature invalid" in r.getMessage()
    ]
    assert len(reported) == 4  # each wallet, in each monitor
