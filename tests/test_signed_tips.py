"""The Client checks the block signers' signatures on every tip header when it knows them:
pinned for Liquid and Liquid testnet, set by the caller for regtest; a server inventing a tip
is refused and a chain fails over to an honest one."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from lwk_electrum import ElectrumClient
from lwk_regtest import BlockSigners, Regtest
from lwk_regtest.testing import new_wallet_descriptor
from shared_data import load_fixture
from test_client_checks import Scripted  # type: ignore[import-not-found]

from lwk_core import (
    BackendChain,
    BadBlockSignature,
    BlockHeader,
    LwkError,
    Network,
    Wollet,
    connect,
    pinned_federation,
)
from lwk_core.plugin import Tip, register_plugin

pytestmark = pytest.mark.usefixtures("fresh_plugins")

SIGNED: list[dict[str, Any]] = load_fixture("signed-headers.json")["headers"]


@pytest.fixture(autouse=True)
def real_signers(monkeypatch: pytest.MonkeyPatch) -> None:
    """tox trusts the embedded chain's signers for regtest and testnet: not here."""
    monkeypatch.delenv("LWK_BLOCK_SIGNERS", raising=False)


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    plugin = Scripted()
    register_plugin(plugin, name="scripted")
    yield plugin


def _tip_of(header: BlockHeader) -> Tip:
    return Tip(header.height, header.block_hash, header.time, header.to_bytes())


def _real(network: str) -> BlockHeader:
    return next(BlockHeader.from_hex(v["header_hex"]) for v in SIGNED if v["network"] == network)


@pytest.mark.parametrize("network", [Network.LIQUID, Network.LIQUID_TESTNET])
def test_pinned_networks_check_tips_by_default(scripted: Scripted, network: Network) -> None:
    scripted.tip = _tip_of(_real(network.value))
    client = connect("scripted://x", network)
    assert client.block_signers == pinned_federation(network)
    assert client.tip() == scripted.tip
    other = Network.LIQUID_TESTNET if network is Network.LIQUID else Network.LIQUID
    scripted.tip = _tip_of(_real(other.value))  # well signed, by another federation
    with pytest.raises(BadBlockSignature, match="scripted://"):
        client.tip()


def test_a_tip_without_its_header_is_refused_when_checking(scripted: Scripted) -> None:
    header = _real("liquid")
    scripted.tip = Tip(header.height, header.block_hash, header.time)
    with pytest.raises(BadBlockSignature, match="without its header"):
        connect("scripted://x", Network.LIQUID).tip()


def test_regtest_and_networkless_clients_do_not_check_until_told(scripted: Scripted) -> None:
    unsigned = BlockHeader.legacy("00" * 32, "11" * 32, 1_700_000_000, 5)
    scripted.tip = _tip_of(unsigned)
    for network in (Network.ELEMENTS_REGTEST, None):
        client = connect("scripted://x", network)
        assert client.block_signers is None
        assert client.tip() == scripted.tip
        client.block_signers = BlockSigners.generate(2, 3).federation()
        with pytest.raises(BadBlockSignature):
            client.tip()
    with pytest.raises(TypeError):
        client.block_signers = b"\x51"  # type: ignore[assignment]


def test_the_environment_replaces_or_turns_off_pinned_signers(
    scripted: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    signers = BlockSigners.generate(2, 3)
    monkeypatch.setenv("LWK_BLOCK_SIGNERS", f"regtest={signers.script.hex()}, liquid=off")
    assert connect("scripted://x", Network.LIQUID).block_signers is None
    assert connect("scripted://x", Network.ELEMENTS_REGTEST).block_signers == signers.federation()
    assert connect("scripted://x", Network.LIQUID_TESTNET).block_signers == pinned_federation(
        Network.LIQUID_TESTNET
    )
    for bad in ("liquid", "liquid=zz", "moon=51", "liquid="):
        monkeypatch.setenv("LWK_BLOCK_SIGNERS", bad)
        with pytest.raises(LwkError, match="LWK_BLOCK_SIGNERS"):
            pinned_federation(Network.LIQUID)


@pytest.mark.parametrize("dynafed", [False, True], ids=["legacy", "dynafed"])
def test_a_server_inventing_a_tip_is_refused_and_the_chain_fails_over(
    scripted: Scripted, dynafed: bool, caplog: pytest.LogCaptureFixture
) -> None:
    signers = BlockSigners.generate(2, 3, dynafed=dynafed)
    with Regtest(signers=signers, cache=False) as rt:
        rt.mine(2)
        honest = ElectrumClient.from_url(rt.electrum_url)
        honest.block_signers = signers.federation()
        real_tip = honest.tip()
        assert BlockHeader.parse(real_tip.header).is_dynafed is dynafed
        # A lying server: a tip far above the chain, on top of the real one, its header
        # signed 2-of-3 by keys outside the federation.
        impostors = BlockSigners(BlockSigners.generate(2, 5).seeds[2:], 2, dynafed=dynafed)
        parent = BlockHeader.parse(real_tip.header)
        fake = BlockHeader.parse(_signed(impostors, parent, height=real_tip.height + 1000))
        scripted.tip = _tip_of(fake)
        liar = connect("scripted://x", Network.ELEMENTS_REGTEST)
        liar.block_signers = signers.federation()
        chain = BackendChain([liar, honest])
        with caplog.at_level(logging.WARNING, logger="lwk_core.failover"):
            assert chain.tip() == real_tip
        assert "BadBlockSignature" in caplog.text
        descriptor = new_wallet_descriptor()
        wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor)
        address = wollet.address(0).address()
        rt.faucet(address, 10_000)
        rt.mine(1)
        update = chain.full_scan(wollet)
        assert update is not None
        wollet.apply_update(update)
        tip = wollet.tip()
        assert tip is not None and tip.height == real_tip.height + 1
        assert [tx.height for tx in wollet.transactions()] == [real_tip.height + 1]


def _signed(signers: BlockSigners, parent: BlockHeader, *, height: int) -> bytes:
    prev = bytes.fromhex(parent.block_hash)[::-1]
    unsigned = signers.unsigned(0x20000000, prev, bytes(32), parent.time + 60, height)
    block_hash = BlockHeader.parse(unsigned + signers.proof(bytes(32))).block_hash
    return unsigned + signers.proof(bytes.fromhex(block_hash)[::-1])


def test_a_client_follows_a_federation_handover_it_saw_proposed() -> None:
    """The chain's signers propose new ones in the headers they sign, then the new ones
    sign: a client that checked a proposing tip takes the new signers' tips; a client
    trusting the old signers that did not see the proposal refuses them."""
    new = BlockSigners(BlockSigners.generate(3, 6).seeds[3:], 3, dynafed=True)
    with Regtest(cache=False) as rt:
        assert rt.signers is not None
        watching = ElectrumClient.from_url(rt.electrum_url)
        watching.block_signers = rt.federation()
        watching.tip()
        rt.chain.set_signers(attrs.evolve(rt.signers, proposes=new.script))
        rt.mine(1)
        assert watching.tip().hash == rt.chain.tip_hash()  # checked: the proposal is taken
        rt.chain.set_signers(new)
        rt.mine(1)
        assert watching.tip().hash == rt.chain.tip_hash()
        late = ElectrumClient.from_url(rt.electrum_url)
        late.block_signers = rt.federation()
        with pytest.raises(BadBlockSignature, match="not the trusted federation's"):
            late.tip()
        watching.close()
        late.close()
