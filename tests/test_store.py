"""The wallet store: restart without rescanning, refuse anything torn or foreign, lock, atomicity.

The wallet is the real Liquid testnet fixture (64 transactions, figures computed by LWK 0.19),
synced through the in-process memory:// backend.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.ciphers import aead as aead_module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lwk_memory_backend import MemoryChain, register_chain
from shared_data import load_fixture, unique_name

import lwk_core._store as store_module
from lwk_core import (
    Chain,
    DecodeError,
    FileStore,
    InvalidArgument,
    Network,
    OutPoint,
    StoreCorrupted,
    StoreError,
    StoreLocked,
    TxOutSecrets,
    WolletDescriptor,
    connect,
)
from lwk_core._state import WolletState
from lwk_core._state_codec import decode_state, encode_state
from lwk_core._store import FileWalletStore
from lwk_core._transaction import Transaction
from lwk_core._wollet import Wollet

FIXTURE = load_fixture("liquid-testnet-wallet.json")
NETWORK = Network.LIQUID_TESTNET
DESCRIPTOR = WolletDescriptor(FIXTURE["descriptor"])
OTHER_DESCRIPTOR = WolletDescriptor(
    "ct(elip151,elwpkh([00316183/84h/1h/0h]tpubDCuzMgEfTTjqYxBbfJY36MGp5VoTsj88cydBGTyxi59J7"
    "fNhpoSgEQSac2JJSzJp1FZV6tCZnf1UhoendNZExqfav9J8UNEqRTWjqdDWyTM/<0;1>/*))"
)
HEADER = 8 + 1 + 1 + 12  # magic, format version, cipher, nonce
INTEGRITY = "failed its integrity check; it was not loaded"


def _chain(txids: list[str]) -> str:
    chain = MemoryChain(NETWORK)
    for txid in txids:
        entry = FIXTURE["transactions"][txid]
        chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])
    name = unique_name("store")
    register_chain(name, chain)
    return f"memory://{name}"


def _sync(wollet: Wollet, url: str) -> None:
    update = connect(url, NETWORK).full_scan(wollet)
    assert update is not None
    wollet.apply_update(update)


@pytest.fixture(scope="module")
def full_url() -> str:
    return _chain(FIXTURE["steps"][1]["txids"])


@pytest.fixture(scope="module")
def states(full_url: str) -> tuple[WolletState, WolletState]:
    """The fixture wallet after LWK's step 1 (63 txs) and step 2 (64 txs)."""
    wollet = Wollet(NETWORK, DESCRIPTOR)
    _sync(wollet, _chain(FIXTURE["steps"][0]["txids"]))
    first = wollet.state
    _sync(wollet, full_url)
    return first, wollet.state


@pytest.fixture
def full(states: tuple[WolletState, WolletState]) -> WolletState:
    return states[1]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FileWalletStore]:
    with FileWalletStore(tmp_path, DESCRIPTOR, NETWORK) as opened:
        yield opened


def _view(wollet: Wollet) -> dict[str, Any]:
    return {
        "status": wollet.state.status,
        "tip": wollet.tip(),
        "balance": dict(wollet.balance()),
        "transactions": wollet.transactions(),
        "txos": wollet.txos(),
        "utxos": wollet.utxos(),
        "address": wollet.address().address(),
    }


def _orders(state: WolletState) -> list[list[Any]]:
    maps = (state.txs, state.heights, state.timestamps, state.scripts, state.unblinded)
    return [list(m.items()) for m in (*maps, state.last_unused)]


# -- restart ---------------------------------------------------------------------------------


def test_restart_gives_the_same_wallet_without_rescanning(tmp_path: Path, full_url: str) -> None:
    with Wollet(NETWORK, FIXTURE["descriptor"], datadir=tmp_path) as wollet:
        _sync(wollet, full_url)
        before = _view(wollet)
        state = wollet.state
    expected = FIXTURE["steps"][1]["expected"]
    # No backend is contacted: the figures LWK computed come straight from the disk.
    with Wollet(NETWORK, FIXTURE["descriptor"], datadir=tmp_path) as restarted:
        assert restarted.state == state
        assert _orders(restarted.state) == _orders(state)
        assert _view(restarted) == before
        assert dict(restarted.balance()) == expected["balance"]
        assert len(restarted.transactions()) == expected["tx_count"]
        assert len(restarted.utxos()) == expected["utxo_count"]
        assert len(restarted.txos()) == expected["txo_count"]
        # And the backend agrees that nothing is missing.
        assert connect(full_url, NETWORK).full_scan(restarted) is None


