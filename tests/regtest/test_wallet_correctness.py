"""Wallet results under reorgs, evictions and replacements (issue 13), each defect replayed
on the embedded chain and checked against LWK 0.19 (the `lwk` wheel) or, where LWK is the
one that is wrong, against the chain itself."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import lwk
import pytest
from lwk_electrum import ElectrumClient
from lwk_esplora import EsploraClient
from lwk_oracle import LwkWallet, new_wallet
from lwk_regtest import Regtest
from lwk_regtest._faucet import DEFAULT_FEE, decode_address
from lwk_regtest._tx_builder import TxOutput, build_tx

from lwk_core import Network, Transaction, Update, Wollet
from lwk_core._errors import DescriptorError

pytestmark = pytest.mark.lwk

BACKENDS = ("electrum", "esplora")
POLICY = Network.ELEMENTS_REGTEST.policy_asset


@pytest.fixture
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


def sync(rt: Regtest, backend: str, wollet: Wollet) -> Update | None:
    """One full scan through a fresh client of `backend`, applied."""
    client = (
        ElectrumClient.from_url(rt.electrum_url)
        if backend == "electrum"
        else EsploraClient(rt.esplora_url, rt.network)
    )
    with client:
        update = client.full_scan(wollet)
    if update is not None:
        wollet.apply_update(update)
    return update


def both(rt: Regtest, backend: str, wollet: Wollet, oracle: LwkWallet) -> None:
    sync(rt, backend, wollet)
    oracle.scan(rt.electrum_url)


def lbtc(wollet: Wollet) -> int:
    return wollet.balance().btc_balance()


def pay_many(rt: Regtest, payments: Sequence[tuple[str, int]]) -> bytes:
    """A faucet transaction paying several addresses at once (not broadcast)."""
    policy = bytes.fromhex(POLICY)[::-1]
    outputs = []
    for address, sats in payments:
        script, blinding = decode_address(address, rt.network)
        outputs.append(TxOutput(script, policy, sats, blinding))
    with rt.chain.lock:
        return rt._faucet._fund([], outputs)  # type: ignore[union-attr]


def foreign_address() -> str:
    return new_wallet("someone else").address(0)


# -- 1. a script that held counted outputs is never dropped from the scan -----------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_spend_from_a_script_whose_bridge_vanished_is_still_seen(
    rt: Regtest, backend: str
) -> None:
    """Index 44 is reached only through a payment at 25; that payment vanishes in a reorg
    while the one paying 2 and 44 comes back. The 70,000 at 44 is then drained: the spend
    shows only in 44's history, so the scan must still cover 44 (74,000 shown before)."""
    oracle = new_wallet(f"range-{backend}")
    wollet = Wollet(rt.network, oracle.descriptor)
    rt.faucet(oracle.address(25), 1_000)  # the bridge
    returning = pay_many(rt, [(oracle.address(2), 4_000), (oracle.address(44), 70_000)])
    rt.chain.broadcast(returning)
    rt.mine(1)
    both(rt, backend, wollet, oracle)
    assert lbtc(wollet) == 75_000 == oracle.balance()[POLICY]

    rt.reorg(1, keep_txs=False)  # both payments vanish with their block
    both(rt, backend, wollet, oracle)
    assert lbtc(wollet) == 0
    rt.chain.broadcast(returning)  # ...and one of them comes back
    rt.mine(1)
    both(rt, backend, wollet, oracle)
    assert lbtc(wollet) == 74_000

    [at_44] = [u for u in wollet.utxos() if u.wildcard_index == 44]
    rt.spend(
        [(at_44.outpoint, at_44.unblinded)],
        foreign_address(),
        70_000 - DEFAULT_FEE,  # all of it: no change output a scan could find
        change_address=oracle.address(3),
    )
    rt.mine(1)
    both(rt, backend, wollet, oracle)
    assert lbtc(wollet) == 4_000 == oracle.balance()[POLICY]


# -- 2. an index once used stays used ---------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_an_address_given_out_is_not_given_out_again_after_an_eviction(
    rt: Regtest, backend: str
) -> None:
    oracle = new_wallet(f"last-unused-{backend}")
    wollet = Wollet(rt.network, oracle.descriptor)
    evicted = rt.faucet(oracle.address(0), 5_000)
    both(rt, backend, wollet, oracle)
    assert wollet.address().index() == 1 == oracle.wollet.address(None).index()

    rt.evict(evicted)
    both(rt, backend, wollet, oracle)
    assert wollet.transactions() == []
    assert wollet.address().index() == 1 == oracle.wollet.address(None).index()
    assert wollet.address().address() == oracle.address(1)

    # and the next payment, to the address given out now, is found
    rt.faucet(wollet.address().address(), 6_000)
    both(rt, backend, wollet, oracle)
    assert lbtc(wollet) == 6_000 == oracle.balance()[POLICY]
    assert wollet.address().index() == 2 == oracle.wollet.address(None).index()


