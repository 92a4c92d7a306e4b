"""Esplora history paging exactly as electrs pages it (electrs' `src/rest.rs`): 25 confirmed per
page after a `last_seen` txid in electrs' index order, at most 50 mempool transactions; and
LWK's EsploraClient agreeing with what those pages show."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import lwk
import pytest
from lwk_regtest._chain import RegtestChain
from lwk_regtest._esplora_server import EsploraServer
from lwk_regtest._faucet import Faucet

from lwk_core import Network, OutPoint
from lwk_core._hashes import sha256
from lwk_core._transaction import Transaction

MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"
POLICY = Network.ELEMENTS_REGTEST.policy_asset
LWK_NET = lwk.Network.regtest_default()
CONFIRMED_PER_BLOCK = (10, 9, 11)  # payments to address A in blocks 1-3; block 2 also spends
MEMPOOL_PAYMENTS = 55
SPEND_SATS = 500


class Paging:
    """Address A of a wallet with 31 confirmed transactions (one spending from A, in the
    middle block) and 55 mempool ones; address B of the same wallet receives the spend."""

    def __init__(self) -> None:
        self.chain = RegtestChain()
        self.faucet = Faucet(self.chain)
        self.descriptor = lwk.Signer(lwk.Mnemonic(MNEMONIC), LWK_NET).wpkh_slip77_descriptor()
        wollet = lwk.Wollet(LWK_NET, self.descriptor, None)
        self.a, self.b = (wollet.address(i).address() for i in range(2))
        self.spk = bytes(self.a.script_pubkey().bytes())
        self.paid: dict[str, int] = {}
        self.spend_txid = ""
        for block, count in enumerate(CONFIRMED_PER_BLOCK):
            for _ in range(count):
                self.pay()
            if block == 1:
                self.spend(next(iter(self.paid)))
            self.chain.mine()
        self.mempool = [self.pay() for _ in range(MEMPOOL_PAYMENTS)]
        self.server = EsploraServer(self.chain).start()
        self.http = httpx.Client(base_url=self.server.url)

    def pay(self) -> str:
        sats = 1_000 + 7 * len(self.paid)
        txid = self.faucet.pay(str(self.a), sats)
        self.paid[txid] = sats
        return txid

    def spend(self, txid: str) -> None:
        """Spend A's output of `txid` to B, the change back to A."""
        tx = Transaction.from_bytes(self.chain.tx_raw(txid) or b"")
        vout = next(n for n, o in enumerate(tx.outputs) if o.script_pubkey == self.spk)
        key = self.descriptor.derive_blinding_key(self.a.script_pubkey())
        secrets = tx.unblind(vout, bytes(key.bytes()))
        self.spend_txid = self.faucet.spend(
            [(OutPoint(txid, vout), secrets)], str(self.b), SPEND_SATS, change_address=str(self.a)
        )

    def confirmed_order(self) -> list[str]:
        """electrs' reverse index scan: height, then spending rows, then txid bytes, all
        descending (first principles, not the server's code)."""
        confirmed = [t for t in [*self.paid, self.spend_txid] if not self.chain.in_mempool(t)]

        def key(txid: str) -> tuple[int, bool, bytes]:
            height = self.chain.tx_height(txid)
            assert height is not None
            return height, txid == self.spend_txid, bytes.fromhex(txid)[::-1]

        return sorted(confirmed, key=key, reverse=True)

    def path(self, route: str = "") -> str:
        return f"/address/{self.a.to_unconfidential()}{route}"

    def txids(self, path: str) -> list[str]:
        response = self.http.get(path)
        assert response.status_code == 200, response.text
        return [tx["txid"] for tx in response.json()]


@pytest.fixture(scope="module")
def paging() -> Iterator[Paging]:
    p = Paging()
    yield p
    p.http.close()
    p.server.stop()


def test_the_world_is_what_the_pages_are_about(paging: Paging) -> None:
    order = paging.confirmed_order()
    assert len(order) == sum(CONFIRMED_PER_BLOCK) + 1 == 31
    heights = [paging.chain.tx_height(t) or 0 for t in order]
    assert heights == sorted(heights, reverse=True)
    assert len({paging.chain.tx_height(t) for t in order}) == 3


def test_confirmed_pages_are_25_then_the_rest_then_empty(paging: Paging) -> None:
    order = paging.confirmed_order()
    first = paging.txids(paging.path("/txs/chain"))
    second = paging.txids(paging.path(f"/txs/chain/{first[-1]}"))
    assert (len(first), len(second)) == (25, 6)
    assert first + second == order
    assert paging.txids(paging.path(f"/txs/chain/{second[-1]}")) == []
    # the spending transaction leads its block even though funding txids sort above it
    middle = [t for t in order if paging.chain.tx_height(t) == paging.chain.tx_height(order[11])]
    assert middle[0] == paging.spend_txid
    assert sorted(middle[1:], key=lambda t: bytes.fromhex(t)[::-1], reverse=True) == middle[1:]


