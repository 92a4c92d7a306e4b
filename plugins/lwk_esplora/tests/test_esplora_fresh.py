"""Rescans answered from histories kept as of a chain state (`lwk_esplora._fresh`), on the
embedded chain: every change that touches a wallet script is seen, the rest costs no page.

Ground truth: the chain's own history of each wallet script, and LWK's Esplora client
scanning the same server from scratch (it pages every script).
"""

from __future__ import annotations

import collections
from collections.abc import Iterator

import lwk
import pytest
from esplora_fake import FakeEsplora
from lwk_esplora import EsploraClient, _fresh
from lwk_esplora._parse import PageEntry
from lwk_regtest import Regtest
from shared_data import regtest_wallet_descriptor

from lwk_core import Chain, Network, Wollet
from lwk_core._address import script_to_address

NETWORK = Network.ELEMENTS_REGTEST
DESCRIPTOR = regtest_wallet_descriptor()
ELSEWHERE = script_to_address(b"\x00\x14" + b"\x22" * 20, None, NETWORK)  # not the wallet's
PAGE = "GET /scripthash/:scripthash/txs"


@pytest.fixture
def rt() -> Iterator[Regtest]:
    with Regtest() as rt:
        yield rt


def routes(rt: Regtest) -> collections.Counter[str]:
    """Requests per route as the Esplora server counted them."""
    return rt._local_servers()[2].requests


def scan(client: EsploraClient, wollet: Wollet) -> None:
    update = client.full_scan(wollet)
    if update is not None:
        wollet.apply_update(update)


def chain_txids(rt: Regtest, wollet: Wollet) -> set[str]:
    """The txids of the wallet's first 40 scripts of each chain, as the chain has them."""
    scripts = [
        wollet.descriptor.script_pubkey(chain, i)
        for chain in (Chain.EXTERNAL, Chain.INTERNAL)
        for i in range(40)
    ]
    return {txid for spk in scripts for txid, _ in rt.chain.history(spk)}


def lwk_balance(rt: Regtest) -> dict[str, int]:
    network = lwk.Network.regtest_default()
    theirs = lwk.Wollet(network, lwk.WolletDescriptor(DESCRIPTOR), None)
    update = lwk.EsploraClient(rt.esplora_url + "/api", network).full_scan(theirs)
    if update:
        theirs.apply_update(update)
    return {str(asset): value for asset, value in theirs.balance().items()}


def assert_like_the_chain(rt: Regtest, wollet: Wollet) -> None:
    assert {t.txid for t in wollet.transactions()} == chain_txids(rt, wollet)
    assert dict(wollet.balance()) == lwk_balance(rt)


@pytest.fixture
def funded(rt: Regtest) -> Iterator[tuple[EsploraClient, Wollet]]:
    """A wallet paid at 4 indexes (confirmed), scanned once; the request counts cleared."""
    wollet = Wollet(NETWORK, DESCRIPTOR)
    for i in range(4):
        rt.faucet(wollet.address(i * 2).address(), 10_000 * (i + 1))
    rt.mine(1)
    with EsploraClient(rt.esplora_url + "/api", NETWORK) as client:
        scan(client, wollet)
        assert len(wollet.transactions()) == 4
        routes(rt).clear()
        yield client, wollet


def test_nothing_new_costs_no_page(rt: Regtest, funded: tuple[EsploraClient, Wollet]) -> None:
    client, wollet = funded
    assert client.full_scan(wollet) is None
    counted = routes(rt)
    assert counted[PAGE] == 0
    assert set(counted) == {"GET /blocks/tip/hash", "GET /mempool/txids"}


def test_a_payment_in_the_mempool_pages_only_its_script(
    rt: Regtest, funded: tuple[EsploraClient, Wollet]
) -> None:
    client, wollet = funded
    txid = rt.faucet(wollet.address(11).address(), 7_000)  # unused, within the gap limit
    scan(client, wollet)
    tx = wollet.transaction(txid)
    assert tx is not None and tx.height is None
    assert routes(rt)[PAGE] == 1
    assert routes(rt)["GET /tx/:txid/raw"] == 1  # inspected once, then given to the scan
    assert_like_the_chain(rt, wollet)


def mined_payment(rt: Regtest, client: EsploraClient, wollet: Wollet, index: int) -> str:
    """Pay the wallet's `index`, mine it, rescan: the payment is seen in one page."""
    txid = rt.faucet(wollet.address(index).address(), 8_000)
    rt.mine(1)
    scan(client, wollet)
    tx = wollet.transaction(txid)
    assert tx is not None and tx.height == rt.chain.tip_height()
    assert routes(rt)[PAGE] == 1
    return txid