def test_each_apply_is_on_disk_before_it_returns(
    tmp_path: Path, states: tuple[WolletState, WolletState]
) -> None:
    first = states[0]
    with Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path) as wollet:
        _sync(wollet, _chain(FIXTURE["steps"][0]["txids"]))
        assert wollet.state.status == first.status
        wollet.close()  # another store may open the datadir now
        with FileWalletStore(tmp_path, DESCRIPTOR, NETWORK) as reader:
            assert reader.load() == wollet.state


def test_codec_round_trip_is_exact_and_deterministic(full: WolletState) -> None:
    data = encode_state(full)
    decoded = decode_state(data, DESCRIPTOR, NETWORK)
    assert decoded == full
    assert decoded.status == full.status
    assert _orders(decoded) == _orders(full)
    assert encode_state(decoded) == data
    raw_txs = sum(tx.size() for tx in full.txs.values())
    assert len(data) < raw_txs + 200 * (len(full.txs) + len(full.unblinded) + len(full.scripts))


def test_empty_store_and_empty_state(store: FileWalletStore) -> None:
    assert store.load() is None
    empty = WolletState(descriptor=DESCRIPTOR, network=NETWORK)
    store.save(empty)
    loaded = store.load()
    assert loaded == empty and loaded is not None and loaded.tip is None


def test_save_replaces_the_snapshot(
    store: FileWalletStore, states: tuple[WolletState, ...]
) -> None:
    first, full = states
    store.save(full)
    store.save(first)
    assert store.load() == first
    assert sorted(p.name for p in store.path.iterdir()) == ["lock", "state"]


# -- on disk ---------------------------------------------------------------------------------


def test_layout_permissions_and_no_secret_on_disk(
    tmp_path: Path, store: FileWalletStore, full: WolletState
) -> None:
    store.save(full)
    wallet_dir = store.path
    assert wallet_dir.parent == tmp_path / "liquidtestnet"
    assert re.fullmatch("[0-9a-f]{32}", wallet_dir.name)
    assert wallet_dir.stat().st_mode & 0o777 == 0o700
    assert (wallet_dir / "state").stat().st_mode & 0o777 == 0o600
    text = str(DESCRIPTOR)
    blinding_key = text[len("ct(slip77(") : text.index(")")]
    xpub = re.search("tpub[1-9A-HJ-NP-Za-km-z]+", text)
    assert xpub is not None
    secrets = [text, blinding_key, xpub.group(), DESCRIPTOR.wallet_id]
    txid = next(iter(full.txs))
    blob = (wallet_dir / "state").read_bytes()
    for needle in [*secrets, txid]:
        assert needle.encode() not in blob
        assert needle not in str(wallet_dir) and needle not in repr(store)
    assert bytes.fromhex(txid) not in blob and bytes.fromhex(txid)[::-1] not in blob
    assert full.txs[txid].to_bytes()[:64] not in blob  # encrypted, not just encoded


def _reopen(store: FileWalletStore) -> FileWalletStore:
    """A new store of the same wallet (the lock must be free)."""
    return FileWalletStore(store.path.parents[1], store._descriptor, store._network)


def _assert_refused(store: FileWalletStore, blob: bytes, match: str = INTEGRITY) -> None:
    """`store` (then closed) refuses `blob` and leaves it in place, and so does the next."""
    path = store.path / "state"
    path.write_bytes(blob)
    with pytest.raises(StoreCorrupted, match=match):
        store.load()
    assert repr(store).endswith("closed>")
    with pytest.raises(StoreCorrupted, match=match):  # the lock was released: it reopens
        _reopen(store).load()
    assert path.read_bytes() == blob  # left in place, untouched


