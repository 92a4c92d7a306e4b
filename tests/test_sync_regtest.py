"""Orchestrator semantics on the embedded regtest chain, compared with LWK itself."""

from __future__ import annotations

from collections.abc import Iterator

import lwk
import pytest
from lwk_electrum import ElectrumClient
from lwk_regtest import Regtest
from lwk_regtest.testing import new_wallet_descriptor

from lwk_core import Chain, Wollet


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


def _sync(client: ElectrumClient, wollet: Wollet, **kw: int) -> None:
    update = client.full_scan(wollet, **kw)
    if update is not None:
        wollet.apply_update(update)


def _lwk_balance(rt: Regtest, descriptor: str, to_index: int) -> int:
    network = lwk.Network.regtest_default()
    wollet = lwk.Wollet(network, lwk.WolletDescriptor(descriptor), None)
    client = lwk.ElectrumClient.from_url(rt.electrum_url)
    update = client.full_scan_to_index(wollet, to_index)
    if update is not None:
        wollet.apply_update(update)
    return int(wollet.balance()[network.policy_asset()])


@pytest.mark.lwk
def test_a_known_tx_paying_a_script_derived_later_is_unblinded(rt: Regtest) -> None:
    descriptor = new_wallet_descriptor()
    wollet = Wollet(rt.network, descriptor)
    client = ElectrumClient.from_url(rt.electrum_url)
    funding = rt.faucet(wollet.address(0).address(), 100_000)
    rt.mine(1)
    _sync(client, wollet)
    (utxo,) = wollet.utxos()
    far_change = wollet.descriptor.address(Chain.INTERNAL, 30, rt.network)
    spend = rt.spend(
        [(utxo.outpoint, utxo.unblinded)],
        wollet.address(0).address(),  # pays the wallet itself at a scanned script
        1_000,
        change_address=far_change,  # and its change beyond the scanned range
    )
    rt.mine(1)
    fee = client.get_tx(spend).fee(rt.network.policy_asset)

    _sync(client, wollet)
    assert {t.txid for t in wollet.transactions()} == {funding, spend}
    assert wollet.balance().btc_balance() == 1_000  # the change script is not derived yet

    _sync(client, wollet, to_index=31)  # derives internal/30: the known tx's change counts
    assert wollet.balance().btc_balance() == 100_000 - fee
    assert wollet.balance().btc_balance() == _lwk_balance(rt, descriptor, 31)


@pytest.mark.lwk
def test_transactions_are_listed_in_lwks_order(rt: Regtest) -> None:
    descriptor = new_wallet_descriptor()
    wollet = Wollet(rt.network, descriptor)
    for i in range(6):  # several wallet transactions in one block...
        rt.faucet(wollet.address(i).address(), 1_000 + i)
    rt.mine(1)
    for i in range(3):  # ...and several unconfirmed ones
        rt.faucet(wollet.address(6 + i).address(), 2_000 + i)
    _sync(ElectrumClient.from_url(rt.electrum_url), wollet)

    network = lwk.Network.regtest_default()
    theirs = lwk.Wollet(network, lwk.WolletDescriptor(descriptor), None)
    update = lwk.ElectrumClient.from_url(rt.electrum_url).full_scan(theirs)
    assert update is not None
    theirs.apply_update(update)
    assert [t.txid for t in wollet.transactions()] == [str(t.txid()) for t in theirs.transactions()]
