"""The async flavour checks a server exactly as the blocking one does: the chain it serves
proved before a scan (WrongNetwork, failing over), the block signers' signatures on its tip
headers (BadBlockSignature), and the caller's ScanLimits, for AsyncClient and
AsyncBackendChain alike.

Ground truth: the networks' genesis hashes (as LWK gives them, `test_network_identity`),
real signed Liquid and Liquid testnet headers (`signed-headers.json`), and the fixture
wallet's history (computed by LWK).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lwk_memory_backend import AsyncMemoryBackend, MemoryChain, register_chain
from shared_data import load_fixture, unique_name

from lwk_core import (
    AllBackendsFailed,
    AsyncBackendChain,
    AsyncClient,
    BadBlockSignature,
    BlockHeader,
    Network,
    ScanLimitExceeded,
    ScanLimits,
    Update,
    Wollet,
    WrongNetwork,
    connect_async,
    pinned_federation,
)
from lwk_core._transaction import Transaction
from lwk_core.plugin import Tip

FIXTURE = load_fixture("liquid-testnet-wallet.json")
SIGNED: list[dict[str, Any]] = load_fixture("signed-headers.json")["headers"]
NET = Network.LIQUID_TESTNET
TIGHT = ScanLimits(max_history_entries=1)


def _chain(network: Network) -> str:
    """A memory:// chain of `network` holding the fixture wallet's history."""
    chain = MemoryChain(network)
    for txid in FIXTURE["steps"][1]["txids"]:
        entry = FIXTURE["transactions"][txid]
        chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])
    name = unique_name("async-checks")
    register_chain(name, chain)
    return name


def _wollet() -> Wollet:
    return Wollet(NET, FIXTURE["descriptor"])


def _backend(client: AsyncClient) -> AsyncMemoryBackend:
    assert isinstance(client.connection, AsyncMemoryBackend)
    return client.connection


def test_an_async_client_refuses_a_server_of_another_network() -> None:
    liquid = _chain(Network.LIQUID)  # the right transactions, on Liquid's chain

    async def main() -> list[str]:
        async with connect_async(f"memory://{liquid}", NET) as client:
            with pytest.raises(WrongNetwork) as refused:
                await client.full_scan(_wollet())
            assert refused.value.expected == NET.genesis_hash
            assert refused.value.served == Network.LIQUID.genesis_hash
            return _backend(client).calls

    assert asyncio.run(main()) == ["genesis_hash"]  # refused before any script was asked


def test_the_genesis_is_asked_once_per_async_client_until_it_closes() -> None:
    name = _chain(NET)

    async def main() -> tuple[Update | None, list[str]]:
        client = connect_async(f"memory://{name}", NET)
        update = await client.full_scan(_wollet())
        await client.full_scan(_wollet())
        await client.close()
        await client.check_chain(_wollet())
        return update, _backend(client).calls

    update, calls = asyncio.run(main())
    assert update is not None and update.genesis_hash == NET.genesis_hash
    assert calls.count("genesis_hash") == 2


def test_an_async_chain_fails_over_from_another_network_to_the_wallets() -> None:
    wrong, right = _chain(Network.LIQUID), _chain(NET)

    async def main() -> tuple[Update | None, list[str]]:
        urls = [f"memory://{wrong}", f"memory://{right}"]
        async with AsyncBackendChain(urls, network=NET) as chain:
            update = await chain.full_scan(_wollet())
            return update, _backend(chain.backends[0]).calls

    update, wrong_calls = asyncio.run(main())
    assert update is not None and update.genesis_hash == NET.genesis_hash
    assert wrong_calls == ["genesis_hash"]
    wollet = _wollet()
    wollet.apply_update(update)
    expected = FIXTURE["steps"][1]["expected"]
    assert dict(wollet.balance()) == expected["balance"]


def _real(network: Network) -> BlockHeader:
    return next(
        BlockHeader.from_hex(v["header_hex"]) for v in SIGNED if v["network"] == network.value
    )


def _serve_tip(name: str, header: BlockHeader, *, with_header: bool = True) -> None:
    """Make the memory chain `name` (on Liquid) answer `header`'s block as its tip."""
    served = Tip(
        header.height, header.block_hash, header.time, header.to_bytes() if with_header else b""
    )
    chain = MemoryChain(Network.LIQUID)
    chain.tip = lambda: served  # type: ignore[method-assign]
    register_chain(name, chain)


def test_an_async_client_checks_the_signers_of_every_tip_header() -> None:
    name = unique_name("async-signed")
    liquid = _real(Network.LIQUID)

    async def tip() -> Tip:
        async with connect_async(f"memory://{name}", Network.LIQUID) as client:
            assert client.block_signers == pinned_federation(Network.LIQUID)
            return await client.tip()

    _serve_tip(name, liquid)
    assert asyncio.run(tip()).hash == liquid.block_hash
    _serve_tip(name, liquid, with_header=False)
    with pytest.raises(BadBlockSignature, match="without its header"):
        asyncio.run(tip())
    _serve_tip(name, _real(Network.LIQUID_TESTNET))  # well signed, by another federation
    with pytest.raises(BadBlockSignature, match=name):
        asyncio.run(tip())


def test_an_async_chain_fails_over_from_a_tip_the_signers_did_not_sign() -> None:
    forged, honest = unique_name("async-forged"), unique_name("async-honest")
    _serve_tip(forged, _real(Network.LIQUID_TESTNET))
    _serve_tip(honest, _real(Network.LIQUID))

    async def main() -> Tip:
        urls = [f"memory://{forged}", f"memory://{honest}"]
        async with AsyncBackendChain(urls, network=Network.LIQUID) as chain:
            return await chain.tip()

    assert asyncio.run(main()).hash == _real(Network.LIQUID).block_hash


def test_scan_limits_hold_for_async_clients_and_chains() -> None:
    name = _chain(NET)
    url = f"memory://{name}"

    async def main() -> Update | None:
        async with connect_async(url, NET) as client:
            with pytest.raises(ScanLimitExceeded, match="max_history_entries=1"):
                await client.full_scan(_wollet(), limits=TIGHT)
            with pytest.raises(ScanLimitExceeded):
                await client.sync(_wollet(), 20, limits=TIGHT)
        async with AsyncBackendChain([url, url], network=NET) as chain:
            with pytest.raises(AllBackendsFailed) as caught:
                await chain.full_scan(_wollet(), limits=TIGHT)
            assert [type(c) for _, c in caught.value.causes] == [ScanLimitExceeded] * 2
            return await chain.full_scan(_wollet())  # the default limits let it through

    assert asyncio.run(main()) is not None