def test_truncated_file_is_refused_and_kept(store: FileWalletStore, full: WolletState) -> None:
    store.save(full)
    store.close()
    blob = (store.path / "state").read_bytes()
    for cut in [0, 1, 8, HEADER - 1, HEADER, HEADER + 16, len(blob) // 2, len(blob) - 1]:
        _assert_refused(_reopen(store), blob[:cut])


def test_flipped_bytes_are_refused_and_kept(store: FileWalletStore, full: WolletState) -> None:
    store.save(full)
    store.close()
    blob = (store.path / "state").read_bytes()
    positions = [*range(HEADER + 2), len(blob) // 3, len(blob) - 17, len(blob) - 1]
    for pos in positions:
        for mask in (0x01, 0x80, 0xFF):
            flipped = bytearray(blob)
            flipped[pos] ^= mask
            match = "format version" if pos == 8 else INTEGRITY
            _assert_refused(_reopen(store), bytes(flipped), match)
    _assert_refused(_reopen(store), blob + b"\x00")
    (store.path / "state").write_bytes(blob)
    with _reopen(store) as reopened:
        assert reopened.load() == full


def test_file_of_another_wallet_or_network_is_refused(
    tmp_path: Path, store: FileWalletStore, full: WolletState
) -> None:
    store.save(full)
    blob = (store.path / "state").read_bytes()
    with FileWalletStore(tmp_path, OTHER_DESCRIPTOR, NETWORK) as other:
        assert other.path != store.path
        _assert_refused(other, blob)
    with FileWalletStore(tmp_path, DESCRIPTOR, Network.ELEMENTS_REGTEST) as regtest:
        assert regtest.path.name == store.path.name
        _assert_refused(regtest, blob)


def test_authentic_but_undecodable_payload_is_refused(
    store: FileWalletStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(store_module, "encode_state", lambda state: b"\x01\x00garbage")
        store.save(WolletState(descriptor=DESCRIPTOR, network=NETWORK))
    with pytest.raises(StoreCorrupted, match=INTEGRITY) as info:
        store.load()
    assert isinstance(info.value.__cause__, DecodeError)
    assert repr(store).endswith("closed>")


def test_save_refuses_another_wallets_state_and_a_closed_store(
    store: FileWalletStore, full: WolletState
) -> None:
    with pytest.raises(StoreError, match="another wallet"):
        store.save(WolletState(descriptor=OTHER_DESCRIPTOR, network=NETWORK))
    with pytest.raises(StoreError, match="another wallet"):
        store.save(attrs.evolve(full, network=Network.ELEMENTS_REGTEST))
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.load()
    with pytest.raises(StoreError, match="closed"):
        store.save(full)


def test_aes_gcm_fallback(
    tmp_path: Path, full: WolletState, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(key: bytes) -> None:
        raise UnsupportedAlgorithm("no AES-GCM-SIV in this OpenSSL")

    with FileWalletStore(tmp_path, DESCRIPTOR, NETWORK) as siv:
        siv.save(full)
        siv_blob = (siv.path / "state").read_bytes()
    assert siv_blob[9] == 1
    with monkeypatch.context() as patch:
        # _sealing imports its ciphers when it first seals (cryptography is ~8 MB resident)
        patch.setattr(aead_module, "AESGCMSIV", unsupported)
        with FileWalletStore(tmp_path, DESCRIPTOR, NETWORK) as refusing:
            with pytest.raises(StoreError, match="AES-GCM-SIV") as info:
                refusing.load()
            assert not isinstance(info.value, StoreCorrupted)
        with FileWalletStore(tmp_path, DESCRIPTOR, NETWORK) as gcm:  # the refusal closed it
            gcm.save(full)
            first = (gcm.path / "state").read_bytes()
            gcm.save(full)
            second = (gcm.path / "state").read_bytes()
    assert first[9] == second[9] == 2
    assert first[10:HEADER] != second[10:HEADER]  # a fresh random nonce for every save
    with FileWalletStore(tmp_path, DESCRIPTOR, NETWORK) as reader:
        assert reader.load() == full


# -- locking ---------------------------------------------------------------------------------

_OPEN_IN_CHILD = """
import sys
from lwk_core import Network, StoreLocked, WolletDescriptor
from lwk_core._store import FileWalletStore
try:
    FileWalletStore(sys.argv[1], WolletDescriptor(sys.stdin.read()), Network.LIQUID_TESTNET).close()
except StoreLocked:
    print("locked")
else:
    print("opened")
"""


def _open_in_another_process(datadir: Path) -> str:
    # The descriptor goes through stdin: never on a command line other users can read.
    result = subprocess.run(
        [sys.executable, "-c", _OPEN_IN_CHILD, str(datadir)],
        input=FIXTURE["descriptor"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return str(result.stdout).strip()


def test_another_process_is_locked_out(tmp_path: Path) -> None:
    with FileWalletStore(tmp_path, DESCRIPTOR, NETWORK):
        assert _open_in_another_process(tmp_path) == "locked"
        with pytest.raises(StoreLocked, match="in use by another process"):
            FileWalletStore(tmp_path, DESCRIPTOR, NETWORK)
        with pytest.raises(StoreLocked):
            Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path)
        with FileWalletStore(tmp_path, OTHER_DESCRIPTOR, NETWORK):
            pass  # another wallet in the same datadir is independent
    assert _open_in_another_process(tmp_path) == "opened"


def test_unusable_datadir_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot use the wallet datadir"):
        FileWalletStore(tmp_path / "file", DESCRIPTOR, NETWORK)


# -- atomicity -------------------------------------------------------------------------------


class _Crash(BaseException):
    """The process dies here."""


def test_crash_between_temp_write_and_rename_keeps_the_previous_state(
    tmp_path: Path, states: tuple[WolletState, WolletState], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, full = states
    store = FileWalletStore(tmp_path, DESCRIPTOR, NETWORK)
    store.save(first)

    def crash(src: object, dst: object, **dir_fds: object) -> None:
        raise _Crash

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", crash)
        with pytest.raises(_Crash):
            store.save(full)
    temp = store.path / "state.tmp"
    assert temp.stat().st_size > (store.path / "state").stat().st_size  # the new one, written
    store.close()

    with FileWalletStore(tmp_path, DESCRIPTOR, NETWORK) as restarted:
        assert not temp.exists()  # the dead save's leftover is cleared
        assert restarted.load() == first
        restarted.save(full)
        assert restarted.load() == full


def test_failed_save_leaves_the_wollet_unchanged(
    tmp_path: Path, full_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path) as wollet:
        _sync(wollet, _chain(FIXTURE["steps"][0]["txids"]))
        before = wollet.state
        update = connect(full_url, NETWORK).full_scan(wollet)
        assert update is not None

        def disk_full(src: object, dst: object, **dir_fds: object) -> None:
            raise OSError(28, "No space left on device")

        with monkeypatch.context() as patch:
            patch.setattr(os, "replace", disk_full)
            with pytest.raises(StoreError, match="No space left"):
                wollet.apply_update(update)
        assert wollet.state is before
        wollet.apply_update(update)  # the same update applies once the disk is fixed
        after = wollet.state
    with Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path) as restarted:
        assert restarted.state == after


# -- the codec on malformed input ------------------------------------------------------------

_U32 = struct.Struct("<I")


def _payload(
    txs: list[bytes],
    *,
    version: int = 1,
    tip: bytes = b"\x00",
    heights: bytes = b"\x00\x00\x00\x00",
    timestamps: bytes = b"\x00\x00\x00\x00",
    scripts: bytes = b"\x00\x00\x00\x00",
    unblinded: bytes = b"\x00\x00\x00\x00",
    last_unused: bytes = b"\x00\x00\x00\x00",
) -> bytes:
    """A state encoding assembled by hand from the layout in _state_codec's docstring."""
    tx_part = _U32.pack(len(txs)) + b"".join(_U32.pack(len(raw)) + raw for raw in txs)
    return b"".join(
        [bytes([version]), tip, tx_part, heights, timestamps, scripts, unblinded, last_unused]
    )


def _raw_tx(n: int = 0) -> bytes:
    return bytes.fromhex(FIXTURE["transactions"][FIXTURE["steps"][0]["txids"][n]]["hex"])


def _count(n: int, *items: bytes) -> bytes:
    return _U32.pack(n) + b"".join(items)


def test_hand_built_payload_decodes() -> None:
    raw = _raw_tx()
    tx = Transaction.from_bytes(raw)
    secret = _U32.pack(0) + _U32.pack(1) + b"\x11" * 32 + struct.pack("<Q", 5) + b"\x22" * 64
    state = decode_state(
        _payload(
            [raw],
            tip=b"\x01" + _U32.pack(7) + b"\xab" * 32 + struct.pack("<Q", 99) + _count(2, b"hd"),
            heights=_count(1, _U32.pack(0), b"\x01", _U32.pack(7)),
            timestamps=_count(1, struct.pack("<IQ", 7, 99)),
            scripts=_count(1, b"\x01", _U32.pack(4), _count(2, b"\x00\x14")),
            unblinded=_count(1, secret),
            last_unused=_count(1, b"\x00", _U32.pack(3)),
        ),
        DESCRIPTOR,
        NETWORK,
    )
    assert state.tip is not None
    assert (state.tip.height, state.tip.hash, state.tip.timestamp) == (7, "ab" * 32, 99)
    assert state.tip.header == b"hd"
    assert state.txs == {tx.txid: tx} and state.heights == {tx.txid: 7}
    assert state.timestamps == {7: 99}
    assert state.scripts == {b"\x00\x14": (Chain.INTERNAL, 4)}
    assert state.unblinded == {
        OutPoint(tx.txid, 1): TxOutSecrets("11" * 32, 5, "22" * 32, "22" * 32)
    }
    assert state.last_unused == {Chain.EXTERNAL: 3}


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"", "truncated"),
        (_payload([], version=3), "version 3"),
        (_payload([], version=2, tip=b"\x00\x02"), "flag"),  # version 2: genesis after the tip
        (_payload([], version=2, tip=b"\x00\x01" + b"\x11" * 32), "not its network's"),
        (_payload([], tip=b"\x02"), "flag"),
        (_payload([]) + b"\x00", "trailing"),
        (b"\x01\x00" + _U32.pack(1000), "count 1000 exceeds"),
        (_payload([_raw_tx(), _raw_tx()]), "duplicate transaction"),
        (_payload([_raw_tx()[:-1]]), "truncated"),
        (_payload([_raw_tx() + b"\x00"]), "trailing"),
        (_payload([_raw_tx()], heights=_count(1, _U32.pack(1), b"\x00")), "index 1 out of range"),
        (_payload([_raw_tx()], heights=_count(2, _U32.pack(0), b"\x00" + _U32.pack(0) + b"\x00")),
         "duplicate transaction height"),
        (_payload([], timestamps=_count(2, struct.pack("<IQ", 1, 2) * 2)), "duplicate block"),
        (_payload([], scripts=_count(1, b"\x02", _U32.pack(0), _count(0))), "invalid chain 2"),
        (_payload([], scripts=_count(2, (b"\x00" + _U32.pack(0) + _count(0)) * 2)),
         "duplicate script"),
        (_payload([_raw_tx()], unblinded=_count(1, _U32.pack(0) + _U32.pack(999) + bytes(104))),
         "does not exist"),
        (_payload([], last_unused=_count(2, b"\x00" + _U32.pack(1), b"\x00" + _U32.pack(2))),
         "duplicate chain"),
    ],
)  # fmt: skip
def test_malformed_payloads_raise_decode_error(payload: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode_state(payload, DESCRIPTOR, NETWORK)


@pytest.fixture(scope="module")
def small_payload(states: tuple[WolletState, WolletState]) -> bytes:
    first = states[0]
    keep = list(first.heights)[:3]
    small = attrs.evolve(
        first,
        txs={t: first.txs[t] for t in keep},
        heights={t: first.heights[t] for t in keep},
        unblinded={o: s for o, s in first.unblinded.items() if o.txid in keep},
    )
    return encode_state(small)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mangled_payloads_raise_only_decode_error(
    small_payload: bytes, data: st.DataObject
) -> None:
    payload = bytearray(small_payload)
    cut = data.draw(st.integers(0, len(payload)))
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(payload) - 1), st.integers(0, 255))))
    for pos, value in edits:
        payload[pos] = value
    with contextlib.suppress(DecodeError):  # anything else fails the test
        decode_state(bytes(payload[:cut]), DESCRIPTOR, NETWORK)


