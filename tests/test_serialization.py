"""Updates and wallet states as bytes: round trips, the encrypted form, and hostile blobs.

Updates are built from the real Liquid testnet transactions and scripts of the shared
fixture (tests/data), and produced by real scans of that wallet on the embedded chain,
whose figures LWK 0.19 computed. A corrupted blob must be a DecodeError: the plain form
carries a SHA-256 checksum, the encrypted one an AEAD tag.
"""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lwk_electrum import ElectrumClient
from lwk_regtest import Regtest
from shared_data import DATA, load_fixture

import lwk_core._records as records
from lwk_core import (
    Chain,
    DecodeError,
    InvalidArgument,
    Network,
    NetworkMismatch,
    OutPoint,
    Tip,
    Transaction,
    TxOutSecrets,
    Update,
    UpdateError,
    Wollet,
    WolletDescriptor,
)

FIXTURE = load_fixture("liquid-testnet-wallet.json")
NETWORK = Network.LIQUID_TESTNET
DESCRIPTOR = WolletDescriptor(FIXTURE["descriptor"])
OTHER_DESCRIPTOR = WolletDescriptor(  # another testnet wallet of the ELIP-150 vectors
    next(
        vector["descriptor"]
        for vector in load_fixture("descriptor-vectors.json")["vectors"]
        if vector["network"] == NETWORK.value and vector["shape"] == "tr-slip77"
    )
)
TXS = [Transaction.from_hex(entry["hex"]) for entry in FIXTURE["transactions"].values()]
SCRIPTS = [
    (bytes.fromhex(entry["script_pubkey"]), chain, entry["index"])
    for chain, name in ((Chain.EXTERNAL, "external"), (Chain.INTERNAL, "internal"))
    for entry in FIXTURE["derivation"][name]
]
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1

# -- strategies: Updates over the fixture's real transactions and scripts --------------------

hashes = st.binary(min_size=32, max_size=32).map(bytes.hex)
heights = st.none() | st.integers(1, U32_MAX)
tips = st.builds(
    Tip,
    height=st.integers(0, U32_MAX),
    hash=hashes,
    timestamp=st.integers(0, U64_MAX),
    header=st.binary(max_size=120),
)
secrets = st.builds(
    TxOutSecrets,
    asset=hashes,
    value=st.integers(0, U64_MAX),
    asset_bf=hashes,
    value_bf=hashes,
)


@st.composite
def updates(draw: st.DrawFn) -> Update:
    txs = draw(st.lists(st.sampled_from(TXS), unique_by=lambda tx: tx.txid, max_size=4))
    # Heights and deletions also name transactions the wallet had before this update.
    txids = st.sampled_from([tx.txid for tx in TXS]) | hashes
    outpoints = st.builds(OutPoint, txid=hashes, vout=st.integers(0, U32_MAX))
    if txs:
        ours = [OutPoint(tx.txid, vout) for tx in txs for vout in range(len(tx.outputs))]
        outpoints = st.sampled_from(ours) | outpoints
    scripts = st.sampled_from(SCRIPTS) | st.tuples(
        st.binary(max_size=40), st.sampled_from(Chain), st.integers(0, U32_MAX)
    )
    return Update(
        wallet_id=DESCRIPTOR.wallet_id,
        base_status=draw(hashes),
        tip=draw(tips),
        new_txs=txs,
        txid_height_new=draw(st.dictionaries(txids, heights, max_size=6)),
        txid_height_delete=draw(st.frozensets(txids, max_size=4)),
        timestamps=draw(st.dictionaries(st.integers(0, U32_MAX), st.integers(0, U64_MAX))),
        scripts={s: (c, i) for s, c, i in draw(st.lists(scripts, max_size=6))},
        unblinded=draw(st.dictionaries(outpoints, secrets, max_size=4)),
        last_unused=draw(st.dictionaries(st.sampled_from(Chain), st.integers(0, U32_MAX))),
        genesis_hash=draw(st.none() | st.just(NETWORK.genesis_hash) | hashes),
    )


def _orders(update: Update) -> list[list[Any]]:
    maps = (update.txid_height_new, update.timestamps, update.scripts, update.unblinded)
    return [list(m.items()) for m in (*maps, update.last_unused)]


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- round trips -----------------------------------------------------------------------------


@PROPERTY
@given(updates())
def test_an_update_round_trips_exactly(update: Update) -> None:
    data = update.serialize()
    decoded = Update.deserialize(data)
    assert decoded == update
    assert hash(decoded) == hash(update)
    assert decoded.new_txs == update.new_txs  # the same transactions, in the same order
    assert _orders(decoded) == _orders(update)
    assert decoded.serialize() == data  # one update, one encoding


