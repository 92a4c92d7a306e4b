"""ElectrumClient against the embedded regtest Electrum server, with LWK's client as oracle."""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import lwk
import pytest
from electrum_fake import RoundTrips, wait_for_tip
from lwk_electrum import ElectrumClient
from lwk_electrum._connection import ElectrumConnection
from lwk_regtest import Regtest
from regtest_wallets import SERVER_FAULTS, address, descriptor, lwk_view, our_view
from shared_data import DATA

from lwk_core import (
    BackendConnectError,
    BackendError,
    BackendProtocolError,
    BalanceChanged,
    BroadcastRejected,
    Chain,
    DecodeError,
    Network,
    NewTip,
    NewTx,
    TxConfirmed,
    Wollet,
)
from lwk_core._transaction import Transaction

POLICY = Network.ELEMENTS_REGTEST.policy_asset
MARGIN = 0.5


pytestmark = pytest.mark.usefixtures("no_faults")


def tcp(rt: Regtest, **kw: Any) -> ElectrumClient:
    return ElectrumClient.from_url(rt.electrum_url, **kw)


def requests(rt: Regtest) -> Counter[str]:
    return Counter(rt.electrum_server.requests)


def sync(client: ElectrumClient, wollet: Wollet) -> Any:
    update = client.full_scan(wollet)
    if update is not None:
        wollet.apply_update(update)
    return update


# -- same results as LWK -------------------------------------------------------------------


def test_same_wallet_as_lwk_through_the_same_server(rt: Regtest) -> None:
    text = descriptor("same-as-lwk")
    ours = Wollet(Network.ELEMENTS_REGTEST, text)
    theirs = lwk.Wollet(lwk.Network.regtest_default(), lwk.WolletDescriptor(text), None)
    # Payments over several blocks, an issued asset, and a spend with change to the
    # internal chain; the last payment and the spend stay unconfirmed.
    for i in range(6):
        rt.faucet(address(ours, i), 20_000 + i)
        if i % 2:
            rt.mine(1)
    _, asset = rt.issue_asset(5_000, address(ours, 7))
    rt.mine(1)
    client = tcp(rt)
    sync(client, ours)
    spent = next(u for u in ours.utxos() if u.value == 20_003)
    rt.spend(
        [(spent.outpoint, spent.unblinded)],
        address(Wollet(Network.ELEMENTS_REGTEST, descriptor("someone else")), 0),
        1_000,
        change_address=address(ours, 0, Chain.INTERNAL),
    )
    rt.faucet(address(ours, 9), 7_777)
    sync(client, ours)
    update = lwk.ElectrumClient.from_url(rt.electrum_url).full_scan(theirs)
    assert update is not None
    theirs.apply_update(update)

    mine, lwks = our_view(ours), lwk_view(theirs)
    assert mine["balance"] == lwks["balance"]
    assert mine["utxos"] == lwks["utxos"]
    # Newest first; within one block LWK's order is its own (not by txid), so compare the
    # heights in order and the transactions as a set.
    assert [t[1] for t in mine["txs"]] == [t[1] for t in lwks["txs"]]
    assert sorted(mine["txs"], key=str) == sorted(lwks["txs"], key=str)
    assert mine["balance"][asset] == 5_000
    assert len(mine["txs"]) == 9
    assert sum(1 for t in mine["txs"] if t[1] is None) == 2


# -- request economy ---------------------------------------------------------------------------


