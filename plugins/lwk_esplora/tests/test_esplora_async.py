"""AsyncEsploraClient against the embedded regtest Esplora server, the blocking client and
LWK (the `lwk` wheel), and against the in-process fake for the HTTP rules.

Each test runs its own event loop (`asyncio.run`), which closes it: a task, socket or
coroutine left behind shows up as a warning, an error under `-W error`.
"""

from __future__ import annotations

import asyncio
import random
import socket
import warnings
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import lwk
import pytest
from esplora_fake import FakeEsplora
from lwk_esplora import AsyncEsploraClient, EsploraClient
from lwk_regtest import Regtest
from shared_data import DATA, load_fixture

from lwk_core import (
    AsyncBackendChain,
    BackendConnectError,
    BackendProtocolError,
    Network,
    RateLimited,
    Update,
    Wollet,
    connect_async,
)

FIXTURE = load_fixture("liquid-testnet-wallet.json")
EXPECTED = FIXTURE["steps"][1]["expected"]
NET = Network.LIQUID_TESTNET


@attrs.frozen
class Env:
    rt: Regtest
    blocking: Update  # the blocking client's first scan of the fixture wallet

    @property
    def url(self) -> str:
        return self.rt.esplora_url + "/api"


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with Regtest.from_fixture(DATA / "liquid-testnet-wallet.json", step=1) as rt:
        with EsploraClient(rt.esplora_url + "/api", NET) as client:
            update = client.full_scan(_wollet())
        assert update is not None
        yield Env(rt, update)


def _wollet() -> Wollet:
    return Wollet(NET, FIXTURE["descriptor"])


def _applied(update: Update | None) -> Wollet:
    assert update is not None
    wollet = _wollet()
    wollet.apply_update(update)
    return wollet