# -- 3. block times follow the block that holds the tx now ------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("depth", [1, 2])
def test_a_tx_confirmed_again_at_its_height_takes_the_new_blocks_time(
    rt: Regtest, backend: str, depth: int
) -> None:
    """The replacement block at the same height has another time: ours follows it (LWK
    keeps the time of the block that is gone)."""
    oracle = new_wallet(f"times-{backend}-{depth}")
    wollet = Wollet(rt.network, oracle.descriptor)
    txid = rt.faucet(oracle.address(0), 8_000)
    rt.mine(depth)
    height = rt.chain.tx_height(txid)
    assert height is not None
    old_time = rt.chain.block_time(height)
    both(rt, backend, wollet, oracle)
    [tx] = wollet.transactions()
    assert (tx.height, tx.timestamp) == (height, old_time)

    rt.reorg(depth, same_heights=True)
    new_time = rt.chain.block_time(height)
    assert rt.chain.tx_height(txid) == height and new_time != old_time
    both(rt, backend, wollet, oracle)
    [tx] = wollet.transactions()
    assert (tx.height, tx.timestamp) == (height, new_time)
    tip = wollet.tip()
    assert tip is not None and tip.timestamp == rt.chain.block_time(rt.chain.tip_height())
    [lwk_tx] = oracle.wollet.transactions()
    assert (lwk_tx.height(), lwk_tx.timestamp()) == (height, old_time)  # LWK's stale time


# -- 4. payments the wallet cannot read are hidden, and not fetched on every scan -------------
def blinded_to_another_key(rt: Regtest, address: str, sats: int) -> str:
    """Pay `address`'s script with the output blinded to another wallet's key."""
    script, _ = decode_address(address, rt.network)
    _, other_key = decode_address(foreign_address(), rt.network)
    assert other_key is not None
    policy = bytes.fromhex(POLICY)[::-1]
    with rt.chain.lock:
        raw = rt._faucet._fund([], [TxOutput(script, policy, sats, other_key)])  # type: ignore[union-attr]
        return rt.chain.broadcast(raw)