def test_unchanged_rescan_sends_no_request(
    rt: Regtest, round_trips: Callable[[ElectrumConnection], RoundTrips]
) -> None:
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor("rescan"))
    for i in (0, 3, 25):
        rt.faucet(address(wollet, i), 10_000)
    rt.mine(1)
    client = tcp(rt)
    trips = round_trips(client.connection.rpc)
    before = requests(rt)
    assert sync(client, wollet) is not None
    first = requests(rt) - before
    # External: scripts 0-19, 20-39 (25 used), 40-59; internal: 0-19. Each script new to the
    # client: its subscription, and the history of the 3 used ones (0, 3, 25). The 3
    # transactions, their proofs (SPV), no header (the tip block's comes with the tip);
    # before the scan, the server's genesis.
    assert first == {
        "server.version": 1,
        "server.features": 1,
        "blockchain.headers.subscribe": 1,
        "blockchain.scripthash.subscribe": 80,
        "blockchain.scripthash.get_history": 3,
        "blockchain.transaction.get": 3,
        "blockchain.transaction.get_merkle": 3,
    }
    # version, features and the tip in one burst; three scan rounds (both chains' first 20
    # scripts, then external 20-39, then 40-59), one burst each: a round's subscriptions
    # carry the histories of the scripts the round before found used; the transactions;
    # the proofs
    assert trips.count == 1 + 3 + 1 + 1

    # Nothing new: the tip is the one the subscription keeps, every status is current (the
    # server pushes changes to subscribed scripts): no request at all.
    before, trips.count = requests(rt), 0
    assert sync(client, wollet) is None
    assert requests(rt) - before == {}
    assert trips.count == 0

    # LWK on the same wallet and server asks every history again on each scan.
    theirs = lwk.Wollet(
        lwk.Network.regtest_default(), lwk.WolletDescriptor(str(wollet.descriptor)), None
    )
    lwk_client = lwk.ElectrumClient.from_url(rt.electrum_url)
    theirs.apply_update(lwk_client.full_scan(theirs))
    before = requests(rt)
    assert lwk_client.full_scan(theirs) is None
    assert (requests(rt) - before)["blockchain.scripthash.get_history"] == 80

    # One new payment (its status pushed before the faucet returns): the rescan asks exactly
    # that script's history and the new transaction.
    rt.faucet(address(wollet, 3), 5_000)
    before, trips.count = requests(rt), 0
    update = sync(client, wollet)
    assert update is not None and len(update.new_txs) == 1
    assert requests(rt) - before == {
        "blockchain.scripthash.get_history": 1,
        "blockchain.transaction.get": 1,
    }
    assert trips.count == 2  # the history, the transaction
    assert our_view(wollet)["balance"] == {rt.network.policy_asset: 35_000}


def test_requests_are_pipelined(
    rt: Regtest, round_trips: Callable[[ElectrumConnection], RoundTrips]
) -> None:
    """With 0.1 s added to each server write, a scan costs one delay per burst, not per request."""
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor("pipelined"))
    rt.fund_wallet(str(wollet.descriptor), 12, n_addresses=12, txs_per_block=5)
    rt.electrum_faults.latency = 0.1
    client = tcp(rt)
    trips = round_trips(client.connection.rpc)
    before = requests(rt)
    start = time.monotonic()
    sync(client, wollet)
    elapsed = time.monotonic() - start
    sent = sum((requests(rt) - before).values())
    # version, features (the genesis), tip, subscribes, the histories of the 12 used
    # scripts, txs, the header of the first block (the second is the tip), the proofs of
    # the 10 confirmed (two blocks of 5; SPV); in round trips: version, features and tip
    # in one burst, 2 scan rounds (both chains' first 20 scripts; external 20-39 with the
    # 12 used ones' histories), txs with the header, proofs = 5.
    assert sent == 1 + 1 + 1 + 60 + 12 + 12 + 1 + 10
    assert trips.count == 5
    assert elapsed < sent * 0.1 / 4  # round trips (counted above), not one per request
    assert len(wollet.transactions()) == 12