def _dead_url() -> str:
    """An http:// URL on a loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


def test_async_scan_equals_blocking_client_and_lwk(env: Env) -> None:
    async def main() -> Update | None:
        async with AsyncEsploraClient(url=env.url, network=NET) as client:
            return await client.full_scan(_wollet())

    update = asyncio.run(main())
    assert update == env.blocking
    wollet = _applied(update)
    assert dict(wollet.balance()) == EXPECTED["balance"]  # LWK's figures for the fixture
    assert len(wollet.utxos()) == int(EXPECTED["utxo_count"])

    theirs = lwk.Wollet(lwk.Network.testnet(), lwk.WolletDescriptor(FIXTURE["descriptor"]), None)
    lwk_update = lwk.EsploraClient(env.url, lwk.Network.testnet()).full_scan(theirs)
    assert lwk_update is not None
    theirs.apply_update(lwk_update)
    assert dict(wollet.balance()) == {str(a): v for a, v in theirs.balance().items()}
    assert sorted(t.txid for t in wollet.transactions()) == sorted(
        str(t.txid()) for t in theirs.transactions()
    )


def test_connect_async_gives_an_async_esplora_client(env: Env) -> None:
    async def main() -> tuple[type, int, int]:
        async with connect_async(env.url, NET, concurrency=3) as client:
            tip = await client.tip()
            tx = await client.get_tx(FIXTURE["steps"][1]["txids"][0])
            return type(client), tip.height, len(tx.to_bytes())

    kind, height, size = asyncio.run(main())
    assert kind is AsyncEsploraClient
    assert height == env.rt.tip_height()
    assert size == len(
        bytes.fromhex(FIXTURE["transactions"][FIXTURE["steps"][1]["txids"][0]]["hex"])
    )


def test_one_client_serves_many_concurrent_scans(env: Env) -> None:
    async def main() -> list[Update | None]:
        async with AsyncEsploraClient(url=env.url, network=NET, concurrency=4) as client:
            return await asyncio.gather(*(client.full_scan(_wollet()) for _ in range(6)))

    assert asyncio.run(main()) == [env.blocking] * 6


def test_async_chain_fails_over_from_a_dead_first_backend(env: Env) -> None:
    async def main() -> Update | None:
        async with AsyncBackendChain([_dead_url(), env.url], network=NET, timeout=2) as chain:
            assert [type(c) for c in chain.backends] == [AsyncEsploraClient] * 2
            return await chain.full_scan(_wollet())

    assert asyncio.run(main()) == env.blocking


def test_cancelled_scans_leave_client_usable_and_wallet_unchanged(env: Env) -> None:
    rng = random.Random(1717)
    env.rt.esplora_faults.latency = 0.003

    cancelled = 0

    async def main() -> Update | None:
        nonlocal cancelled
        wollet = _wollet()
        before = wollet.state
        async with AsyncEsploraClient(url=env.url, network=NET) as client:
            for _ in range(12):
                try:
                    async with asyncio.timeout(rng.uniform(0.0, 0.15)):
                        await client.full_scan(wollet)
                except TimeoutError:
                    cancelled += 1
                assert wollet.state is before
            task = asyncio.create_task(client.full_scan(wollet))
            await asyncio.sleep(rng.uniform(0.0, 0.05))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert wollet.state is before
            assert asyncio.all_tasks() == {asyncio.current_task()}
            return await client.full_scan(wollet)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # unclosed sockets, never-awaited coroutines
            update = asyncio.run(main())
    finally:
        env.rt.esplora_faults.latency = 0.0
    assert update == env.blocking
    assert cancelled >= 6  # most timeouts hit a scan mid-way (each takes longer than 0.15 s)


# -- the HTTP rules, shared with the blocking client -------------------------------------


def _fake_client(fake: FakeEsplora, **options: Any) -> AsyncEsploraClient:
    return AsyncEsploraClient("http://esplora.test/api", NET, transport=fake.transport(), **options)


def test_rate_limits_are_retried_honouring_retry_after(fake: FakeEsplora) -> None:
    limited = iter([httpx.Response(429, headers={"Retry-After": "0.2"})] * 2)
    fake.intercept = lambda r: next(limited, None)

    async def main() -> int:
        async with _fake_client(fake) as client:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await client.tip()
            return int((loop.time() - started) * 10)

    assert asyncio.run(main()) >= 4  # two waits of 0.2 s
    assert len(fake.requests) == 2 + 2  # two refused, then tip hash and header


def test_rate_limits_give_up_after_max_retries(fake: FakeEsplora) -> None:
    fake.intercept = lambda r: httpx.Response(503, headers={"Retry-After": "0"})

    async def main() -> None:
        async with _fake_client(fake, max_retries=2) as client:
            await client.tip()

    with pytest.raises(RateLimited, match="after 2 retries"):
        asyncio.run(main())
    assert len(fake.requests) == 3


def test_bodies_over_the_cap_are_refused(fake: FakeEsplora) -> None:
    fake.intercept = lambda r: httpx.Response(200, content=b"0" * (4 * 1024 * 1024 + 1))

    async def main() -> None:
        async with _fake_client(fake) as client:
            await client.tip()

    with pytest.raises(BackendProtocolError, match="byte cap"):
        asyncio.run(main())


def test_paging_follows_the_confirmed_history(fake: FakeEsplora) -> None:
    spk = b"\x51"
    for n in range(60):  # three pages of 25 on electrs' rules
        fake.add(spk, fake.fake_txid(n), 1 + n % 9)

    async def main() -> list[Any]:
        async with _fake_client(fake) as client:
            return await client.scan_scripts([spk])

    (history,) = asyncio.run(main())
    blocking = EsploraClient("http://esplora.test/api", NET, transport=fake.transport())
    assert history == blocking.scan_scripts([spk])[0]
    assert len(history) == 60


def test_a_refused_connection_is_a_connect_error() -> None:
    async def main() -> None:
        async with AsyncEsploraClient(_dead_url(), NET, timeout=2) as client:
            await client.tip()

    with pytest.raises(BackendConnectError):
        asyncio.run(main())


def test_a_closed_client_serves_another_event_loop(env: Env) -> None:
    client = AsyncEsploraClient(url=env.url, network=NET, concurrency=2)

    async def scan() -> Update | None:
        async with client:
            return await client.full_scan(_wollet())

    assert asyncio.run(scan()) == env.blocking
    assert asyncio.run(scan()) == env.blocking


@pytest.mark.parametrize("keep_txs", [True, False], ids=["reconfirmed", "vanished"])
def test_async_follows_a_reorg_like_the_blocking_client(keep_txs: bool) -> None:
    with Regtest() as rt:
        url, net = rt.esplora_url + "/api", rt.network
        wollet = Wollet(net, rt.example_wallet())

        async def scan() -> Update | None:
            async with AsyncEsploraClient(url=url, network=net) as client:
                return await client.full_scan(wollet)

        with EsploraClient(url, net) as blocking:
            for change in ("start", "pay", "reorg"):
                if change == "pay":
                    paid = rt.faucet(wollet.address().address(), 5_000)
                    rt.mine(1)
                if change == "reorg":
                    rt.reorg(1, keep_txs=keep_txs)
                expected = blocking.full_scan(wollet)
                assert expected is not None
                assert asyncio.run(scan()) == expected
                wollet.apply_update(expected)
        txids = {t.txid for t in wollet.transactions()}
        assert (paid in txids) is keep_txs