@PROPERTY
@given(updates())
def test_an_encrypted_update_round_trips(update: Update) -> None:
    sealed = update.serialize_encrypted(DESCRIPTOR)
    assert Update.deserialize_decrypted(sealed, DESCRIPTOR) == update
    assert Update.deserialize_decrypted(sealed, str(DESCRIPTOR)) == update
    assert update.serialize_encrypted(DESCRIPTOR) != sealed  # a fresh nonce each time


# -- equality --------------------------------------------------------------------------------

_BASE = Update(
    wallet_id=DESCRIPTOR.wallet_id,
    base_status="00" * 32,
    tip=Tip(100, "11" * 32, 1_700_000_000, b"header"),
    new_txs=TXS[:2],
    txid_height_new={TXS[0].txid: 90, TXS[1].txid: None},
    txid_height_delete={TXS[2].txid},
    timestamps={90: 1_699_999_000},
    # the unblinded output must pay one of the wallet's scripts (apply_update checks it)
    scripts={
        SCRIPTS[0][0]: (Chain.EXTERNAL, 0),
        TXS[0].outputs[0].script_pubkey: (Chain.EXTERNAL, 1),
    },
    unblinded={OutPoint(TXS[0].txid, 0): TxOutSecrets("22" * 32, 5, "33" * 32, "44" * 32)},
    last_unused={Chain.EXTERNAL: 1},
    genesis_hash=NETWORK.genesis_hash,
)


@pytest.mark.parametrize(
    "change",
    [
        {"tip": Tip(101, "11" * 32, 1_700_000_000, b"header")},  # another tip height
        {"tip": Tip(100, "11" * 32, 1_700_000_000, b"other")},
        {"txid_height_new": {TXS[0].txid: 91, TXS[1].txid: None}},  # another tx height
        {"txid_height_new": {TXS[0].txid: 90, TXS[1].txid: 90}},
        {"new_txs": TXS[1::-1]},
        {"new_txs": TXS[:1]},
        {"txid_height_delete": set()},
        {"timestamps": {90: 1_699_999_001}},
        {"scripts": {SCRIPTS[0][0]: (Chain.INTERNAL, 0)}},
        {"unblinded": {OutPoint(TXS[0].txid, 0): TxOutSecrets("22" * 32, 6, "33" * 32, "44" * 32)}},
        {"last_unused": {Chain.EXTERNAL: 2}},
        {"base_status": "01" * 32},
        {"wallet_id": OTHER_DESCRIPTOR.wallet_id},
        {"genesis_hash": None},
    ],
)
def test_updates_that_differ_in_any_field_are_not_equal(change: dict[str, Any]) -> None:
    other = attrs.evolve(_BASE, **change)
    assert other != _BASE
    assert Update.deserialize(other.serialize()) != _BASE


def test_script_positions_are_shared_between_updates_and_kept_as_given() -> None:
    # Every wallet's update names positions (chain, index) from 0 up: one tuple per position
    # is kept for all of them (fewer objects for the garbage collector), equal to the given.
    first = Update.deserialize(_BASE.serialize())
    again = attrs.evolve(_BASE, scripts={b"\x00\x14" + bytes(20): (Chain.EXTERNAL, 1)})
    assert first.scripts == _BASE.scripts
    assert again.scripts[b"\x00\x14" + bytes(20)] is first.scripts[TXS[0].outputs[0].script_pubkey]
    far = (Chain.INTERNAL, 10**6)
    assert attrs.evolve(_BASE, scripts={b"s": far}).scripts[b"s"] == far


def test_equal_updates_are_equal_and_hash_alike() -> None:
    # The same contents built another way: other mapping types and orders, a list of txs.
    twin = Update(
        wallet_id=_BASE.wallet_id,
        base_status=_BASE.base_status,
        tip=Tip(100, "11" * 32, 1_700_000_000, b"header"),
        new_txs=list(TXS[:2]),
        txid_height_new={TXS[1].txid: None, TXS[0].txid: 90},
        txid_height_delete=[TXS[2].txid],
        timestamps=dict(_BASE.timestamps),
        scripts=dict(_BASE.scripts),
        unblinded=dict(_BASE.unblinded),
        last_unused=dict(_BASE.last_unused),
        genesis_hash=_BASE.genesis_hash,
    )
    assert twin == _BASE
    assert hash(twin) == hash(_BASE)
    assert len({twin, _BASE, attrs.evolve(_BASE, tip=Tip(101, "11" * 32, 0))}) == 2