def test_a_payment_mined_before_the_rescan(
    rt: Regtest, funded: tuple[EsploraClient, Wollet]
) -> None:
    mined_payment(rt, *funded, 1)
    assert_like_the_chain(rt, funded[1])


def test_an_evicted_payment_leaves_the_wallet(
    rt: Regtest, funded: tuple[EsploraClient, Wollet]
) -> None:
    client, wollet = funded
    before = dict(wollet.balance())
    txid = rt.faucet(wollet.address(3).address(), 9_000)
    scan(client, wollet)
    assert wollet.transaction(txid) is not None
    routes(rt).clear()
    rt.evict(txid)
    scan(client, wollet)
    assert wollet.transaction(txid) is None
    assert dict(wollet.balance()) == before
    assert routes(rt)[PAGE] == 1  # the one script whose history listed it
    assert_like_the_chain(rt, wollet)


def test_a_spend_with_no_output_to_the_wallet_is_seen_by_its_input(
    rt: Regtest, funded: tuple[EsploraClient, Wollet]
) -> None:
    client, wollet = funded
    utxo = min(wollet.utxos(), key=lambda u: u.unblinded.value)
    spent = utxo.unblinded.value
    txid = rt.spend(
        [(utxo.outpoint, utxo.unblinded)], ELSEWHERE, spent // 2, change_address=ELSEWHERE
    )
    scan(client, wollet)
    tx = wollet.transaction(txid)
    assert tx is not None and tx.type == "outgoing"
    assert routes(rt)[PAGE] == 1  # only the script it spends from
    assert_like_the_chain(rt, wollet)


def test_a_reorg_pages_every_script_again(
    rt: Regtest, funded: tuple[EsploraClient, Wollet]
) -> None:
    client, wollet = funded
    txid = mined_payment(rt, client, wollet, 5)
    routes(rt).clear()
    rt.reorg(1, keep_txs=False)  # the payment's block replaced by one without it
    scan(client, wollet)
    assert wollet.transaction(txid) is None
    assert routes(rt)[PAGE] >= 2 * 20  # every script: a gap limit on each chain at least
    assert_like_the_chain(rt, wollet)


def test_kept_histories_expire(
    rt: Regtest, funded: tuple[EsploraClient, Wollet], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page from a lagging replica behind a load balancer is trusted only so long."""
    client, wollet = funded
    monkeypatch.setattr(_fresh, "MAX_AGE", 0.0)
    assert client.full_scan(wollet) is None
    assert routes(rt)[PAGE] >= 2 * 20  # a gap limit of scripts on each chain


def test_a_server_that_does_not_list_its_mempool_is_asked_once(fake: FakeEsplora) -> None:
    """Without the mempool's txids there is no chain state: every scan pages."""
    script = b"\x00\x14" + b"\x01" * 20
    with EsploraClient(
        "http://esplora.test/api", Network.LIQUID_TESTNET, transport=fake.transport()
    ) as client:
        for _ in range(3):
            assert client.scan_scripts([script]) == [[]]
    assert fake.paths().count("/api/mempool/txids") == 1
    assert len(fake.script_paths()) == 3


def test_a_history_newer_than_its_state_is_not_kept() -> None:
    """A page read after the state may list what the state does not: an unconfirmed tx
    not in its mempool (evicted later, no change would touch the script) or a block above
    its tip (reorged away later, likewise)."""
    tip = "aa" * 32
    state = _fresh.ChainState(tip, 10, frozenset({"t1"}))
    fresh = _fresh.FreshHistories()
    assert fresh.advance(None, state, None)
    mark = fresh.mark()
    histories = {
        "in the mempool": [PageEntry("t1", None, None)],
        "at the tip": [PageEntry("t2", 10, 0, tip)],
        "below the tip": [PageEntry("t3", 9, 0, "bb" * 32)],
        "not in the mempool": [PageEntry("t4", None, None)],
        "above the tip": [PageEntry("t5", 11, 0, "cc" * 32)],
        "another block at the tip's height": [PageEntry("t6", 10, 0, "dd" * 32)],
    }
    for name, entries in histories.items():
        fresh.keep(name, name.encode(), entries, state)
    kept = {name for name in histories if fresh.history(name) is not None}
    assert kept == {"in the mempool", "at the tip", "below the tip"}
    assert fresh.owners(["t1", "t4"]) == {"in the mempool"}
    # what is not kept is logged as changed: a monitor syncs its wallet again
    assert fresh.changed_since(mark) == {n.encode() for n in histories} - {k.encode() for k in kept}