def test_a_first_scan_subscribes_each_script_once_and_asks_only_the_used_ones_histories(
    rt: Regtest, round_trips: Callable[[ElectrumConnection], RoundTrips]
) -> None:
    """External 0-44 paid once each, 15 payments a block. LWK's rule scans external 0-79
    (0-19 and 20-39 used at every index, 40-59 in part, 60-79 not at all) and internal
    0-19: 100 scripts, as LWK's client on the same server asks them."""
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor("dense first scan"))
    rt.fund_wallet(str(wollet.descriptor), 45, n_addresses=45, txs_per_block=15)
    client = tcp(rt)
    trips = round_trips(client.connection.rpc)
    before = requests(rt)
    sync(client, wollet)
    # each script subscribed once, a history per used script, each transaction, the
    # headers of the two blocks below the tip in one range (the tip's comes with it), a
    # proof of each confirmation (SPV)
    assert requests(rt) - before == {
        "server.version": 1,
        "server.features": 1,
        "blockchain.headers.subscribe": 1,
        "blockchain.scripthash.subscribe": 100,
        "blockchain.scripthash.get_history": 45,
        "blockchain.transaction.get": 45,
        "blockchain.block.headers": 1,
        "blockchain.transaction.get_merkle": 45,
    }
    # version, features and the tip in one burst; three scan rounds where LWK takes four,
    # one burst each: both chains' first batch, external 20-59 (two batches after one used
    # at every index) with the 20 used ones' histories, external 60-79 with the next 25;
    # transactions with the headers, proofs
    assert trips.count == 1 + 3 + 2
    assert len(wollet.transactions()) == 45

    theirs = lwk.Wollet(
        lwk.Network.regtest_default(), lwk.WolletDescriptor(str(wollet.descriptor)), None
    )
    before = requests(rt)
    theirs.apply_update(lwk.ElectrumClient.from_url(rt.electrum_url).full_scan(theirs))
    assert (requests(rt) - before)["blockchain.scripthash.get_history"] == 100
    assert our_view(wollet) == lwk_view(theirs)


# -- the tip ---------------------------------------------------------------------------------


def test_tip_follows_the_pushed_header_of_a_new_block(rt: Regtest) -> None:
    client = tcp(rt)
    old = client.tip()
    rt.mine(1)
    before = requests(rt)
    tip = wait_for_tip(client, old.height + 1)
    assert requests(rt) - before == {}  # pushed by the server, not asked
    assert tip.height == old.height + 1 == rt.tip_height()
    assert tip == tcp(rt).tip()  # what a fresh client asking the server gets