# -- hostile and damaged blobs ---------------------------------------------------------------


@PROPERTY
@given(updates(), st.data())
def test_truncated_blobs_are_decode_errors(update: Update, data: st.DataObject) -> None:
    plain = update.serialize()
    sealed = update.serialize_encrypted(DESCRIPTOR)
    cut = data.draw(st.integers(0, len(plain) - 1))
    with pytest.raises(DecodeError):
        Update.deserialize(plain[:cut])
    cut = data.draw(st.integers(0, len(sealed) - 1))
    with pytest.raises(DecodeError):
        Update.deserialize_decrypted(sealed[:cut], DESCRIPTOR)


@PROPERTY
@given(updates(), st.data())
def test_a_flipped_bit_anywhere_is_a_decode_error(update: Update, data: st.DataObject) -> None:
    for blob, decode in (
        (update.serialize(), Update.deserialize),
        (
            update.serialize_encrypted(DESCRIPTOR),
            lambda b: Update.deserialize_decrypted(b, DESCRIPTOR),
        ),
    ):
        position = data.draw(st.integers(0, len(blob) * 8 - 1))
        flipped = bytearray(blob)
        flipped[position // 8] ^= 1 << (position % 8)
        with pytest.raises(DecodeError):
            decode(bytes(flipped))


def _envelope(version: int, records_: bytes, magic: bytes = b"LWKUPDAT") -> bytes:
    """A plain blob built by hand, with a valid checksum (sha256 of all before it)."""
    head = magic + bytes([version]) + records_
    return head + hashlib.sha256(head).digest()


_TIP_AND_IDS = bytes(32) + bytes(32) + bytes(4) + bytes(32) + bytes(8) + bytes(4)
_HEAD = _TIP_AND_IDS + b"\x00" + bytes(4)
"""Wallet id, base status, a tip with an empty header, no genesis, no deletion: what
precedes new_txs."""


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        (b"", "not a serialized Update"),
        (b"LWKUPENC\x01" + bytes(60), "an encrypted one"),
        (b"LWKWSTAT\x01" + bytes(60), "not a serialized Update"),  # a wallet state
        (_envelope(2, b""), "format version 2; this lwk-core reads 1"),
        (_envelope(0, b""), "format version 0"),
        (_envelope(1, b""), "truncated"),
        (_envelope(1, _HEAD + (2**32 - 1).to_bytes(4, "little")), "count 4294967295 exceeds"),
        (_envelope(1, _HEAD + bytes(4 * 6) + b"\x00"), "trailing"),
        (_envelope(1, _TIP_AND_IDS + b"\x02"), "invalid flag"),
        (_envelope(1, _HEAD + (1).to_bytes(4, "little") + (2**31).to_bytes(4, "little")),
         "truncated"),
    ],
)  # fmt: skip
def test_malformed_update_blobs_are_decode_errors(blob: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        Update.deserialize(blob)


def test_a_lying_count_allocates_nothing_in_proportion() -> None:
    """A blob claiming 2**32-1 records (or a 2 GiB transaction) is refused from the bytes
    it really has, before anything of the claimed size is allocated."""
    lies = [
        _envelope(1, _HEAD + (2**32 - 1).to_bytes(4, "little") + bytes(1000)),
        _envelope(1, _HEAD + (1).to_bytes(4, "little") + (2**31).to_bytes(4, "little")),
    ]
    for blob in lies:
        tracemalloc.start()
        try:
            with pytest.raises(DecodeError):
                Update.deserialize(blob)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1_000_000  # what was claimed: 16 GiB of records, a 2 GiB transaction


def test_oversized_blobs_are_refused_before_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    blob = _BASE.serialize()
    sealed = _BASE.serialize_encrypted(DESCRIPTOR)
    monkeypatch.setattr(records, "MAX_ENCODED_SIZE", len(blob) - 1)
    with pytest.raises(DecodeError, match=r"over the \d+ byte limit"):
        Update.deserialize(blob)
    monkeypatch.setattr(records, "MAX_ENCODED_SIZE", len(sealed) - 1)
    with pytest.raises(DecodeError, match=r"over the \d+ byte limit"):
        Update.deserialize_decrypted(sealed, DESCRIPTOR)
    monkeypatch.setattr(records, "MAX_ENCODED_SIZE", len(sealed))
    assert Update.deserialize_decrypted(sealed, DESCRIPTOR) == _BASE


def test_only_bytes_are_deserialized() -> None:
    assert Update.deserialize(bytearray(_BASE.serialize())) == _BASE
    assert Update.deserialize(memoryview(_BASE.serialize())) == _BASE
    for wrong in (_BASE.serialize().hex(), 10**12, None):
        with pytest.raises(InvalidArgument, match="is bytes"):
            Update.deserialize(wrong)  # type: ignore[arg-type]


def test_an_update_that_cannot_be_encoded_is_an_invalid_argument() -> None:
    for change in (
        {"base_status": "not a hash"},
        {"txid_height_new": {TXS[0].txid: -1}},
        {"tip": Tip(2**32, "11" * 32, 0)},
        {"new_txs": [TXS[0], TXS[0]]},
    ):
        with pytest.raises(InvalidArgument, match="cannot serialize this Update"):
            attrs.evolve(_BASE, **change).serialize()


def test_the_encrypted_form_hides_the_wallet_and_needs_its_descriptor() -> None:
    sealed = _BASE.serialize_encrypted(DESCRIPTOR)
    plain = _BASE.serialize()
    secrets_ = [
        *(bytes.fromhex(tx.txid) for tx in TXS[:3]),
        *(bytes.fromhex(tx.txid)[::-1] for tx in TXS[:3]),
        *(tx.txid.encode() for tx in TXS[:3]),
        TXS[0].to_bytes()[:64],
        bytes.fromhex(DESCRIPTOR.wallet_id),
        str(DESCRIPTOR).encode(),
        SCRIPTS[0][0],
    ]
    assert sum(secret in plain for secret in secrets_) >= 5  # the check can fail
    assert not [secret for secret in secrets_ if secret in sealed]
    with pytest.raises(DecodeError, match="does not open with this descriptor"):
        Update.deserialize_decrypted(sealed, OTHER_DESCRIPTOR)
    with pytest.raises(DecodeError, match="not an encrypted Update"):
        Update.deserialize_decrypted(plain, DESCRIPTOR)
    with pytest.raises(UpdateError, match="another wallet"):
        _BASE.serialize_encrypted(OTHER_DESCRIPTOR)
    newer = sealed[:8] + b"\x02" + sealed[9:]
    with pytest.raises(DecodeError, match="format version 2; this lwk-core reads 1"):
        Update.deserialize_decrypted(newer, DESCRIPTOR)


def _small_wallet() -> Wollet:
    wollet = Wollet(NETWORK, DESCRIPTOR)
    wollet.apply_update(attrs.evolve(_BASE, base_status=wollet.state.status))
    return wollet


@PROPERTY
@given(st.data())
def test_a_damaged_wallet_state_is_refused_and_changes_nothing(data: st.DataObject) -> None:
    source = _small_wallet()
    target = _small_wallet()
    target.restore_state(source.serialize_state())  # the undamaged blob restores
    before = target.serialize_state()
    for encrypted in (False, True):
        blob = source.serialize_state(encrypted=encrypted)
        cut = data.draw(st.integers(0, len(blob) - 1))
        position = data.draw(st.integers(0, len(blob) * 8 - 1))
        flipped = bytearray(blob)
        flipped[position // 8] ^= 1 << (position % 8)
        for damaged in (blob[:cut], bytes(flipped)):
            with pytest.raises(DecodeError):
                target.restore_state(damaged, encrypted=encrypted)
    assert target.serialize_state() == before


# -- real scans on the embedded chain --------------------------------------------------------


def _view(wollet: Wollet) -> dict[str, Any]:
    return {
        "state": wollet.state,
        "status": wollet.state.status,
        "tip": wollet.tip(),
        "balance": dict(wollet.balance()),
        "transactions": wollet.transactions(),
        "txos": wollet.txos(),
        "utxos": wollet.utxos(),
        "address": wollet.address().address(),
    }


def _expected(wollet: Wollet, step: int) -> None:
    expected = FIXTURE["steps"][step]["expected"]
    assert dict(wollet.balance()) == expected["balance"]
    assert len(wollet.transactions()) == expected["tx_count"]
    assert len(wollet.utxos()) == expected["utxo_count"]
    assert [t.txid for t in wollet.transactions()] == FIXTURE["steps"][step]["txids"]


@pytest.fixture(scope="module")
def chain() -> Iterator[Regtest]:
    with Regtest.from_fixture(DATA / "liquid-testnet-wallet.json", step=0) as rt:
        yield rt


def test_updates_of_real_scans_round_trip_and_apply_alike(chain: Regtest) -> None:
    """The first scan, the one after the 64th transaction, and one after a new block:
    each deserialized (plain and decrypted) gives the wallet the original gives."""
    original, plain, decrypted = (Wollet(NETWORK, DESCRIPTOR) for _ in range(3))
    with ElectrumClient.from_url(chain.electrum_url) as client:
        for step, grow in ((0, None), (1, lambda: chain.extend_fixture(1)), (1, chain.mine)):
            if grow is not None:
                grow()
            update = client.full_scan(original)
            assert update is not None
            assert update.genesis_hash == NETWORK.genesis_hash
            copy = Update.deserialize(update.serialize())
            opened = Update.deserialize_decrypted(
                update.serialize_encrypted(DESCRIPTOR), DESCRIPTOR
            )
            assert copy == update and opened == update
            original.apply_update(update)
            plain.apply_update(copy)
            decrypted.apply_update(opened)
            _expected(original, step)
            assert _view(plain) == _view(original)
            assert _view(decrypted) == _view(original)
        assert client.full_scan(plain) is None  # nothing is missing from the copies


def test_a_wallet_state_round_trips_and_restores(chain: Regtest, tmp_path: Path) -> None:
    synced = Wollet(NETWORK, DESCRIPTOR)
    with ElectrumClient.from_url(chain.electrum_url) as client:
        update = client.full_scan(synced)
        assert update is not None
        synced.apply_update(update)
    for encrypted in (False, True):
        blob = synced.serialize_state(encrypted=encrypted)
        with Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path / str(encrypted)) as restored:
            restored.restore_state(blob, encrypted=encrypted)
            assert _view(restored) == _view(synced)
        # restored into the datadir: a restart has it without any backend
        with Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path / str(encrypted)) as restarted:
            assert _view(restarted) == _view(synced)
            assert restarted.serialize_state() == synced.serialize_state()


