"""RegtestChain and Faucet on their own: headers, history order, validation, reorgs, sparse runs."""

from __future__ import annotations

import json

import pytest
from embit.liquid.transaction import LTransaction, LTransactionInput, LTransactionOutput
from embit.script import Script
from lwk_oracle import FIXTURE, new_wallet
from lwk_regtest import DEFAULT_SIGNERS, RegtestChain, RegtestRejected
from lwk_regtest._blocks import build_header, explicit_coinbase_tx
from lwk_regtest._chain import FAUCET_SCRIPT, PREMINE_OUTPUTS
from lwk_regtest._faucet import Faucet, TxCache

from lwk_core import BlockHeader, OutPoint, verify_header
from lwk_core._descriptor import WolletDescriptor
from lwk_core._errors import DecodeError
from lwk_core._hashes import sha256d
from lwk_core._network import Chain, Network
from lwk_core._transaction import Transaction

POLICY = bytes.fromhex(Network.ELEMENTS_REGTEST.policy_asset)[::-1]


def _explicit_tx(prevouts: list[tuple[str, int]], sats: int = 1_000) -> bytes:
    """An unsigned tx spending `prevouts` to one explicit output (signatures are not checked)."""
    vin = [LTransactionInput(bytes.fromhex(txid), vout) for txid, vout in prevouts]
    vout = [LTransactionOutput(POLICY, sats, Script(b"\x51"))]
    raw: bytes = LTransaction(version=2, vin=vin, vout=vout, locktime=0).serialize()
    return raw


def _verify_branch(txid: str, branch: list[str], pos: int) -> bytes:
    node = bytes.fromhex(txid)[::-1]
    for sibling in branch:
        s = bytes.fromhex(sibling)[::-1]
        node = sha256d(s + node) if pos & 1 else sha256d(node + s)
        pos >>= 1
    return node


def test_header_matches_the_rust_elements_vector() -> None:
    vector = json.loads((FIXTURE.parent / "elements-vectors.json").read_text())["vectors"][0]
    block = bytes.fromhex(vector["block_hex"])
    prev, merkle = block[4:36], block[36:68]
    time, height = int.from_bytes(block[68:72], "little"), int.from_bytes(block[72:76], "little")
    header, block_hash = build_header(prev, merkle, time, height)
    assert block.startswith(header)
    assert block_hash[::-1].hex() == vector["header_hash"]


def test_genesis_premine_and_faucet_coins() -> None:
    chain = RegtestChain()
    assert chain.tip_height() == 0 and chain.block_txids(0) == [chain.genesis_txid]
    coins = chain.unspent(FAUCET_SCRIPT)
    assert coins == [(chain.genesis_txid, vout) for vout in range(PREMINE_OUTPUTS)]
    faucet = Faucet(chain)
    txid = faucet.pay(new_wallet("genesis").address(0), 5_000)
    assert (chain.genesis_txid, 0) not in chain.unspent(FAUCET_SCRIPT)
    # the change goes back to the faucet, in the mempool after the confirmed coins
    assert chain.unspent(FAUCET_SCRIPT)[-1] == (txid, 1)


def test_history_order_fee_and_unconfirmed_parents() -> None:
    chain = RegtestChain()
    faucet = Faucet(chain)
    wallet = new_wallet("history")
    spk = WolletDescriptor(wallet.descriptor).script_pubkey(Chain.EXTERNAL, 0)
    first, second = (faucet.pay(wallet.address(0), sats) for sats in (1_000, 2_000))
    chain.mine()
    later = faucet.pay(wallet.address(0), 3_000)
    chain.mine()
    pending = faucet.pay(wallet.address(0), 4_000)
    tx = Transaction.from_bytes(chain.tx_raw(pending) or b"")
    secrets = tx.unblind(0, WolletDescriptor(wallet.descriptor).blinding_private_key(spk))
    child = faucet.spend(
        [(OutPoint(pending, 0), secrets)], wallet.address(1), 500, change_address=wallet.address(0)
    )
    assert chain.history(spk) == [(first, 1), (second, 1), (later, 2), (pending, 0), (child, -1)]
    assert [chain.tx_fee(t) for t in (first, child)] == [250, 250]
    assert chain.block_txids(1) == [first, second]
    for txid in (first, second):
        height, branch, pos = chain.merkle_proof(txid)
        assert _verify_branch(txid, branch, pos) == chain.header(height)[36:68]
    with pytest.raises(KeyError):
        chain.merkle_proof(child)