def test_encoder_refuses_states_it_could_not_restore(full: WolletState) -> None:
    with pytest.raises(ValueError, match="inconsistent"):
        encode_state(attrs.evolve(full, heights={**full.heights, "ab" * 32: 5}))
    outpoint, secrets = next(iter(full.unblinded.items()))
    upper = attrs.evolve(secrets, asset=secrets.asset.upper())
    with pytest.raises(ValueError, match="lowercase hex"):
        encode_state(attrs.evolve(full, unblinded={**full.unblinded, outpoint: upper}))


# -- size and speed --------------------------------------------------------------------------


def _big_state(full: WolletState, count: int) -> WolletState:
    """`count` distinct real-sized transactions: fixture transactions with other versions."""
    txs: dict[str, Transaction] = {}
    heights: dict[str, int | None] = {}
    unblinded: dict[OutPoint, TxOutSecrets] = {}
    version = 2
    while len(txs) < count:
        version += 1
        for txid, tx in full.txs.items():
            clone = Transaction.from_bytes(struct.pack("<i", version) + tx.to_bytes()[4:])
            txs[clone.txid] = clone
            heights[clone.txid] = full.heights[txid]
            for vout in range(len(tx.outputs)):
                if (secrets := full.unblinded.get(OutPoint(txid, vout))) is not None:
                    unblinded[OutPoint(clone.txid, vout)] = secrets
            if len(txs) == count:
                break
    return attrs.evolve(full, txs=txs, heights=heights, unblinded=unblinded)


