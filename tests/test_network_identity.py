"""Network identity: each backend proves the chain it serves (its genesis) before a scan.

Servers of another network, or of another regtest chain than the one a wallet is pinned to,
are refused with WrongNetwork (a BackendError: a chain fails over), within the timeout, and
the wallet is left as it was; no update from an unverified server deletes history. The
genesis hashes are Elements' (LWK's `Network.genesis_block_hash()`, the oracle).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import lwk
import pytest
from lwk_electrum import ElectrumClient
from lwk_esplora import EsploraClient
from lwk_regtest import Regtest
from lwk_regtest.testing import new_wallet_descriptor

from lwk_core import (
    AllBackendsFailed,
    BackendChain,
    Client,
    Network,
    NetworkMismatch,
    UpdateError,
    Wollet,
    WolletDescriptor,
    WrongNetwork,
)
from lwk_core._state import WolletState
from lwk_core._state_codec import decode_state, encode_state
from lwk_core._sync import scan

OTHER_GENESIS = "11" * 32  # another regtest chain's
TIMEOUT = 5.0


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


@pytest.fixture(scope="module")
def other() -> Iterator[Regtest]:
    """A regtest chain of another genesis."""
    with Regtest(genesis_hash=OTHER_GENESIS) as regtest:
        yield regtest


@pytest.fixture(scope="module")
def testnet() -> Iterator[Regtest]:
    """A server of Liquid testnet (as far as its genesis says)."""
    with Regtest(Network.LIQUID_TESTNET) as regtest:
        yield regtest


def electrum(rt: Regtest) -> Client:
    return ElectrumClient.from_url(rt.electrum_url, timeout=TIMEOUT)


def esplora(rt: Regtest) -> Client:
    return EsploraClient(rt.esplora_url, rt.network, timeout=TIMEOUT)


CLIENTS = {"electrum": electrum, "esplora": esplora}


def funded(rt: Regtest, sats: int = 50_000) -> tuple[Wollet, str]:
    wollet = Wollet(Network.ELEMENTS_REGTEST, new_wallet_descriptor())
    txid = rt.faucet(wollet.address(0).address(), sats)
    rt.mine(1)
    return wollet, txid


def synced(client: Client | BackendChain, wollet: Wollet) -> Wollet:
    update = client.full_scan(wollet)
    if update is not None:
        wollet.apply_update(update)
    return wollet


@pytest.mark.lwk
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (Network.LIQUID, lwk.Network.mainnet()),
        (Network.LIQUID_TESTNET, lwk.Network.testnet()),
        (Network.ELEMENTS_REGTEST, lwk.Network.regtest_default()),
    ],
)
def test_genesis_hashes_are_lwks(ours: Network, theirs: lwk.Network) -> None:
    assert ours.genesis_hash == str(theirs.genesis_block_hash())
    assert Network.from_genesis_hash(ours.genesis_hash.upper()) is ours


@pytest.mark.parametrize("kind", CLIENTS)
def test_the_embedded_chain_declares_the_networks_genesis(
    rt: Regtest, testnet: Regtest, kind: str
) -> None:
    with CLIENTS[kind](rt) as client:
        assert (
            client.genesis_hash()
            == "00902a6b70c2ca83b5d9c815d96a0e2f4202179316970d14ea1847dae5b1ca21"
        )
    with CLIENTS[kind](testnet) as client:
        assert client.genesis_hash() == lwk.Network.testnet().genesis_block_hash()


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_server_of_another_network_is_refused_fast_and_changes_nothing(
    rt: Regtest, testnet: Regtest, kind: str
) -> None:
    wollet = synced(electrum(rt), funded(rt)[0])
    before = wollet.state
    with CLIENTS[kind](testnet) as client:
        started = time.monotonic()
        with pytest.raises(WrongNetwork) as caught:
            client.full_scan(wollet)
        elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT
    assert caught.value.served == Network.LIQUID_TESTNET.genesis_hash
    assert caught.value.expected == Network.ELEMENTS_REGTEST.genesis_hash
    assert str(caught.value) == (
        f"{client.name}: the server serves liquidtestnet (genesis "
        f"{Network.LIQUID_TESTNET.genesis_hash}), the wallet follows elementsregtest "
        f"(genesis {Network.ELEMENTS_REGTEST.genesis_hash})"
    )
    assert wollet.state is before


def test_an_unpinned_regtest_wallet_still_refuses_the_liquid_networks(testnet: Regtest) -> None:
    wollet = Wollet(Network.ELEMENTS_REGTEST, new_wallet_descriptor())
    with pytest.raises(WrongNetwork, match=r"not pinned to a chain yet"):
        electrum(testnet).full_scan(wollet)
    assert wollet.genesis_hash is None


def test_a_testnet_wallet_refuses_a_regtest_server(rt: Regtest) -> None:
    wollet = Wollet(Network.LIQUID_TESTNET, new_wallet_descriptor())
    with pytest.raises(WrongNetwork) as caught:
        esplora(rt).full_scan(wollet)
    assert caught.value.expected == lwk.Network.testnet().genesis_block_hash()
    assert wollet.tip() is None


def test_the_first_sync_pins_a_regtest_wallet_and_the_pin_is_stored(
    other: Regtest, rt: Regtest, tmp_path: Path
) -> None:
    descriptor = new_wallet_descriptor()
    txid = other.faucet(Wollet(other.network, descriptor).address(0).address(), 21_000)
    other.mine(1)
    with Wollet(Network.ELEMENTS_REGTEST, descriptor, tmp_path) as wollet:
        assert wollet.genesis_hash is None
        synced(esplora(other), wollet)
        assert wollet.genesis_hash == OTHER_GENESIS
        assert [tx.txid for tx in wollet.transactions()] == [txid]
    with Wollet(Network.ELEMENTS_REGTEST, descriptor, tmp_path) as reopened:
        assert reopened.genesis_hash == OTHER_GENESIS
        before = reopened.state
        with pytest.raises(WrongNetwork) as caught:
            electrum(rt).full_scan(reopened)
        assert (caught.value.expected, caught.value.served) == (
            OTHER_GENESIS,
            Network.ELEMENTS_REGTEST.genesis_hash,
        )
        assert "the wallet follows an unknown chain" not in str(caught.value)
        assert f"elementsregtest (genesis {OTHER_GENESIS})" in str(caught.value)
        assert reopened.state is before
    with pytest.raises(NetworkMismatch, match="follows the chain with genesis 1111"):
        Wollet(Network.ELEMENTS_REGTEST, descriptor, tmp_path, genesis_hash="22" * 32)
    # the refusal released the datadir: it opens again
    Wollet(Network.ELEMENTS_REGTEST, descriptor, tmp_path).close()


def test_a_genesis_given_by_the_caller_pins_before_any_sync(rt: Regtest, other: Regtest) -> None:
    wollet = Wollet(Network.ELEMENTS_REGTEST, new_wallet_descriptor(), genesis_hash=OTHER_GENESIS)
    with pytest.raises(WrongNetwork):
        electrum(rt).full_scan(wollet)
    synced(electrum(other), wollet)
    assert wollet.tip() is not None and wollet.genesis_hash == OTHER_GENESIS


def test_a_genesis_that_cannot_be_the_wallets_is_refused() -> None:
    descriptor = WolletDescriptor(new_wallet_descriptor())
    with pytest.raises(NetworkMismatch, match="64 hexadecimal digits"):
        Wollet(Network.ELEMENTS_REGTEST, descriptor, genesis_hash="xyz")
    with pytest.raises(
        NetworkMismatch, match="liquidtestnet wallet follows the chain with genesis a771"
    ):
        Wollet(Network.LIQUID_TESTNET, descriptor, genesis_hash=OTHER_GENESIS)
    with pytest.raises(NetworkMismatch, match="liquid starts at genesis 1466"):
        WolletState(descriptor, Network.LIQUID, genesis_hash=Network.LIQUID_TESTNET.genesis_hash)


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_chain_fails_over_from_another_chain_to_the_wallets(
    rt: Regtest, other: Regtest, kind: str
) -> None:
    wollet, txid = funded(rt)
    synced(electrum(rt), wollet)  # pinned to rt's chain
    chain = BackendChain([CLIENTS[kind](other), CLIENTS[kind](rt)])
    paid = rt.faucet(wollet.address(1).address(), 7_000)
    rt.mine(1)
    synced(chain, wollet)
    assert {tx.txid for tx in wollet.transactions()} == {txid, paid}
    assert chain.policy.order(time.monotonic(), reveals_wallet=True)[0] == 1  # other cools down
    with pytest.raises(AllBackendsFailed) as caught:
        BackendChain([CLIENTS[kind](other)]).full_scan(wollet)
    ((_, cause),) = caught.value.causes
    assert isinstance(cause, WrongNetwork) and cause.served == OTHER_GENESIS


def test_the_genesis_is_asked_once_per_client_until_it_closes(rt: Regtest) -> None:
    wollet = funded(rt)[0]
    counts = rt.electrum_server.requests
    client = electrum(rt)
    asked = counts["server.features"]
    synced(client, wollet)
    rt.mine(1)
    synced(client, wollet)
    assert counts["server.features"] == asked + 1
    client.close()
    synced(client, wollet)
    assert counts["server.features"] == asked + 2


def test_an_unverified_update_may_add_history_but_never_delete_it(rt: Regtest) -> None:
    """The scan engine alone (no genesis check) produces an Update without a genesis: it
    cannot remove a transaction, as a server of another chain would have it do."""
    wollet, confirmed = funded(rt)
    synced(electrum(rt), wollet)
    pending = rt.faucet(wollet.address(1).address(), 3_000)
    unverified = scan(electrum(rt), wollet)
    assert unverified is not None and unverified.genesis_hash is None
    wollet.apply_update(unverified)  # adding is allowed
    assert {tx.txid for tx in wollet.transactions()} == {confirmed, pending}
    rt.evict(pending)
    before = wollet.state
    deleting = scan(electrum(rt), wollet)
    assert deleting is not None and deleting.txid_height_delete == {pending}
    with pytest.raises(UpdateError, match="not verified cannot delete history"):
        wollet.apply_update(deleting)
    assert wollet.state is before
    synced(electrum(rt), wollet)  # a verified server's update may delete it
    assert {tx.txid for tx in wollet.transactions()} == {confirmed}


def test_an_update_of_another_chain_is_refused_by_the_wallet(rt: Regtest, other: Regtest) -> None:
    descriptor = new_wallet_descriptor()
    pinned = synced(electrum(rt), Wollet(Network.ELEMENTS_REGTEST, descriptor))
    from_other = electrum(other).full_scan(Wollet(Network.ELEMENTS_REGTEST, descriptor))
    assert from_other is not None
    before = pinned.state
    with pytest.raises(UpdateError, match=f"comes from the chain with genesis {OTHER_GENESIS}"):
        pinned.apply_update(from_other)
    assert pinned.state is before


def test_a_version_1_state_still_loads(rt: Regtest) -> None:
    """Version 1 had no genesis field (right after the tip): strip it from a version 2
    encoding, and the state reads back with its network's genesis (regtest: not pinned)."""
    wollet = synced(electrum(rt), funded(rt)[0])
    state = wollet.state
    v2 = encode_state(state)
    assert state.tip is not None and v2[0] == 2
    tip_end = 1 + 1 + 4 + 32 + 8 + 4 + len(state.tip.header)
    assert v2[tip_end : tip_end + 33] == b"\x01" + bytes.fromhex(state.genesis_hash or "")
    v1 = b"\x01" + v2[1:tip_end] + v2[tip_end + 33 :]
    old = decode_state(v1, wollet.descriptor, wollet.network)
    assert old.genesis_hash is None
    assert (old.status, dict(old.heights), dict(old.unblinded)) == (
        state.status,
        dict(state.heights),
        dict(state.unblinded),
    )
    assert decode_state(v2, wollet.descriptor, wollet.network) == state


def test_an_unpinned_regtest_wallet_refuses_an_update_of_a_liquid_network(testnet: Regtest) -> None:
    """Even an Update carrying its genesis (as Client.sync makes them) cannot pin a regtest
    wallet to a Liquid network."""
    descriptor = new_wallet_descriptor()
    from_testnet = electrum(testnet).full_scan(Wollet(Network.LIQUID_TESTNET, descriptor))
    assert from_testnet is not None
    assert from_testnet.genesis_hash == Network.LIQUID_TESTNET.genesis_hash
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor)
    with pytest.raises(UpdateError, match="elementsregtest wallet follows a regtest chain"):
        wollet.apply_update(from_testnet)
    assert wollet.genesis_hash is None and wollet.tip() is None