@pytest.mark.parametrize("same_heights", [False, True])
def test_merkle_proofs_follow_a_reorg(same_heights: bool) -> None:
    chain = RegtestChain()
    faucet = Faucet(chain)
    paid = [faucet.pay(new_wallet("reorg proofs").address(0), sats) for sats in (1_000, 2_000)]
    chain.mine()
    before = {txid: chain.merkle_proof(txid) for txid in paid}  # the trees of these blocks
    chain.reorg(1, same_heights=same_heights)  # the txs confirm again, in other blocks
    for txid in paid:
        height, branch, pos = chain.merkle_proof(txid)
        assert _verify_branch(txid, branch, pos) == chain.header(height)[36:68]
        assert (height == before[txid][0]) is same_heights


def test_broadcast_rejections() -> None:
    chain = RegtestChain()
    genesis = chain.genesis_txid
    cases = {
        b"\x02\x00\x00\x00": ("TX decode failed", -22),
        explicit_coinbase_tx(b"x", [(POLICY, 1, b"\x51")]): ("coinbase", -26),
        _explicit_tx([("11" * 32, 0)]): ("bad-txns-inputs-missingorspent", -25),
        _explicit_tx([(genesis, PREMINE_OUTPUTS)]): ("bad-txns-inputs-missingorspent", -25),
        _explicit_tx([(genesis, 1), (genesis, 1)]): ("bad-txns-inputs-duplicate", -26),
        chain.tx_raw(genesis) or b"": ("Transaction already in block chain", -27),
    }
    for raw, (reason, code) in cases.items():
        with pytest.raises(RegtestRejected) as info:
            chain.broadcast(raw)
        assert (info.value.reason, info.value.code) == (reason, code)
    assert chain.mempool_txids() == [] and chain.version == 0
    spend = _explicit_tx([(genesis, 2)])
    txid = chain.broadcast(spend)
    assert chain.broadcast(spend) == txid  # resending a mempool tx is accepted
    chain.mine()
    with pytest.raises(RegtestRejected, match="missingorspent"):
        chain.broadcast(_explicit_tx([(genesis, 2)], sats=999))


def test_evict_and_replace_take_descendants() -> None:
    chain = RegtestChain()
    parent = chain.broadcast(_explicit_tx([(chain.genesis_txid, 0)]))
    child = chain.broadcast(_explicit_tx([(parent, 0)]))
    grandchild = chain.broadcast(_explicit_tx([(child, 0)]))
    assert chain.history(b"\x51")[-1] == (grandchild, -1)
    chain.evict(child)
    assert chain.mempool_txids() == [parent]
    assert chain.tx_raw(grandchild) is None
    with pytest.raises(KeyError):
        chain.evict(child)
    child = chain.broadcast(_explicit_tx([(parent, 0)]))
    replacement = chain.replace(parent, _explicit_tx([(chain.genesis_txid, 0)], sats=2_000))
    assert chain.mempool_txids() == [replacement]
    assert chain.tx_raw(parent) is None and chain.tx_raw(child) is None


def test_reorg_keeps_or_drops_transactions() -> None:
    chain = RegtestChain()
    confirmed = chain.broadcast(_explicit_tx([(chain.genesis_txid, 0)]))
    chain.mine(2)
    waiting = chain.broadcast(_explicit_tx([(confirmed, 0)]))
    old_hashes = [chain.block_hash(h) for h in range(3)]
    chain.reorg(2)
    assert chain.tip_height() == 3 and chain.tx_height(confirmed) == 3
    assert chain.block_hash(0) == old_hashes[0]
    assert chain.block_hash(1) != old_hashes[1] and chain.block_height(old_hashes[1] or "") is None
    assert chain.mempool_txids() == [waiting]
    chain.reorg(1, keep_txs=False)  # the block holding `confirmed` is replaced by empty ones
    assert chain.tip_height() == 4 and chain.tx_raw(confirmed) is None
    assert chain.mempool_txids() == []  # `waiting` spent a vanished output
    for height in range(1, 5):
        assert chain.header(height)[4:36] == bytes.fromhex(chain.block_hash(height - 1) or "")[::-1]