def _best_ms(action: Any, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best * 1000


@pytest.mark.slow
def test_2000_transactions_save_and_load_fast(tmp_path: Path, full: WolletState) -> None:
    big = _big_state(full, 2000)
    with FileWalletStore(tmp_path, DESCRIPTOR, NETWORK) as store:
        save_ms = _best_ms(lambda: store.save(big))
        load_ms = _best_ms(store.load)
        assert store.load() == big
        size = (store.path / "state").stat().st_size
    with FileWalletStore(tmp_path / "fixture", DESCRIPTOR, NETWORK) as store:
        fixture_ms = [_best_ms(lambda: store.save(full)), _best_ms(store.load)]
    print(
        f"\nfixture ({len(full.txs)} txs): save {fixture_ms[0]:.0f} ms, "
        f"load {fixture_ms[1]:.0f} ms; {len(big.txs)} txs ({size / 1e6:.1f} MB): "
        f"save {save_ms:.0f} ms, load {load_ms:.0f} ms",
        file=sys.stderr,
    )
    assert save_ms < 3000 and load_ms < 3000


def test_datadir_can_be_moved(tmp_path: Path, full: WolletState) -> None:
    with FileWalletStore(tmp_path / "a", DESCRIPTOR, NETWORK) as store:
        store.save(full)
    shutil.move(tmp_path / "a", tmp_path / "b")
    with FileWalletStore(tmp_path / "b", DESCRIPTOR, NETWORK) as moved:
        assert moved.load() == full


def test_datadir_is_the_file_store(tmp_path: Path, full: WolletState) -> None:
    with FileWalletStore(tmp_path, DESCRIPTOR, NETWORK) as store:
        store.save(full)
    with Wollet(NETWORK, DESCRIPTOR, store=FileStore(tmp_path)) as wollet:
        assert wollet.state == full
    with pytest.raises(InvalidArgument, match="a datadir or a store, not both"):
        Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path, store=FileStore(tmp_path))
    with Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path) as wollet:  # the lock was not taken
        assert wollet.state == full
