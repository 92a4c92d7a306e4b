"""watch() over a Waterfalls server: pushed through its event stream (`GET /v1/subscribe`)
where the server has one, polled where it answers 404 or no descriptor is sent.

The push tests poll once an hour: a payment reaching the watch within their timeout can
only have come through the stream (the timeout only bounds a failing test)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import lwk
import pytest
from lwk_regtest import Regtest, _waterfalls_server
from lwk_waterfalls import AsyncWaterfallsClient, WaterfallsClient
from lwk_waterfalls._sse import MAX_LINE

from lwk_core import BalanceChanged, Chain, NewTx, WalletEvent, Wollet, WolletDescriptor
from lwk_core.plugin import BackendProtocolError

NETWORK = lwk.Network.regtest_default()
HOUR = 3600.0
TIMEOUT = 60.0  # bounds a failing test only
SATS = 7_000


def _descriptor(seed: int) -> str:
    mnemonic = lwk.Mnemonic.from_entropy(bytes([seed] * 16))
    return str(lwk.Signer(mnemonic, NETWORK).wpkh_slip77_descriptor())


@pytest.fixture
def rt() -> Iterator[Regtest]:
    with Regtest() as chain:
        yield chain


def _funded(rt: Regtest, seed: int, n_txs: int) -> tuple[str, Wollet]:
    """A new wallet (descriptor, Wollet) with `n_txs` confirmed payments."""
    descriptor = _descriptor(seed)
    rt.fund_wallet(descriptor, n_txs)
    rt.mine(1)
    return descriptor, Wollet(rt.network, descriptor)


def _pay_later(rt: Regtest, descriptor: str, *, after: float = 0.3) -> threading.Thread:
    """Pay the wallet's address 3 `after` seconds from now (once the watch waits)."""
    address = WolletDescriptor(descriptor).address(Chain.EXTERNAL, 3, rt.network)

    def pay() -> None:
        time.sleep(after)
        rt.faucet(address, SATS)

    payer = threading.Thread(target=pay)
    payer.start()
    return payer


def _until_paid(events: Iterator[WalletEvent]) -> list[WalletEvent]:
    """The events up to the payment's NewTx (the first ones are the funding's)."""
    seen = []
    for event in events:
        seen.append(event)
        if isinstance(event, NewTx) and event.height is None:
            return seen
    raise AssertionError(f"the watch ended without the payment: {seen}")


def test_a_payment_is_pushed_through_the_event_stream(rt: Regtest) -> None:
    descriptor, wollet = _funded(rt, 21, 2)
    with WaterfallsClient(rt.waterfalls_url, rt.network, send_descriptor=True) as client:
        events = client.watch(wollet, interval=HOUR, timeout=TIMEOUT)
        first = [next(events) for _ in range(4)]  # the tip, 2 txs, the balance
        payer = _pay_later(rt, descriptor)
        paid = _until_paid(events)
        payer.join()
        assert client.pushes
        assert client.notifications >= 2  # the stream's opening and the mempool hint
    assert sum(isinstance(e, NewTx) for e in first) == 2
    assert paid[-1].balance == {rt.network.policy_asset: SATS}  # type: ignore[union-attr]
    assert rt.waterfalls_server.requests["GET /v1/subscribe"] == 1


def test_the_async_client_is_pushed_too(rt: Regtest) -> None:
    descriptor, wollet = _funded(rt, 22, 1)

    async def watch() -> list[WalletEvent]:
        async with AsyncWaterfallsClient(
            rt.waterfalls_url, rt.network, send_descriptor=True
        ) as client:
            seen: list[WalletEvent] = []
            async for event in client.watch(wollet, interval=HOUR, timeout=TIMEOUT):
                seen.append(event)
                if isinstance(event, BalanceChanged) and event.old == 0:
                    _pay_later(rt, descriptor)
                if isinstance(event, NewTx) and event.height is None:
                    return seen
            raise AssertionError(f"the watch ended without the payment: {seen}")

    seen = asyncio.run(watch())
    assert seen[-1].balance == {rt.network.policy_asset: SATS}  # type: ignore[attr-defined]
    assert rt.waterfalls_server.requests["GET /v1/subscribe"] == 1


