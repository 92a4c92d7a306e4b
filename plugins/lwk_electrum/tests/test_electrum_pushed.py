"""Rescans on a live connection, answered from the statuses the server pushed, through both
clients (blocking and asyncio): nothing asked when nothing changed, only the changed
scripts' histories and what is new otherwise, a full restore after the connection dropped.

Ground truth: the request counts at the server, derived from the wallet's layout (scripts
scanned in batches of 20 per chain up to 20 past the last used one, so payments to external
0 and 3 mean 40 external and 20 internal scripts), the faucet's payments, a fresh scan by a
new client, and LWK's client on the same server.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_regtest import Regtest
from regtest_wallets import address, assert_as_lwk, descriptor, our_view

from lwk_core import BackendConnectError, Network, Update, Wollet

pytestmark = pytest.mark.usefixtures("no_faults")

SCRIPTS = 40 + 20  # external 0-39 and internal 0-19 (payments to external 0 and 3)


class Flavour:
    """One client of either kind, driven by blocking calls (the async one on one loop)."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind = kind
        self._runner = asyncio.Runner() if kind == "async" else None
        self.client: Any = (AsyncElectrumClient if self._runner else ElectrumClient).from_url(url)

    def _call(self, result: Any) -> Any:
        return self._runner.run(result) if self._runner is not None else result

    def scan(self, wollet: Wollet) -> Update | None:
        update: Update | None = self._call(self.client.full_scan(wollet))
        if update is not None:
            wollet.apply_update(update)
        return update

    def ping(self) -> None:
        self._call(self.client.ping())

    def close(self) -> None:
        self._call(self.client.close())
        if self._runner is not None:
            self._runner.close()


@pytest.fixture(params=["blocking", "async"])
def flavour(request: pytest.FixtureRequest, rt: Regtest) -> Iterator[Flavour]:
    client = Flavour(request.param, rt.electrum_url)
    yield client
    client.close()


def requests(rt: Regtest) -> Counter[str]:
    return Counter(rt.electrum_server.requests)


def counted_scan(rt: Regtest, flavour: Flavour, wollet: Wollet) -> tuple[Update | None, Any]:
    """The scan's update and the requests the server received meanwhile, per method."""
    before = requests(rt)
    update = flavour.scan(wollet)
    return update, requests(rt) - before


def funded(rt: Regtest, name: str) -> Wollet:
    """A wallet paid at external 0 and 3, each payment in its own block (the tip's)."""
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor(name))
    rt.faucet(address(wollet, 0), 10_000)
    rt.mine(1)
    rt.faucet(address(wollet, 3), 20_000)
    rt.mine(1)
    return wollet


def assert_as_fresh_and_lwk(rt: Regtest, wollet: Wollet) -> None:
    """The wallet equals a fresh scan by a new client, and LWK's view of it."""
    fresh = Wollet(Network.ELEMENTS_REGTEST, str(wollet.descriptor))
    with ElectrumClient.from_url(rt.electrum_url) as client:
        update = client.full_scan(fresh)
    assert update is not None
    fresh.apply_update(update)
    assert our_view(wollet) == our_view(fresh)
    assert wollet.state.tip == fresh.state.tip
    assert_as_lwk(rt.electrum_url, wollet)


def test_rescans_ask_nothing_unchanged_then_only_what_a_payment_and_a_block_changed(
    rt: Regtest, flavour: Flavour
) -> None:
    wollet = funded(rt, f"pushed rescans {flavour.kind}")
    before = requests(rt)
    assert flavour.scan(wollet) is not None
    first = requests(rt) - before
    assert first["blockchain.scripthash.subscribe"] == SCRIPTS

    before = requests(rt)
    assert flavour.scan(wollet) is None
    assert flavour.scan(wollet) is None
    assert requests(rt) - before == {}

    # A payment to external 3 (unconfirmed): that script's status is pushed; the rescan
    # asks its history and the one new transaction, nothing else (no block: no header).
    rt.faucet(address(wollet, 3), 5_000)
    update, asked = counted_scan(rt, flavour, wollet)
    assert update is not None and len(update.new_txs) == 1
    assert asked == {
        "blockchain.scripthash.get_history": 1,
        "blockchain.transaction.get": 1,
    }
    assert_as_fresh_and_lwk(rt, wollet)

    # A block confirms it: the header and the script's status are pushed; its history again
    # (the transaction is known; its block time is the pushed tip's, which extends the
    # wallet's tip, so no other block time is in doubt), and the proof of the new
    # confirmation (SPV), checked against the pushed tip's header.
    rt.mine(1)
    before = requests(rt)
    assert flavour.scan(wollet) is not None
    assert requests(rt) - before == {
        "blockchain.scripthash.get_history": 1,
        "blockchain.transaction.get_merkle": 1,
    }
    assert next(t.height for t in wollet.transactions()) == rt.tip_height()
    assert_as_fresh_and_lwk(rt, wollet)


def test_a_reorg_is_rescanned_from_its_pushes(rt: Regtest, flavour: Flavour) -> None:
    wollet = funded(rt, f"pushed reorg {flavour.kind}")
    flavour.scan(wollet)
    tip = rt.tip_height()
    # The tip block (with the payment to external 3) is replaced by two blocks; the payment
    # confirms again in the second, at tip + 1.
    rt.reorg(1)
    before = requests(rt)
    assert flavour.scan(wollet) is not None
    # That script's history; the header of the other payment's block, one below the old
    # tip, so within the reorg window (the moved payment's block is the pushed tip); the
    # proof of the moved payment's new confirmation (SPV).
    assert requests(rt) - before == {
        "blockchain.scripthash.get_history": 1,
        "blockchain.block.headers": 1,
        "blockchain.transaction.get_merkle": 1,
    }
    assert sorted(t.height for t in wollet.transactions()) == [tip - 1, tip + 1]
    assert_as_fresh_and_lwk(rt, wollet)


def test_after_the_server_dropped_the_connection_the_scan_subscribes_again(
    rt: Regtest, flavour: Flavour
) -> None:
    wollet = funded(rt, f"pushed drop {flavour.kind}")
    flavour.scan(wollet)
    rt.electrum_faults.set("refuse", 1)  # the server drops us at the next request
    with pytest.raises(BackendConnectError):
        flavour.ping()
    rt.faucet(address(wollet, 0), 7_000)  # while disconnected: no push can reach us
    update, asked = counted_scan(rt, flavour, wollet)
    assert update is not None and len(update.new_txs) == 1
    # The handshake restores the tip's and every script's subscription (statuses void until
    # then); the changed script's history and the new transaction. The genesis was proven
    # once for this client: not asked again.
    assert asked == {
        "server.version": 1,
        "blockchain.headers.subscribe": 1,
        "blockchain.scripthash.subscribe": SCRIPTS,
        "blockchain.scripthash.get_history": 1,
        "blockchain.transaction.get": 1,
    }
    assert_as_fresh_and_lwk(rt, wollet)
    before = requests(rt)
    assert flavour.scan(wollet) is None
    assert requests(rt) - before == {}