def tx_fetches(rt: Regtest, backend: str) -> int:
    if backend == "electrum":
        return rt.electrum_server.requests["blockchain.transaction.get"]
    return rt.esplora_server.requests["GET /tx/:txid/raw"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_payment_blinded_to_another_key_is_hidden_as_lwk_hides_it(
    rt: Regtest, backend: str
) -> None:
    oracle = new_wallet(f"unreadable-{backend}")
    wollet = Wollet(rt.network, oracle.descriptor)
    unreadable = blinded_to_another_key(rt, oracle.address(0), 7_000)
    readable = rt.faucet(oracle.address(1), 3_000)
    both(rt, backend, wollet, oracle)
    lwk_txids = [str(tx.txid()) for tx in oracle.wollet.transactions()]
    assert [tx.txid for tx in wollet.transactions()] == lwk_txids == [readable]
    assert [tx.txid for tx in wollet.hidden_transactions()] == [unreadable]
    assert lbtc(wollet) == 3_000 == oracle.balance()[POLICY]

    before = tx_fetches(rt, backend)
    assert sync(rt, backend, wollet) is None  # nothing changed...
    assert tx_fetches(rt, backend) == before  # ...and nothing was fetched again

    rt.mine(1)  # once it confirms it is fetched again, in case a server had altered it
    sync(rt, backend, wollet)
    assert tx_fetches(rt, backend) == before + 1
    assert [tx.height for tx in wollet.hidden_transactions()] == [rt.chain.tip_height()]


# -- 5. the type of a self-transfer paying its fee in another asset ----------------------------
def test_a_self_transfer_paying_its_fee_in_another_asset_is_a_redeposit(rt: Regtest) -> None:
    """Built by hand (the regtest chain does not check fees); LWK's type is the truth."""
    oracle = new_wallet("fee-asset")
    wollet = Wollet(rt.network, oracle.descriptor)
    _, asset = rt.issue_asset(100_000)
    paid = rt.faucet(oracle.address(0), 5_000, asset)
    rt.mine(1)
    both(rt, "electrum", wollet, oracle)
    outpoint, secrets = oracle.secrets(paid)
    faucet = rt._faucet
    assert faucet is not None
    script, blinding = decode_address(oracle.address(1), rt.network)
    tag = bytes.fromhex(asset)[::-1]
    raw = build_tx(
        [faucet._wallet_input(outpoint, secrets)],
        [TxOutput(script, tag, 4_900, blinding), TxOutput(b"", tag, 100)],
        b"fee in another asset",
    )
    rt.chain.append_block([raw], validate=False)
    txid = Transaction.from_bytes(raw).txid
    both(rt, "electrum", wollet, oracle)
    ours = wollet.transaction(txid)
    [theirs] = [tx for tx in oracle.wollet.transactions() if str(tx.txid()) == txid]
    assert ours is not None
    assert (ours.type, dict(ours.balance)) == (theirs.type(), dict(theirs.balance()))
    assert ours.type == "redeposit"
    assert ours.fee == 0  # only policy-asset fee outputs count (a deliberate difference)


# -- 6 and 7. explicit outputs in txos; LWK's order of utxos and txos -------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_txos_and_utxos_as_lwk_lists_them(rt: Regtest, backend: str) -> None:
    oracle = new_wallet(f"order-{backend}")
    wollet = Wollet(rt.network, oracle.descriptor)
    explicit = rt.faucet(str(lwk.Address(oracle.address(0)).to_unconfidential()), 5_000)
    for index, sats in enumerate([2_000, 9_000, 4_000]):
        rt.faucet(oracle.address(index + 1), sats)
        rt.mine(1)
    rt.faucet(oracle.address(4), 6_000)  # unconfirmed: listed first
    both(rt, backend, wollet, oracle)

    def lwk_outs(outs: list[lwk.WalletTxOut]) -> list[tuple[str, int, int]]:
        return [
            (str(o.outpoint().txid()), o.outpoint().vout(), o.unblinded().value()) for o in outs
        ]

    def our_outs(outs: Sequence[object]) -> list[tuple[str, int, int]]:
        return [(o.outpoint.txid, o.outpoint.vout, o.value) for o in outs]  # type: ignore[attr-defined]

    assert our_outs(wollet.txos()) == lwk_outs(oracle.wollet.txos())
    assert our_outs(wollet.utxos()) == lwk_outs(oracle.wollet.utxos())
    assert [o.value for o in wollet.utxos()] == [9_000, 6_000, 4_000, 2_000]
    [explicit_txo] = [o for o in wollet.txos() if o.outpoint.txid == explicit]
    assert explicit_txo.unblinded.asset_bf == explicit_txo.unblinded.value_bf == "00" * 32
    assert lbtc(wollet) == 21_000 == oracle.balance()[POLICY]  # the explicit 5,000 not counted


# -- 8. single-address descriptors -------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_single_address_wallet_rescans_to_no_update(rt: Regtest, backend: str) -> None:
    descriptor = lwk.WolletDescriptor(_single_address_descriptor())
    oracle = LwkWallet(str(descriptor), lwk.Wollet(lwk.Network.regtest_default(), descriptor, None))
    wollet = Wollet(rt.network, str(descriptor))
    address = wollet.address().address()
    assert address == str(oracle.wollet.address(None).address())
    rt.faucet(address, 12_000)
    rt.mine(1)
    both(rt, backend, wollet, oracle)
    assert lbtc(wollet) == 12_000 == oracle.balance()[POLICY]
    assert sync(rt, backend, wollet) is None
    assert wollet.address().index() == 0
    for index in (0, 1):
        with pytest.raises(DescriptorError):
            wollet.address(index)
        with pytest.raises(lwk.LwkError):  # IndexWithoutWildcard
            oracle.wollet.address(index)


def _single_address_descriptor() -> str:
    """A slip77 + elwpkh descriptor of one public key (no wildcard), keys from LWK."""
    mnemonic = lwk.Mnemonic.from_entropy(b"\x07" * 16)
    signer = lwk.Signer(mnemonic, lwk.Network.regtest_default())
    multi = str(signer.wpkh_slip77_descriptor())
    key = multi[multi.index("elwpkh(") + 7 : multi.index("/<0;1>/*")]
    return multi[: multi.index("elwpkh(")] + f"elwpkh({key}/0/0))"