def test_a_server_without_subscriptions_is_polled(rt: Regtest) -> None:
    descriptor, wollet = _funded(rt, 23, 1)
    rt.waterfalls_server.subscriptions = False  # 404, as servers before the route
    with WaterfallsClient(rt.waterfalls_url, rt.network, send_descriptor=True) as client:
        events = client.watch(wollet, interval=0.2, timeout=TIMEOUT)
        [next(events) for _ in range(3)]  # the tip, the tx, the balance
        payer = _pay_later(rt, descriptor)
        _until_paid(events)
        payer.join()
        assert not client.pushes
    assert rt.waterfalls_server.requests["GET /v1/subscribe"] == 1  # asked once, then polled
    assert rt.waterfalls_server.requests["GET /v4/waterfalls"] >= 3


def test_without_send_descriptor_nothing_is_subscribed(rt: Regtest) -> None:
    descriptor, wollet = _funded(rt, 24, 1)
    with WaterfallsClient(rt.waterfalls_url, rt.network) as client:
        assert not client.pushes
        events = client.watch(wollet, interval=0.2, timeout=TIMEOUT)
        [next(events) for _ in range(3)]
        payer = _pay_later(rt, descriptor)
        _until_paid(events)
        payer.join()
    assert rt.waterfalls_server.requests["GET /v1/subscribe"] == 0
    assert rt.waterfalls_server.learned == {}  # the descriptor never left the wallet


def test_a_closed_client_subscribes_again_on_its_next_watch(rt: Regtest) -> None:
    descriptor, wollet = _funded(rt, 25, 1)
    client = WaterfallsClient(rt.waterfalls_url, rt.network, send_descriptor=True)
    try:
        events = client.watch(wollet, interval=HOUR, timeout=TIMEOUT)
        [next(events) for _ in range(3)]  # the tip, the tx, the balance
        payer = _pay_later(rt, descriptor)
        _until_paid(events)
        payer.join()
        events.close()
        client.close()  # the stream's connection goes with the others
        events = client.watch(wollet, interval=HOUR, timeout=TIMEOUT)
        payer = _pay_later(rt, descriptor, after=1.0)
        paid = _until_paid(events)  # pushed: the poll is an hour away
        payer.join()
    finally:
        client.close()
    assert paid[-1].balance == {rt.network.policy_asset: SATS}  # type: ignore[union-attr]
    assert rt.waterfalls_server.requests["GET /v1/subscribe"] == 2


def test_a_stream_that_breaks_the_format_is_a_protocol_error_of_the_wait(
    rt: Regtest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line that never ends (over 64 KiB): the wait raises it, typed, so that the watch
    backs off and scans again; the next wait subscribes again."""

    def endless(*args: object) -> Iterator[bytes]:
        yield b": ready\n\ndata: " + b"x" * (MAX_LINE + 1)

    monkeypatch.setattr(_waterfalls_server, "events", endless)
    _, wollet = _funded(rt, 26, 1)
    with WaterfallsClient(rt.waterfalls_url, rt.network, send_descriptor=True) as client:
        client.full_scan(wollet)
        for _ in range(2):  # the wait after the failure subscribes again
            assert client.wait_for_notification(client.notifications, TIMEOUT)  # opened
            # the stream's failure already came when the next wait begins: that wait
            # raises it without subscribing again (it once did, so a third came)
            deadline = time.monotonic() + TIMEOUT
            while client.connection.streams.state.running:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            with pytest.raises(BackendProtocolError, match="line longer"):
                client.wait_for_notification(client.notifications, TIMEOUT)
    assert rt.waterfalls_server.requests["GET /v1/subscribe"] == 2
