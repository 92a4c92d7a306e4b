"""Confirmations and block times come from headers the block signers signed.

On a regtest chain signed by a 2-of-3 federation, a server that invents a confirmation (a
header of its own whose merkle root holds a real transaction, with a valid Merkle proof),
tampers with a proof, or invents a block time is refused with a typed error; a chain fails
over to an honest server and the wallet shows the chain's own heights and times. The SPV
paths of Electrum (on by default), Esplora and Waterfalls (`verify_merkle=True`) prove each
confirmation on the same chain. Ground truth: the chain's own blocks (`rt.chain`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import pytest
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_esplora import EsploraClient
from lwk_regtest import BlockSigners, Regtest
from lwk_regtest.testing import new_wallet_descriptor
from lwk_waterfalls import WaterfallsClient

from lwk_core import (
    BackendChain,
    BackendProtocolError,
    BadBlockSignature,
    BlockHeader,
    Client,
    HistoryEntry,
    MerkleProof,
    Network,
    Wollet,
    connect,
)
from lwk_core.plugin import hookimpl, register_plugin

pytestmark = pytest.mark.usefixtures("fresh_plugins")

SIGNERS = BlockSigners.generate(2, 3)
IMPOSTORS = BlockSigners(BlockSigners.generate(2, 5).seeds[2:], 2)  # 2-of-3, other keys


@attrs.frozen
class Paid:
    """A chain where `txid` (paying the wallet) confirmed at `height` with one other tx,
    below an empty block at `empty` and a tip above both."""

    rt: Regtest
    descriptor: str
    txid: str
    height: int
    empty: int


@pytest.fixture(scope="module")
def paid() -> Iterator[Paid]:
    with Regtest(signers=SIGNERS, cache=False) as rt:
        descriptor = new_wallet_descriptor()
        address = Wollet(Network.ELEMENTS_REGTEST, descriptor).address(0).address()
        txid = rt.faucet(address, 10_000)
        other = Wollet(Network.ELEMENTS_REGTEST, new_wallet_descriptor()).address(0).address()
        rt.faucet(other, 20_000)  # a second tx in the block: proofs have a branch
        rt.mine(1)
        height = rt.tip_height()
        rt.mine(3)
        yield Paid(rt, descriptor, txid, height, height + 2)


class Liar:
    """A plugin (scheme liar://) answering as an honest Electrum client does, except for the
    lies set: confirmation heights and history block times, headers, proofs."""

    def __init__(self, honest: Client) -> None:
        self.honest = honest
        self.heights: dict[str, int] = {}  # txid -> the height claimed
        self.history_times: dict[int, int] = {}  # height -> a block time given with histories
        self.headers: dict[int, bytes] = {}
        self.proofs: dict[str, MerkleProof] = {}

    @hookimpl
    def lwk_schemes(self) -> list[str]:
        return ["liar"]

    @hookimpl
    def lwk_connect(self) -> Any:
        return type("LiarBackend", (), {"name": "liar://"})()

    @hookimpl
    def lwk_genesis_hash(self) -> str:
        return self.honest.genesis_hash()

    @hookimpl
    def lwk_tip(self) -> Any:
        return self.honest.tip()

    @hookimpl
    def lwk_scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        return [
            [self._lie(entry) for entry in history] for history in self.honest.scan_scripts(scripts)
        ]

    def _lie(self, entry: HistoryEntry) -> HistoryEntry:
        height = self.heights.get(entry.txid, entry.height)
        return HistoryEntry(entry.txid, height, self.history_times.get(height or 0))

    @hookimpl
    def lwk_get_tx(self, txids: Sequence[str]) -> list[bytes]:
        return self.honest.get_raw_txs(txids)

    @hookimpl
    def lwk_block_headers(self, heights: Sequence[int]) -> dict[int, bytes]:
        honest = self.honest.block_headers([h for h in heights if h not in self.headers])
        return {h: self.headers.get(h) or honest[h] for h in heights}

    @hookimpl
    def lwk_merkle_proofs(self, confirmed: Sequence[tuple[str, int]]) -> list[MerkleProof]:
        return [
            self.proofs.get(txid) or self.honest.merkle_proofs([(txid, height)])[0]
            for txid, height in confirmed
        ]


def honest_client(paid: Paid, **options: Any) -> ElectrumClient:
    client = ElectrumClient.from_url(paid.rt.electrum_url, **options)
    client.block_signers = SIGNERS.federation()
    return client


@pytest.fixture
def liar(paid: Paid) -> Iterator[Liar]:
    plugin = Liar(ElectrumClient.from_url(paid.rt.electrum_url, verify_merkle=False))
    register_plugin(plugin, name="liar")
    yield plugin
    plugin.honest.close()


def liar_client(signers: BlockSigners | None = SIGNERS) -> Client:
    client = connect("liar://x", Network.ELEMENTS_REGTEST)
    client.block_signers = signers.federation() if signers else None
    client.verify_merkle = True
    return client


def signed_header(
    signers: BlockSigners, prev: BlockHeader, *, merkle_root: str, time: int
) -> bytes:
    """A header at prev's height + 1 signed by `signers` (the message is the block hash)."""
    root = bytes.fromhex(merkle_root)[::-1]
    prev_hash = bytes.fromhex(prev.block_hash)[::-1]
    unsigned = signers.unsigned(0x20000000, prev_hash, root, time, prev.height + 1)
    block_hash = BlockHeader.parse(unsigned + signers.proof(bytes(32))).block_hash
    return unsigned + signers.proof(bytes.fromhex(block_hash)[::-1])


def chain_header(paid: Paid, height: int) -> BlockHeader:
    return BlockHeader.parse(paid.rt.chain.header(height))


def fresh_wallet(paid: Paid) -> Wollet:
    return Wollet(Network.ELEMENTS_REGTEST, paid.descriptor)


def assert_the_chains_view(paid: Paid, wollet: Wollet) -> None:
    [tx] = wollet.transactions()
    assert (tx.txid, tx.height) == (paid.txid, paid.height)
    assert tx.timestamp == chain_header(paid, paid.height).time


def fail_over(paid: Paid, liar: Client, caplog: pytest.LogCaptureFixture) -> Wollet:
    """Scan through [liar, honest]; the wallet after it."""
    wollet = fresh_wallet(paid)
    chain = BackendChain([liar, honest_client(paid)])
    with caplog.at_level(logging.WARNING, logger="lwk_core.failover"):
        update = chain.full_scan(wollet)
    assert update is not None
    wollet.apply_update(update)
    return wollet


def invent_confirmation(paid: Paid, liar: Liar, signers: BlockSigners) -> None:
    """The real tx claimed in the empty block, whose header the liar remakes with a merkle
    root of the tx alone (a one-leaf tree's root is the leaf) and a valid proof of it."""
    prev = chain_header(paid, paid.empty - 1)
    real = chain_header(paid, paid.empty)
    liar.heights[paid.txid] = paid.empty
    liar.headers[paid.empty] = signed_header(signers, prev, merkle_root=paid.txid, time=real.time)
    liar.proofs[paid.txid] = MerkleProof(paid.empty, (), 0)


@pytest.mark.parametrize("dynafed", [False, True], ids=["legacy", "dynafed"])
def test_an_invented_confirmation_is_refused_and_the_chain_fails_over(
    paid: Paid, liar: Liar, caplog: pytest.LogCaptureFixture, dynafed: bool
) -> None:
    invent_confirmation(paid, liar, attrs.evolve(IMPOSTORS, dynafed=dynafed))
    wollet = fresh_wallet(paid)
    with pytest.raises(BadBlockSignature, match=f"height {paid.empty}"):
        liar_client().full_scan(wollet)
    assert wollet.transactions() == []  # nothing stored from the failed scan
    wollet = fail_over(paid, liar_client(), caplog)
    assert "BadBlockSignature" in caplog.text
    assert_the_chains_view(paid, wollet)


def test_without_signers_only_the_proof_holds_and_an_invented_block_passes(
    paid: Paid, liar: Liar
) -> None:
    """What the signatures add: with the check off, the made-up block (signed by nobody
    the wallet trusts) and its valid proof would be believed."""
    invent_confirmation(paid, liar, IMPOSTORS)
    wollet = fresh_wallet(paid)
    update = liar_client(signers=None).full_scan(wollet)
    assert update is not None
    assert update.txid_height_new == {paid.txid: paid.empty}


def tampered(proof: MerkleProof) -> list[MerkleProof]:
    flipped = [("0" if proof.merkle[0][0] != "0" else "1") + proof.merkle[0][1:]]
    return [
        attrs.evolve(proof, merkle=flipped + list(proof.merkle[1:])),
        attrs.evolve(proof, merkle=proof.merkle[:-1]),
        attrs.evolve(proof, pos=proof.pos ^ 1),
        attrs.evolve(proof, block_height=proof.block_height + 1),
    ]


def test_tampered_proofs_are_refused_and_the_chain_fails_over(
    paid: Paid, liar: Liar, caplog: pytest.LogCaptureFixture
) -> None:
    [proof] = liar.honest.merkle_proofs([(paid.txid, paid.height)])
    assert proof.block_height == paid.height and len(proof.merkle) == 1  # two txs
    for bad in tampered(proof):
        liar.proofs[paid.txid] = bad
        with pytest.raises(BackendProtocolError, match="merkle proof"):
            liar_client().full_scan(fresh_wallet(paid))
    assert_the_chains_view(paid, fail_over(paid, liar_client(), caplog))


def test_a_confirmation_moved_to_a_real_block_fails_its_proof(paid: Paid, liar: Liar) -> None:
    """The real tx claimed in the real empty block: the honest proof is for another height,
    and one made for the claimed height does not reach that block's merkle root."""
    [liar.proofs[paid.txid]] = liar.honest.merkle_proofs([(paid.txid, paid.height)])
    liar.heights[paid.txid] = paid.empty
    with pytest.raises(BackendProtocolError, match=f"for height {paid.height}"):
        liar_client().full_scan(fresh_wallet(paid))
    liar.proofs[paid.txid] = MerkleProof(paid.empty, (), 0)
    with pytest.raises(BackendProtocolError, match="does not match the block"):
        liar_client().full_scan(fresh_wallet(paid))


def test_an_invented_block_time_is_refused(
    paid: Paid, liar: Liar, caplog: pytest.LogCaptureFixture
) -> None:
    real = chain_header(paid, paid.height)
    prev = chain_header(paid, paid.height - 1)
    liar.headers[paid.height] = signed_header(
        IMPOSTORS, prev, merkle_root=real.merkle_root, time=real.time + 86_400
    )
    client = liar_client()
    client.verify_merkle = False  # the time alone
    with pytest.raises(BadBlockSignature, match=f"height {paid.height}"):
        client.full_scan(fresh_wallet(paid))
    assert_the_chains_view(paid, fail_over(paid, client, caplog))


def test_block_times_given_with_histories_are_not_believed_when_checking(
    paid: Paid, liar: Liar
) -> None:
    liar.history_times[paid.height] = 1_000_000_000  # Esplora-style, from the server's word
    wollet = fresh_wallet(paid)
    update = liar_client().full_scan(wollet)
    assert update is not None
    wollet.apply_update(update)
    assert_the_chains_view(paid, wollet)
    unchecked = liar_client(signers=None)  # no signers, no SPV: the histories' times are taken
    unchecked.verify_merkle = False
    update = unchecked.full_scan(fresh_wallet(paid))
    assert update is not None and update.timestamps[paid.height] == 1_000_000_000


class Counted:
    """A wrapper plugin counting the confirmations and headers each backend is asked."""

    def __init__(self) -> None:
        self.proofs: Counter[str] = Counter()
        self.headers: Counter[str] = Counter()

    @hookimpl(wrapper=True)
    def lwk_merkle_proofs(self, connection: Any, confirmed: Sequence[tuple[str, int]]) -> Any:
        self.proofs[connection.name.split(":")[0]] += len(confirmed)
        return (yield)

    @hookimpl(wrapper=True)
    def lwk_block_headers(self, connection: Any, heights: Sequence[int]) -> Any:
        self.headers[connection.name.split(":")[0]] += len(heights)
        return (yield)


@pytest.fixture
def counted() -> Iterator[Counted]:
    plugin = Counted()
    register_plugin(plugin, name="counted")
    yield plugin


def spv_clients(rt: Regtest) -> dict[str, Client]:
    network = Network.ELEMENTS_REGTEST
    clients: dict[str, Client] = {
        "tcp": ElectrumClient.from_url(rt.electrum_url),  # SPV on by default
        "http": EsploraClient(rt.esplora_url, network, verify_merkle=True),
        "waterfalls+http": WaterfallsClient(rt.waterfalls_url, network, verify_merkle=True),
    }
    for client in clients.values():
        client.block_signers = SIGNERS.federation()
    return clients


@pytest.mark.parametrize("kind", ["tcp", "http", "waterfalls+http"])
def test_spv_paths_prove_every_confirmation_on_a_signed_chain(
    paid: Paid, counted: Counted, kind: str
) -> None:
    client = spv_clients(paid.rt)[kind]
    wollet = fresh_wallet(paid)
    update = client.full_scan(wollet)
    assert update is not None
    wollet.apply_update(update)
    assert_the_chains_view(paid, wollet)
    assert counted.proofs[kind] == 1  # the one confirmation
    assert counted.headers[kind] == 1  # its block (not the tip)
    assert client.full_scan(wollet) is None
    assert counted.proofs[kind] == 1  # proven once per client
    client.close()
    assert client.full_scan(fresh_wallet(paid)) is not None
    assert counted.proofs[kind] == 2  # a new session proves again


def test_async_electrum_proves_on_a_signed_chain(paid: Paid, counted: Counted) -> None:
    async def scan() -> Wollet:
        wollet = fresh_wallet(paid)
        async with AsyncElectrumClient.from_url(paid.rt.electrum_url) as client:
            client.block_signers = SIGNERS.federation()
            update = await client.full_scan(wollet)
        assert update is not None
        wollet.apply_update(update)
        return wollet

    assert_the_chains_view(paid, asyncio.run(scan()))
    assert counted.proofs["tcp"] == 1
