"""Both clients (blocking and asyncio) against an Electrum server that lets a connection
subscribe at most 100 scripts (as Blockstream/electrs' --electrum-subscription-limit and
public servers capped at 100 do): a 500-script wallet still syncs to LWK's result, rescans
find payments to scripts beyond the cap, and the server never holds more than 100
subscriptions on a connection. A cap of 0 works too.

Ground truth: the faucet's payments, LWK's client scanning the same server uncapped, and
request counts derived from the wallet's layout. Payments every 15 indexes (external 0-240,
internal 0-195) keep each batch of 20 scripts used, so the scan covers external 0-279 and
internal 0-219: 500 scripts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from lwk_regtest import Regtest
from regtest_wallets import assert_as_lwk, descriptor
from test_electrum_pushed import Flavour

from lwk_core import BackendConnectError, Chain, Network, Wollet

CAP = 100
SCRIPTS = 280 + 220
PAID = [(Chain.EXTERNAL, i) for i in range(0, 241, 15)] + [
    (Chain.INTERNAL, i) for i in range(0, 196, 15)
]
GET_HISTORY = "blockchain.scripthash.get_history"
SUBSCRIBE = "blockchain.scripthash.subscribe"


@pytest.fixture(scope="module")
def capped() -> Iterator[Regtest]:
    with Regtest(electrum_max_subscriptions=CAP) as rt:
        yield rt


@pytest.fixture(params=["blocking", "async"])
def flavour(request: pytest.FixtureRequest, capped: Regtest) -> Iterator[Flavour]:
    client = Flavour(request.param, capped.electrum_url)
    yield client
    client.close()


def funded(rt: Regtest, name: str) -> tuple[Wollet, int]:
    """A wallet paid at every `PAID` script, confirmed; and the sum paid."""
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor(name))
    for n, (chain, index) in enumerate(PAID):
        rt.faucet(wollet.descriptor.address(chain, index, Network.ELEMENTS_REGTEST), 1_000 + n)
    rt.mine(1)
    return wollet, sum(1_000 + n for n in range(len(PAID)))


def requests(rt: Regtest) -> Counter[str]:
    return Counter(rt.electrum_server.requests)


def assert_as_lwk_uncapped(rt: Regtest, wollet: Wollet) -> None:
    """Our view of the wallet equals LWK's, its client scanning the same server uncapped."""
    server = rt.electrum_server
    server.max_subscriptions = None
    try:
        assert_as_lwk(rt.electrum_url, wollet)
    finally:
        server.max_subscriptions = CAP


def test_a_500_script_wallet_syncs_and_rescans_under_a_cap_of_100(
    capped: Regtest, flavour: Flavour
) -> None:
    wollet, paid = funded(capped, f"capped {flavour.kind}")
    policy = Network.ELEMENTS_REGTEST.policy_asset

    assert flavour.scan(wollet) is not None
    assert wollet.balance()[policy] == paid
    assert len(wollet.transactions()) == len(PAID)
    assert_as_lwk_uncapped(capped, wollet)
    assert capped.request_counts()["electrum"]["peak_subscriptions"] == CAP

    # Nothing changed: the 100 subscribed scripts are answered from their statuses, the
    # other 400 asked again (no subscription, no push), and no subscription is attempted.
    before = requests(capped)
    assert flavour.scan(wollet) is None
    assert requests(capped) - before == {GET_HISTORY: SCRIPTS - CAP}

    # A payment to external 245, a script beyond the cap, unconfirmed: the rescan finds it.
    txid = capped.faucet(wollet.descriptor.address(Chain.EXTERNAL, 245, capped.network), 777)
    update = flavour.scan(wollet)
    assert update is not None and [tx.txid for tx in update.new_txs] == [txid]
    assert wollet.balance()[policy] == paid + 777
    assert_as_lwk_uncapped(capped, wollet)
    assert capped.request_counts()["electrum"]["peak_subscriptions"] == CAP


def test_a_new_connection_learns_its_cap_again(capped: Regtest, flavour: Flavour) -> None:
    wollet, paid = funded(capped, f"capped reconnect {flavour.kind}")
    assert flavour.scan(wollet) is not None
    capped.electrum_faults.set("refuse", 1)  # the server drops us at the next request
    with pytest.raises(BackendConnectError):
        flavour.ping()
    before = requests(capped)
    flavour.ping()  # the handshake restores the 100 granted subscriptions
    assert requests(capped) - before == {
        "server.version": 1,
        "blockchain.headers.subscribe": 1,
        SUBSCRIBE: CAP,
        "server.ping": 1,
    }
    # The new connection's cap is unknown until it refuses one: the first rescan offers
    # the other scripts of its first burst (refused) and asks their histories; the next
    # rescan offers none.
    before = requests(capped)
    assert flavour.scan(wollet) is None
    asked = requests(capped) - before
    assert asked[GET_HISTORY] == SCRIPTS - CAP
    assert 0 < asked[SUBSCRIBE] <= SCRIPTS - CAP
    before = requests(capped)
    assert flavour.scan(wollet) is None
    assert requests(capped) - before == {GET_HISTORY: SCRIPTS - CAP}
    assert wollet.balance()[Network.ELEMENTS_REGTEST.policy_asset] == paid
    assert capped.request_counts()["electrum"]["peak_subscriptions"] == CAP


def test_no_subscription_at_all(capped: Regtest, flavour: Flavour) -> None:
    wollet, paid = funded(capped, f"capped zero {flavour.kind}")
    capped.electrum_server.max_subscriptions = 0
    try:
        assert flavour.scan(wollet) is not None
        assert wollet.balance()[Network.ELEMENTS_REGTEST.policy_asset] == paid
        before = requests(capped)
        txid = capped.faucet(wollet.descriptor.address(Chain.INTERNAL, 200, capped.network), 555)
        update = flavour.scan(wollet)
        asked: Any = requests(capped) - before
        assert update is not None and [tx.txid for tx in update.new_txs] == [txid]
        assert SUBSCRIBE not in asked
        assert asked[GET_HISTORY] >= SCRIPTS
    finally:
        capped.electrum_server.max_subscriptions = CAP
    assert_as_lwk_uncapped(capped, wollet)