def test_a_history_above_the_kept_tip_refreshes_it(
    rt: Regtest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block's header notification still on its way when a scan sees its transactions:
    the sync asks the tip again instead of calling the server a liar."""
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor("late header"))
    client = tcp(rt)
    sync(client, wollet)
    subscriptions = client.connection.rpc.protocol.subscriptions
    notify = subscriptions.notify

    def headers_delayed(msg: dict[str, Any], now: float) -> None:
        if msg.get("method") != "blockchain.headers.subscribe":
            notify(msg, now)

    monkeypatch.setattr(subscriptions, "notify", headers_delayed)
    txid = rt.faucet(address(wollet, 1), 2_000)
    rt.mine(1)
    before = requests(rt)
    assert sync(client, wollet) is not None
    assert (requests(rt) - before)["blockchain.headers.subscribe"] == 1
    tip = wollet.tip()
    assert tip is not None and tip.height == rt.tip_height()
    assert [(t.txid, t.height) for t in wollet.transactions()] == [(txid, rt.tip_height())]


# -- faults, timeouts, reconnects -------------------------------------------------------------


@pytest.mark.parametrize(("fault", "error"), SERVER_FAULTS)
def test_server_faults_end_in_typed_errors_within_the_timeout(
    rt: Regtest, fault: str, error: type[BackendError]
) -> None:
    # the hang waits out the timeout; the others must end well before it, even a 32 MiB
    # oversized reply read on a loaded machine (1 s was not always enough there)
    timeout = 1.0 if fault == "hang" else 5.0
    client = tcp(rt, timeout=timeout)
    tip = client.tip()
    rt.electrum_faults.set(fault, 1)
    start = time.monotonic()
    with pytest.raises(error) as info:
        client.ping()  # a request (the tip is kept from the subscription: no request)
    assert time.monotonic() - start < timeout + MARGIN
    assert info.value.backend == rt.electrum_url
    before = requests(rt)
    assert client.tip() == tip  # the next call reconnects and asks the tip again
    assert requests(rt) - before == {"server.version": 1, "blockchain.headers.subscribe": 1}
    assert client.connection.rpc.connects == 2


def test_after_a_reconnect_the_tip_is_asked_again(rt: Regtest) -> None:
    client = tcp(rt)
    old = client.tip()
    rt.electrum_faults.set("refuse", 1)
    with pytest.raises(BackendConnectError):
        client.ping()
    rt.mine(1)  # while disconnected: no notification can reach the client
    before = requests(rt)
    assert client.tip().height == old.height + 1
    assert requests(rt) - before == {"server.version": 1, "blockchain.headers.subscribe": 1}


def test_wrong_transaction_is_caught_by_core(rt: Regtest) -> None:
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor("wrong tx"))
    txid = rt.faucet(address(wollet, 0), 1_000)
    rt.electrum_faults.set("wrong_tx", 1)
    with pytest.raises(BackendProtocolError, match="hashing to"):
        tcp(rt).get_tx(txid)


def test_lying_tip_is_caught_by_the_header_check(rt: Regtest) -> None:
    rt.electrum_faults.set("lying_tip", 1)
    with pytest.raises(BackendProtocolError, match="height"):
        tcp(rt).tip()


def test_reconnect_restores_subscriptions_and_notifications(rt: Regtest) -> None:
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor("reconnect"))
    client = tcp(rt)
    sync(client, wollet)
    rpc = client.connection.rpc
    rt.electrum_faults.set("refuse", 1)  # the server drops us at the next request
    with pytest.raises(BackendConnectError):
        client.ping()
    before = requests(rt)
    client.ping()
    assert requests(rt) - before == {
        "server.version": 1,
        "blockchain.headers.subscribe": 1,
        "blockchain.scripthash.subscribe": 40,
        "server.ping": 1,
    }
    seen = rpc.notifications
    rt.faucet(address(wollet, 1), 1_000)
    assert rpc.wait_for_notification(seen, 5)  # pushed on the new connection


# -- TLS -----------------------------------------------------------------------------------


def test_tls_self_signed_server(rt: Regtest, caplog: pytest.LogCaptureFixture) -> None:
    hostport = rt.electrum_ssl_url.split("://")[1]
    with pytest.raises(BackendConnectError, match="certificate"):
        ElectrumClient(hostport, True, True).ping()
    with caplog.at_level(logging.WARNING, logger="lwk_electrum"):
        tip = ElectrumClient(hostport, True, False).tip()
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    pinned = ElectrumClient.from_url(rt.electrum_ssl_url, cert_fingerprint=rt.cert_fingerprint)
    assert pinned.tip() == tip
    wrong = ElectrumClient.from_url(rt.electrum_ssl_url, cert_fingerprint="ab" * 32)
    served = rt.electrum_ssl_faults.requests  # counts every request the TLS server reads
    with pytest.raises(BackendConnectError, match="pinned"):
        wrong.ping()
    assert rt.electrum_ssl_faults.requests == served  # not even server.version was sent
    assert tip == tcp(rt).tip()


# -- broadcast ---------------------------------------------------------------------------------


def test_broadcast_and_rejection(rt: Regtest) -> None:
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor("broadcast"))
    raw = rt.build_payment(address(wollet, 0), 4_321)
    tx = Transaction.from_bytes(raw)
    client = tcp(rt)
    assert client.broadcast(tx) == tx.txid
    assert client.get_tx(tx.txid).size() == len(raw)
    assert client.broadcast(raw) == tx.txid  # again while in the mempool: accepted, as elementsd
    rt.mine(1)
    with pytest.raises(BroadcastRejected) as info:
        client.broadcast(raw)
    assert info.value.reason == "Transaction already in block chain"
    with pytest.raises(DecodeError):
        client.broadcast(b"\x02\x00\x00")  # refused by core, nothing sent
    assert client.connection.rpc.connects == 1  # verdicts, not broken connections


# -- SPV ---------------------------------------------------------------------------------------


def test_verify_merkle_on_real_blocks(rt: Regtest) -> None:
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor("spv"))
    rt.fund_wallet(str(wollet.descriptor), 7, n_addresses=4, txs_per_block=3)
    client = tcp(rt)  # SPV is on by default
    before = requests(rt)
    sync(client, wollet)
    delta = requests(rt) - before
    assert delta["blockchain.transaction.get_merkle"] == 6  # the confirmed ones
    assert delta["blockchain.block.headers"] == 1  # the first block (the second is the tip)
    assert "blockchain.block.header" not in delta
    before = requests(rt)
    assert sync(client, wollet) is None
    assert requests(rt) - before == {}  # proven once per client
    plain = Wollet(Network.ELEMENTS_REGTEST, str(wollet.descriptor))
    sync(tcp(rt, verify_merkle=False), plain)
    assert our_view(plain) == our_view(wollet)


# -- watch -------------------------------------------------------------------------------------


def test_watch_yields_on_payment_and_on_block(rt: Regtest) -> None:
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor("watch"))
    client = tcp(rt)
    events = client.watch(wollet, timeout=5)
    assert next(events) == NewTip(rt.tip_height(), rt.chain.tip_hash())  # the first sync

    txid = rt.faucet(address(wollet, 2), 3_000)
    assert [next(events), next(events)] == [
        NewTx(txid, None, {POLICY: 3_000}),
        BalanceChanged(POLICY, 0, 3_000),
    ]
    assert [(t.txid, t.height) for t in wollet.transactions()] == [(txid, None)]

    rt.mine(1)
    height = rt.tip_height()
    assert [next(events), next(events)] == [
        NewTip(height, rt.chain.tip_hash()),
        TxConfirmed(txid, height),
    ]
    assert [(t.txid, t.height) for t in wollet.transactions()] == [(txid, height)]
    events.close()
    client.close()


def test_watch_survives_a_dropped_connection_and_ends_on_timeout(rt: Regtest) -> None:
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor("watch drop"))
    client = tcp(rt)
    events = client.watch(wollet, timeout=1)
    assert isinstance(next(events), NewTip)
    rt.electrum_faults.set("refuse", 1)  # the first request after the payment is dropped
    txid = rt.faucet(address(wollet, 0), 2_000)
    # reconnected after a backoff, resubscribed, synced
    assert next(events) == NewTx(txid, None, {POLICY: 2_000})
    assert next(events) == BalanceChanged(POLICY, 0, 2_000)
    start = time.monotonic()
    with pytest.raises(StopIteration):
        next(events)
    assert 1 <= time.monotonic() - start < 1 + MARGIN
    client.close()


# -- the real Liquid testnet wallet of the fixture --------------------------------------------

FIXTURE_PATH = DATA / "liquid-testnet-wallet.json"
FIXTURE = json.loads(FIXTURE_PATH.read_text())


def fixture_view(expected: dict[str, Any]) -> dict[str, Any]:
    return {
        "balance": {a: v for a, v in expected["balance"].items() if v},
        "txs": [
            (t["txid"], t["height"], t["timestamp"], t["type"], t["fee"], t["balance"])
            for t in expected["transactions"]
        ],
        "utxos": sorted(
            (u["outpoint"].removeprefix("[elements]").split(":")[0], *_vout_asset_value(u))
            for u in expected["utxos"]
        ),
    }


def _vout_asset_value(utxo: dict[str, Any]) -> tuple[int, str, int]:
    return int(utxo["outpoint"].rsplit(":", 1)[1]), utxo["asset"], utxo["value"]


@pytest.mark.parametrize("verify_merkle", [False, True])
def test_fixture_wallet_matches_lwk_figures(verify_merkle: bool) -> None:
    """64 real Liquid testnet transactions served at their heights: LWK's own figures."""
    first, second = FIXTURE["steps"]
    with Regtest.from_fixture(FIXTURE_PATH, step=0) as rt:
        wollet = Wollet(Network.LIQUID_TESTNET, FIXTURE["descriptor"])
        client = ElectrumClient.from_url(rt.electrum_url, verify_merkle=verify_merkle)
        events = client.watch(wollet, timeout=5)
        shown = len(first["expected"]["transactions"])
        new = [e.txid for e in itertools.islice(events, shown + 1) if isinstance(e, NewTx)]
        assert sorted(new) == sorted(t["txid"] for t in first["expected"]["transactions"])
        assert our_view(wollet) == fixture_view(first["expected"])

        rt.extend_fixture(1)  # the 64th transaction arrives: a notification, a sync
        (new_txid,) = set(second["txids"]) - set(first["txids"])
        arrived = next(e for e in events if isinstance(e, NewTx))
        assert arrived.txid == new_txid
        assert our_view(wollet) == fixture_view(second["expected"])
        events.close()
        requests = rt.electrum_server.requests
        # Each confirmation is proven once, though a transaction shows in several histories.
        assert requests["blockchain.transaction.get_merkle"] == (64 if verify_merkle else 0)