def test_a_cursor_anywhere_gives_the_next_25(paging: Paging) -> None:
    order = paging.confirmed_order()
    for i in (0, 4, 10, 24, 29):
        assert paging.txids(paging.path(f"/txs/chain/{order[i]}")) == order[i + 1 : i + 26]
        assert paging.txids(paging.path(f"/txs/chain/{order[i].upper()}")) == order[i + 1 : i + 26]


@pytest.mark.parametrize(
    "cursor",
    [
        "ab" * 32,  # valid txid, never seen
        "mempool",  # a mempool transaction of this very address
        "genesis",  # a confirmed transaction of another script
    ],
)
def test_a_valid_cursor_outside_the_confirmed_history_ends_paging(
    paging: Paging, cursor: str
) -> None:
    txid = {
        "mempool": paging.mempool[0],
        "genesis": paging.chain.block_txids(0)[0],
    }.get(cursor, cursor)
    assert paging.txids(paging.path(f"/txs/chain/{txid}")) == []


@pytest.mark.parametrize("cursor", ["zz", "ab" * 31, "ab" * 33, "", "g" * 64])
def test_an_unparseable_cursor_restarts_at_the_first_page(paging: Paging, cursor: str) -> None:
    """electrs ignores a cursor it cannot parse: a client must not take this for a next page."""
    assert paging.txids(paging.path(f"/txs/chain/{cursor}")) == paging.confirmed_order()[:25]


def test_segments_after_the_cursor_are_ignored_as_electrs_does(paging: Paging) -> None:
    order = paging.confirmed_order()
    assert paging.txids(paging.path(f"/txs/chain/{order[3]}/extra")) == order[4:29]


def test_mempool_is_capped_at_50_in_arrival_order(paging: Paging) -> None:
    assert paging.txids(paging.path("/txs/mempool")) == paging.mempool[:50]
    combined = paging.txids(paging.path("/txs"))
    assert combined == paging.mempool[:50] + paging.confirmed_order()[:25]


def test_scripthash_route_pages_the_same(paging: Paging) -> None:
    sh = sha256(paging.spk).hex()
    order = paging.confirmed_order()
    assert paging.txids(f"/scripthash/{sh}/txs/chain/{order[24]}") == order[25:]
    assert paging.txids(f"/api/scripthash/{sh}/txs/mempool") == paging.mempool[:50]


def test_stats_and_utxos_are_not_paged(paging: Paging) -> None:
    stats: dict[str, Any] = paging.http.get(paging.path()).json()
    funded = sum(CONFIRMED_PER_BLOCK) + 1  # the spend's change comes back to A
    assert stats["chain_stats"] == {
        "tx_count": 31,
        "funded_txo_count": funded,
        "spent_txo_count": 1,
    }
    assert stats["mempool_stats"] == {
        "tx_count": MEMPOOL_PAYMENTS,
        "funded_txo_count": MEMPOOL_PAYMENTS,
        "spent_txo_count": 0,
    }
    utxos = paging.http.get(paging.path("/utxo")).json()
    assert len(utxos) == funded - 1 + MEMPOOL_PAYMENTS
    spent = next(iter(paging.paid))
    assert all(u["txid"] != spent for u in utxos)
    outspends = paging.http.get(f"/tx/{spent}/outspends").json()
    assert [s["txid"] for s in outspends if s["spent"]] == [paging.spend_txid]


@pytest.mark.lwk
def test_lwk_pages_through_and_sees_what_electrs_shows(paging: Paging) -> None:
    """LWK follows the cursor to the empty page; past the mempool cap it cannot see."""
    before = paging.server.requests.copy()
    wollet = lwk.Wollet(LWK_NET, paging.descriptor, None)
    update = lwk.EsploraClient(paging.server.url, LWK_NET).full_scan(wollet)
    wollet.apply_update(update)
    visible = paging.confirmed_order() + paging.mempool[:50]
    assert {str(tx.txid()) for tx in wollet.transactions()} == set(visible)
    received = sum(sats for txid, sats in paging.paid.items() if txid in visible)
    assert wollet.balance() == {POLICY: received - paging.faucet.fee}
    calls = paging.server.requests - before
    assert calls["GET /address/:address/txs/chain/:last_seen"] == 3  # A: 2 pages, B: 1
    assert calls["GET /tx/:txid/raw"] == len(visible)
