"""What Client checks for every plugin: tip headers, broadcast txids; the optional
whole-wallet scan's plumbing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import test_header  # type: ignore[import-not-found]
from lwk_electrum import ElectrumClient
from lwk_memory_backend import MemoryChain, MemoryClient, register_chain
from shared_data import load_fixture, unique_name

from lwk_core import BackendProtocolError, Chain, Network, Transaction, WolletDescriptor, connect
from lwk_core._header import parse_block
from lwk_core.plugin import Tip, hookimpl, register_plugin

pytestmark = pytest.mark.usefixtures("fresh_plugins")


class Scripted:
    """A plugin whose backend answers what the test sets."""

    def __init__(self) -> None:
        self.tip: Tip | None = None
        self.txid: object = None

    @hookimpl
    def lwk_schemes(self) -> list[str]:
        return ["scripted"]

    @hookimpl
    def lwk_connect(self, url: str) -> Any:
        return type("ScriptedBackend", (), {"name": "scripted://"})()

    @hookimpl
    def lwk_tip(self) -> Tip | None:
        return self.tip

    @hookimpl
    def lwk_broadcast(self) -> object:
        return self.txid


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    plugin = Scripted()
    register_plugin(plugin, name="scripted")
    yield plugin


def block_header() -> tuple[bytes, str, int, int]:
    """A real header (rust-elements' vector) with its hash, height and time."""
    v = test_header.block_vector()
    header, _ = parse_block(bytes.fromhex(v["block_hex"]))
    assert header.block_hash == v["header_hash"] and header.height == 2
    return header.to_bytes(), v["header_hash"], header.height, header.time


def test_a_tip_with_its_own_header_is_taken(scripted: Scripted) -> None:
    raw, block_hash, height, time = block_header()
    scripted.tip = Tip(height, block_hash, time, raw)
    assert connect("scripted://x").tip() == scripted.tip


@pytest.mark.parametrize("field", ["height", "hash", "timestamp", "garbage"])
def test_a_tip_with_another_blocks_header_is_refused(scripted: Scripted, field: str) -> None:
    raw, block_hash, height, time = block_header()
    lies = {
        "height": Tip(height + 1, block_hash, time, raw),
        "hash": Tip(height, "00" * 32, time, raw),
        "timestamp": Tip(height, block_hash, time + 1, raw),
        "garbage": Tip(height, block_hash, time, raw[:40]),
    }
    scripted.tip = lies[field]
    with pytest.raises(BackendProtocolError):
        connect("scripted://x").tip()


def _fixture_tx() -> Transaction:
    fixture = load_fixture("liquid-testnet-wallet.json")
    entry = next(iter(fixture["transactions"].values()))
    return Transaction.from_hex(entry["hex"])


def test_a_broadcast_must_answer_the_transactions_txid(scripted: Scripted) -> None:
    tx = _fixture_tx()
    client = connect("scripted://x")
    scripted.txid = tx.txid.upper()
    assert client.broadcast(tx) == tx.txid
    scripted.txid = "ab" * 32
    with pytest.raises(BackendProtocolError, match="broadcast answered txid"):
        client.broadcast(tx)
    scripted.txid = 42
    with pytest.raises(BackendProtocolError, match="no txid"):
        client.broadcast(tx)


def test_the_whole_wallet_scan_reaches_the_owner_and_answers_its_histories() -> None:
    fixture = load_fixture("liquid-testnet-wallet.json")
    chain = MemoryChain(Network.LIQUID_TESTNET)
    name = unique_name("descriptor-scan")
    register_chain(name, chain)
    txids = set(fixture["steps"][0]["txids"])
    for txid in txids:
        entry = fixture["transactions"][txid]
        chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])
    descriptor = WolletDescriptor(fixture["descriptor"])
    client = MemoryClient(name, Network.LIQUID_TESTNET)
    assert client.scan_descriptor(descriptor, gap_limit=20, to_index=0) is None  # not offered
    client.conn.descriptor_scan = True
    found = client.scan_descriptor(descriptor, gap_limit=20, to_index=0)
    assert found is not None and set(found) == {Chain.EXTERNAL, Chain.INTERNAL}
    assert {e.txid for histories in found.values() for h in histories for e in h} == txids
    for which, histories in found.items():
        assert all(not h for h in histories[-20:])  # the gap the server applied
        scripts = descriptor.script_pubkeys(which, 0, len(histories))
        assert histories == client.scan_scripts(scripts)  # index i is script i
    assert client.conn.calls.count("scan_descriptor") == 1  # the refusal asked nothing


def test_a_backend_without_the_whole_wallet_scan_answers_none() -> None:
    descriptor = WolletDescriptor(load_fixture("liquid-testnet-wallet.json")["descriptor"])
    client = ElectrumClient("127.0.0.1:1", tls=False)  # not implemented: no I/O at all
    assert client.scan_descriptor(descriptor, gap_limit=20, to_index=0) is None
