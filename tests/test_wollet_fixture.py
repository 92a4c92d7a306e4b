"""The real Liquid testnet wallet of the fixture, synced through the memory backend.

Every expected figure in the fixture was computed by LWK 0.19 from the same transactions.
"""

from __future__ import annotations

from typing import Any

import pytest
from lwk_memory_backend import MemoryChain, register_chain
from shared_data import load_fixture, unique_name

from lwk_core import Network, connect
from lwk_core._transaction import Transaction
from lwk_core._wollet import Wollet

FIXTURE = load_fixture("liquid-testnet-wallet.json")


def _add(chain: MemoryChain, txid: str) -> None:
    entry = FIXTURE["transactions"][txid]
    chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])


def _check(wollet: Wollet, expected: dict[str, Any]) -> None:
    assert dict(wollet.balance()) == expected["balance"]
    txs = wollet.transactions()
    assert len(txs) == expected["tx_count"]
    got = [
        {
            "txid": t.txid,
            "type": t.type,
            "fee": t.fee,
            "balance": dict(t.balance),
            "height": t.height,
            "timestamp": t.timestamp,
        }
        for t in txs
    ]
    assert got == expected["transactions"]
    assert len(wollet.utxos()) == expected["utxo_count"]
    assert len(wollet.txos()) == expected["txo_count"]
    utxos = sorted(
        (f"[elements]{u.outpoint}", u.chain.name.lower(), u.wildcard_index, u.asset, u.value)
        for u in wollet.utxos()
    )
    assert utxos == sorted(
        (u["outpoint"], u["chain"], u["index"], u["asset"], u["value"]) for u in expected["utxos"]
    )


@pytest.fixture
def fixture_chain() -> tuple[MemoryChain, str]:
    chain = MemoryChain(Network.LIQUID_TESTNET)
    name = unique_name("fixture")
    register_chain(name, chain)
    return chain, f"memory://{name}"


def test_fixture_wallet_steps_match_lwk(fixture_chain: tuple[MemoryChain, str]) -> None:
    chain, url = fixture_chain
    wollet = Wollet(Network.LIQUID_TESTNET, FIXTURE["descriptor"])
    client = connect(url, Network.LIQUID_TESTNET)
    first, second = FIXTURE["steps"]
    for txid in first["txids"]:
        _add(chain, txid)
    update = client.full_scan(wollet)
    assert update is not None and len(update.new_txs) == 63
    wollet.apply_update(update)
    _check(wollet, first["expected"])

    assert client.full_scan(wollet) is None  # nothing changed: LWK returns None too

    (new_txid,) = set(second["txids"]) - set(first["txids"])
    _add(chain, new_txid)
    update = client.sync(wollet, 20)
    assert update is not None
    assert [tx.txid for tx in update.new_txs] == [new_txid]
    wollet.apply_update(update)
    _check(wollet, second["expected"])


def test_an_update_applies_once(fixture_chain: tuple[MemoryChain, str]) -> None:
    from lwk_core import UpdateError

    chain, url = fixture_chain
    for txid in FIXTURE["steps"][0]["txids"][:5]:
        _add(chain, txid)
    wollet = Wollet(Network.LIQUID_TESTNET, FIXTURE["descriptor"])
    update = connect(url, Network.LIQUID_TESTNET).full_scan(wollet)
    assert update is not None
    wollet.apply_update(update)
    before = (wollet.state.status, dict(wollet.balance()))
    with pytest.raises(UpdateError, match="another state"):
        wollet.apply_update(update)
    assert (wollet.state.status, dict(wollet.balance())) == before