def test_a_wallet_state_blob_is_refused_unless_it_is_this_wallets(chain: Regtest) -> None:
    synced = Wollet(NETWORK, DESCRIPTOR)
    with ElectrumClient.from_url(chain.electrum_url) as client:
        update = client.full_scan(synced)
        assert update is not None
        synced.apply_update(update)
    plain = synced.serialize_state()
    sealed = synced.serialize_state(encrypted=True)
    assert bytes.fromhex(TXS[0].txid)[::-1] in plain or bytes.fromhex(TXS[0].txid) in plain
    for tx in synced.state.txs.values():
        assert bytes.fromhex(tx.txid) not in sealed and tx.to_bytes()[:64] not in sealed
    assert str(DESCRIPTOR).encode() not in plain + sealed

    target = Wollet(NETWORK, DESCRIPTOR)
    before = _view(target)
    flipped = bytearray(plain)
    flipped[len(plain) // 2] ^= 0x10
    refusals = [
        (plain[:-1], False, "truncated or altered"),
        (bytes(flipped), False, "truncated or altered"),
        (sealed, False, "an encrypted one"),
        (plain, True, "not an encrypted wallet state"),
        (sealed[:-1], True, "does not open"),
        (Wollet(NETWORK, OTHER_DESCRIPTOR).serialize_state(), False, "another wallet"),
        (Wollet(NETWORK, OTHER_DESCRIPTOR).serialize_state(encrypted=True), True, "does not open"),
        (_BASE.serialize(), False, "not a serialized wallet state"),
    ]
    for blob, encrypted, match in refusals:
        with pytest.raises(DecodeError, match=match):
            target.restore_state(blob, encrypted=encrypted)
        assert _view(target) == before  # a refused restore changes nothing

    regtest = Wollet(Network.ELEMENTS_REGTEST, DESCRIPTOR)
    with pytest.raises(DecodeError, match=f"not of a {Network.ELEMENTS_REGTEST.value} wallet"):
        regtest.restore_state(plain)


def test_a_restored_state_keeps_the_chain_a_regtest_wallet_is_pinned_to() -> None:
    pinned = Wollet(Network.ELEMENTS_REGTEST, DESCRIPTOR, genesis_hash="aa" * 32)
    other_chain = Wollet(Network.ELEMENTS_REGTEST, DESCRIPTOR, genesis_hash="bb" * 32)
    with pytest.raises(
        NetworkMismatch, match=r"state follows the chain with genesis b+; this wallet follows a+"
    ):
        pinned.restore_state(other_chain.serialize_state())
    unpinned = Wollet(Network.ELEMENTS_REGTEST, DESCRIPTOR)
    pinned.restore_state(unpinned.serialize_state())
    assert pinned.genesis_hash == "aa" * 32
    unpinned.restore_state(other_chain.serialize_state())  # a wallet not pinned yet takes it
    assert unpinned.genesis_hash == "bb" * 32