# the hashed part of a signed header: all before the signblock witness (same size at any height)
HASHED = len(DEFAULT_SIGNERS.unsigned(0x20000000, bytes(32), bytes(32), 0, 0))


def test_sparse_chain_headers_are_linked() -> None:
    chain = RegtestChain(Network.LIQUID_TESTNET)
    chain.append_block([], height=5_000, time=2_000_000_000)
    chain.append_block([], height=7_000, time=2_000_100_000)
    assert chain.tip_height() == 7_000
    times = [chain.block_time(h) for h in range(0, 7_001, 250)]
    assert times == sorted(times) and chain.block_time(5_000) == 2_000_000_000
    for height in (1, 1023, 1024, 1025, 4_999, 5_000, 5_001, 7_000):
        header = chain.header(height)
        block_hash = chain.block_hash(height) or ""
        verify_header(BlockHeader.parse(header), DEFAULT_SIGNERS.federation())  # signed too
        assert sha256d(header[:HASHED])[::-1].hex() == block_hash
        assert header[4:36] == bytes.fromhex(chain.block_hash(height - 1) or "")[::-1]
        assert chain.block_height(block_hash) == height
    kept = chain.block_hash(6_000)
    chain.reorg(1_500)  # into the empty run: blocks below the fork keep their hashes
    assert chain.block_hash(5_500) is not None and chain.block_hash(6_000) != kept
    assert chain.header(5_500)[4:36] == bytes.fromhex(chain.block_hash(5_499) or "")[::-1]
    assert chain.block_height(kept or "") is None
    with pytest.raises(KeyError):
        chain.header(chain.tip_height() + 1)


def test_subscribers_hear_every_change() -> None:
    chain = RegtestChain()
    heard: list[int] = []
    unsubscribe = chain.subscribe(lambda: heard.append(chain.version))
    txid = chain.broadcast(_explicit_tx([(chain.genesis_txid, 0)]))
    chain.mine()
    chain.reorg(1)
    unsubscribe()
    chain.evict(chain.broadcast(_explicit_tx([(txid, 0)])))
    assert heard == [1, 2, 3]


def test_faucet_assets_and_unconfidential_payments() -> None:
    chain = RegtestChain()
    faucet = Faucet(chain)
    issued, asset = faucet.issue_asset(1_000_000)  # kept by the faucet
    wallet = new_wallet("assets")
    txid = faucet.pay(wallet.address(0), 2_500, asset=asset)
    tx = Transaction.from_bytes(chain.tx_raw(txid) or b"")
    assert issued in {i.prevout.txid for i in tx.inputs}  # the asset coin, plus L-BTC for the fee
    key = WolletDescriptor(wallet.descriptor).blinding_private_key(tx.outputs[0].script_pubkey)
    assert (tx.unblind(0, key).asset, tx.unblind(0, key).value) == (asset, 2_500)
    unconfidential = WolletDescriptor(wallet.descriptor).unconfidential_address(
        Chain.EXTERNAL, 1, Network.ELEMENTS_REGTEST
    )
    plain = Transaction.from_bytes(chain.tx_raw(faucet.pay(unconfidential, 700)) or b"")
    assert (plain.outputs[0].asset, plain.outputs[0].value) == (chain.network.policy_asset, 700)
    testnet_address = WolletDescriptor(wallet.descriptor).address(
        Chain.EXTERNAL, 0, Network.LIQUID_TESTNET
    )
    with pytest.raises(DecodeError):
        faucet.pay(testnet_address, 1_000)
    with pytest.raises(ValueError, match="no"):
        faucet.pay(wallet.address(0), 1, asset="22" * 32)


def test_tx_cache_returns_the_same_bytes(tmp_path: object) -> None:
    wallet = new_wallet("cache")
    built = []
    for _ in range(2):
        chain = RegtestChain()
        cache = TxCache(tmp_path)  # type: ignore[arg-type]
        txid = Faucet(chain, cache=cache).pay(wallet.address(0), 1_234)
        built.append((txid, chain.tx_raw(txid), cache.hits))
    assert built[0][:2] == built[1][:2] and (built[0][2], built[1][2]) == (0, 1)
