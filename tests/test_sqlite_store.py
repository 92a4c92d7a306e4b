"""The SQLite store: many wallets in one database, saves that write only what changed,
migration to and from the file store, locking, and refusal of anything torn or tampered.

The wallet is the real Liquid testnet fixture (64 transactions, figures computed by LWK 0.19),
synced through the in-process memory:// backend in LWK's two steps (63 then 64 txs).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from crash_child import TXIDS, chain_of, served
from lwk_memory_backend import MemoryChain, MemoryClient, register_chain
from lwk_regtest.testing import new_wallet_descriptor
from shared_data import load_fixture, unique_name
from stores import DATABASE

import lwk_core._sqlite_store as sqlite_store
from lwk_core import (
    FileStore,
    Network,
    SqliteStore,
    Store,
    StoreCorrupted,
    StoreError,
    StoreLocked,
    Update,
    Wollet,
    WolletDescriptor,
    connect,
    migrate_wallet,
)
from lwk_core._sqlite_store import Synchronous
from lwk_core._state import WolletState
from lwk_core._state_rows import changed_items, state_items
from lwk_core._transaction import Transaction

FIXTURE = load_fixture("liquid-testnet-wallet.json")
NETWORK = Network.LIQUID_TESTNET
DESCRIPTOR = WolletDescriptor(FIXTURE["descriptor"])
INTEGRITY = "failed its integrity check"


def _url(txids: list[str]) -> str:
    chain = MemoryChain(NETWORK)
    for txid in txids:
        entry = FIXTURE["transactions"][txid]
        chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])
    name = unique_name("sqlite")
    register_chain(name, chain)
    return f"memory://{name}"


def _scan(wollet: Wollet, step: int) -> Update:
    update = connect(_url(FIXTURE["steps"][step]["txids"]), NETWORK).full_scan(wollet)
    assert update is not None
    return update


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / DATABASE) as opened:
        yield opened


def _synced(store: Store) -> WolletState:
    """The fixture wallet synced through both steps into `store`; its final state."""
    with Wollet(NETWORK, DESCRIPTOR, store=store) as wollet:
        wollet.apply_update(_scan(wollet, 0))
        wollet.apply_update(_scan(wollet, 1))
        return wollet.state


def _rows(path: Path) -> list[tuple[int, str, bytes, bytes]]:
    """The database's rows, read with a connection of its own (the store must be closed)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT id, wallet, name, sealed FROM wallet_items").fetchall()
    finally:
        conn.close()


def _execute(path: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql, args)
    conn.close()


# -- what a save writes ----------------------------------------------------------------------


def test_a_save_writes_only_what_the_update_changed(db: SqliteStore) -> None:
    with Wollet(NETWORK, DESCRIPTOR, store=db) as wollet:
        first = _scan(wollet, 0)
        wollet.apply_update(first)
        before = wollet.state
        update = _scan(wollet, 1)
        conn = db._conn
        assert conn is not None
        changes = conn.total_changes
        wollet.apply_update(update)
        written = conn.total_changes - changes
    # From the update alone: each new tx, each height new or changed, each block time new or
    # changed, each new script and unblinded output is one row; and the head.
    heights = {t: h for t, h in update.txid_height_new.items() if before.heights.get(t, -1) != h}
    times = {h: t for h, t in update.timestamps.items() if before.timestamps.get(h) != t}
    expected = (
        len(update.new_txs)
        + len(heights)
        + len(update.txid_height_delete)
        + len(times)
        + len(update.scripts)
        + len(update.unblinded)
        + 1
    )
    assert 1 < expected < 10  # one new transaction: a handful of rows...
    assert written == expected  # ...out of hundreds
    assert len(_rows_of(db)) > 300


def _rows_of(db: SqliteStore) -> list[tuple[bytes, bytes]]:
    with db.open(DESCRIPTOR, NETWORK) as store:
        return db._rows(store._wallet)


def test_diffs_match_whole_states_through_growth_and_shrinking() -> None:
    """What a save writes and deletes (changed_items) is exactly the difference between the
    two states' whole item sets, through the crash test's history: growing by 3 txs a step,
    then falling back to 3 (deletions, a block time changing). Both ways: from the update
    that made the new state, and by comparing the states (a copy of the old one, which the
    new one was not made from)."""
    client = connect("memory://diff-history", NETWORK)
    wollet = Wollet(NETWORK, DESCRIPTOR)
    cycle = -(-len(TXIDS) // 3) + 3
    for step in range(cycle):
        register_chain("diff-history", chain_of(served(step)))
        update = client.full_scan(wollet)
        if update is None:
            continue
        old = wollet.state
        wollet.apply_update(update)
        assert wollet.state.made_from(old) == update
        assert wollet.state.made_from(attrs.evolve(old)) is None
        old_items, new_items = set(state_items(old)), set(state_items(wollet.state))
        for base in (old, attrs.evolve(old)):
            added, removed = changed_items(base, wollet.state)
            assert set(added) == new_items - old_items
            assert set(removed) == old_items - new_items
            assert len(added) == len(set(added)) and len(removed) == len(set(removed))
    assert len(wollet.state.heights) == 6  # it did fall back


def test_restart_loads_the_same_state_in_the_same_order(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / DATABASE) as db:
        state = _synced(db)
    expected = FIXTURE["steps"][1]["expected"]
    with SqliteStore(tmp_path / DATABASE) as db, Wollet(NETWORK, DESCRIPTOR, store=db) as w:
        assert w.state == state
        for part in ("txs", "heights", "timestamps", "scripts", "unblinded", "last_unused"):
            assert list(getattr(w.state, part).items()) == list(getattr(state, part).items())
        assert dict(w.balance()) == expected["balance"]
        assert len(w.transactions()) == expected["tx_count"]
        assert len(w.utxos()) == expected["utxo_count"]


def test_many_wallets_in_one_database(tmp_path: Path) -> None:
    regtest = [WolletDescriptor(new_wallet_descriptor(bytes([n]) * 4)) for n in range(3)]
    with SqliteStore(tmp_path / DATABASE) as db:
        full = _synced(db)
        for n, descriptor in enumerate(regtest):
            with db.open(descriptor, Network.ELEMENTS_REGTEST) as store:
                assert store.load() is None
                tip_state = WolletState(descriptor=descriptor, network=Network.ELEMENTS_REGTEST)
                store.save(attrs.evolve(tip_state, last_unused={}, timestamps={n + 1: n}))
        db.remove(regtest[1], Network.ELEMENTS_REGTEST)
    with SqliteStore(tmp_path / DATABASE) as db:
        with db.open(DESCRIPTOR, NETWORK) as store:
            assert store.load() == full
        for n, descriptor in enumerate(regtest):
            with db.open(descriptor, Network.ELEMENTS_REGTEST) as store:
                loaded = store.load()
                assert (loaded.timestamps if loaded else None) == (None if n == 1 else {n + 1: n})
    assert len({wallet for _, wallet, _, _ in _rows(tmp_path / DATABASE)}) == 3


# -- migration -------------------------------------------------------------------------------


def test_migrate_file_to_sqlite_and_back(tmp_path: Path) -> None:
    files, other_files = FileStore(tmp_path / "files"), FileStore(tmp_path / "back")
    state = _synced(files)
    with SqliteStore(tmp_path / DATABASE) as db:
        assert migrate_wallet(DESCRIPTOR, NETWORK, source=files, target=db) == state
        with Wollet(NETWORK, DESCRIPTOR, store=db) as wollet:
            assert wollet.state == state
            assert dict(wollet.balance()) == FIXTURE["steps"][1]["expected"]["balance"]
        with pytest.raises(StoreError, match="already holds"):  # never overwritten
            migrate_wallet(DESCRIPTOR, NETWORK, source=files, target=db)
        assert migrate_wallet(DESCRIPTOR, NETWORK, source=db, target=other_files) == state
        with pytest.raises(StoreError, match="holds no state"):
            migrate_wallet(DESCRIPTOR, Network.ELEMENTS_REGTEST, source=db, target=files)
    with (
        Wollet(NETWORK, DESCRIPTOR, store=other_files) as back,
        Wollet(NETWORK, DESCRIPTOR, store=files) as source,
    ):
        assert back.state == state == source.state  # the source keeps its copy
        assert [list(m.items()) for m in (back.state.txs, back.state.unblinded)] == [
            list(m.items()) for m in (state.txs, state.unblinded)
        ]


def test_a_migrated_wallet_keeps_saving_by_difference(tmp_path: Path) -> None:
    files = FileStore(tmp_path / "files")
    with Wollet(NETWORK, DESCRIPTOR, store=files) as wollet:
        wollet.apply_update(_scan(wollet, 0))
    with SqliteStore(tmp_path / DATABASE) as db:
        migrate_wallet(DESCRIPTOR, NETWORK, source=files, target=db)
        with Wollet(NETWORK, DESCRIPTOR, store=db) as wollet:
            wollet.apply_update(_scan(wollet, 1))
            state = wollet.state
    with SqliteStore(tmp_path / DATABASE) as db, Wollet(NETWORK, DESCRIPTOR, store=db) as w:
        assert w.state == state


# -- locking ---------------------------------------------------------------------------------

_OPEN_IN_CHILD = """
import sys
from lwk_core import StoreLocked, SqliteStore
try:
    SqliteStore(sys.argv[1]).close()
except StoreLocked as e:
    print("locked:", e)
else:
    print("opened")
"""


def _open_in_another_process(path: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", _OPEN_IN_CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return str(result.stdout).strip()


def test_the_database_and_each_wallet_have_one_holder(tmp_path: Path) -> None:
    path = tmp_path / DATABASE
    with SqliteStore(path) as db:
        assert _open_in_another_process(path).startswith("locked: the wallet database is in use")
        with pytest.raises(StoreLocked, match="in use by another process or store"):
            SqliteStore(path)
        with Wollet(NETWORK, DESCRIPTOR, store=db):
            with pytest.raises(StoreLocked, match="in use by another Wollet"):
                Wollet(NETWORK, DESCRIPTOR, store=db)
            with pytest.raises(StoreLocked, match="open in this store"):
                db.remove(DESCRIPTOR, NETWORK)
            # the same wallet in another store is another lock
            Wollet(NETWORK, DESCRIPTOR, store=FileStore(tmp_path / "files")).close()
        with Wollet(NETWORK, DESCRIPTOR, store=db):  # released by close
            pass
    assert _open_in_another_process(path) == "opened"
    with pytest.raises(StoreError, match="closed"):
        db.open(DESCRIPTOR, NETWORK)


# -- refused -------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, WolletState]:
    """A closed database (everything checkpointed into its file) of the synced fixture."""
    with SqliteStore(tmp_path / DATABASE) as db:
        state = _synced(db)
    assert not (tmp_path / (DATABASE + "-wal")).exists()
    return tmp_path / DATABASE, state


def _assert_refused_then_removable(path: Path, state: WolletState) -> None:
    """The wallet is refused (StoreCorrupted, never a partial state); `remove` clears it for
    a rescan, which other wallets would survive."""
    with SqliteStore(path) as db:
        with pytest.raises(StoreCorrupted, match=INTEGRITY):
            Wollet(NETWORK, DESCRIPTOR, store=db)
        with pytest.raises(StoreCorrupted, match=INTEGRITY):  # the refusal released it
            Wollet(NETWORK, DESCRIPTOR, store=db)
        db.remove(DESCRIPTOR, NETWORK)
        with Wollet(NETWORK, DESCRIPTOR, store=db) as rescanned:
            assert rescanned.state.heights == {}
            rescanned.apply_update(_scan(rescanned, 1))
            assert rescanned.state.heights == state.heights


def _pick(path: Path, kind_size: int) -> tuple[int, bytes]:
    """(id, sealed) of a row whose sealed value has about `kind_size` bytes (a tx is large)."""
    rows = sorted(_rows(path), key=lambda row: abs(len(row[3]) - kind_size))
    return rows[0][0], rows[0][3]


def test_a_deleted_row_is_refused(saved: tuple[Path, WolletState]) -> None:
    path, state = saved
    row_id, _ = _pick(path, 5000)  # a transaction
    _execute(path, "DELETE FROM wallet_items WHERE id = ?", row_id)
    _assert_refused_then_removable(path, state)


def test_the_head_replayed_from_an_older_save_is_refused(tmp_path: Path) -> None:
    """Rolling the head back to the one of an older save (its tip, its item count and sum)
    while the newer items are there is refused."""
    path = tmp_path / DATABASE
    with SqliteStore(path) as db, Wollet(NETWORK, DESCRIPTOR, store=db) as wollet:
        wollet.apply_update(_scan(wollet, 0))
        head_name = wollet._store._head_name  # type: ignore[union-attr]
    (old_head,) = [sealed for _, _, name, sealed in _rows(path) if name == head_name]
    with SqliteStore(path) as db:
        state = _synced_from(db)
    _execute(path, "UPDATE wallet_items SET sealed = ? WHERE name = ?", old_head, head_name)
    _assert_refused_then_removable(path, state)


def test_a_row_of_another_save_of_the_same_item_is_refused(
    saved: tuple[Path, WolletState], tmp_path: Path
) -> None:
    """The same wallet saved again elsewhere has the same rows, each sealed afresh: one of
    those authentic rows, of the very same item, in place of this database's is refused
    (each row's nonce and tag are in the keyed sum, not only its content)."""
    path, state = saved
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    with SqliteStore(other / DATABASE) as db:
        assert _synced(db) == state
    row_id, sealed = _pick(path, 5000)  # a transaction
    ((name,),) = [(n,) for i, _, n, _ in _rows(path) if i == row_id]
    (resealed,) = [s for _, _, n, s in _rows(other / DATABASE) if n == name]
    assert resealed != sealed
    _execute(path, "UPDATE wallet_items SET sealed = ? WHERE id = ?", resealed, row_id)
    _assert_refused_then_removable(path, state)


def _synced_from(db: SqliteStore) -> WolletState:
    with Wollet(NETWORK, DESCRIPTOR, store=db) as wollet:
        wollet.apply_update(_scan(wollet, 1))
        return wollet.state


@pytest.mark.parametrize("where", ["nonce", "middle", "tag"])
def test_a_flipped_bit_in_a_row_is_refused(saved: tuple[Path, WolletState], where: str) -> None:
    path, state = saved
    row_id, sealed = _pick(path, 5000)
    pos = {"nonce": 3, "middle": len(sealed) // 2, "tag": len(sealed) - 1}[where]
    flipped = bytearray(sealed)
    flipped[pos] ^= 0x01
    _execute(path, "UPDATE wallet_items SET sealed = ? WHERE id = ?", bytes(flipped), row_id)
    _assert_refused_then_removable(path, state)


def test_a_row_moved_to_another_name_or_wallet_is_refused(
    saved: tuple[Path, WolletState],
) -> None:
    path, state = saved
    rows = _rows(path)
    a_id, b_sealed = rows[5][0], rows[6][3]
    _execute(path, "UPDATE wallet_items SET sealed = ? WHERE id = ?", b_sealed, a_id)
    _assert_refused_then_removable(path, state)
    other = WolletDescriptor(new_wallet_descriptor(b"other"))
    with SqliteStore(path) as db, db.open(other, Network.ELEMENTS_REGTEST) as theirs:
        theirs.save(WolletState(descriptor=other, network=Network.ELEMENTS_REGTEST))
    _execute(path, "UPDATE wallet_items SET wallet = ? WHERE wallet LIKE 'liquidtestnet/%'",
             f"elementsregtest/{_name_of(path, 'elementsregtest')}")  # fmt: skip
    with SqliteStore(path) as db:
        theirs = db.open(other, Network.ELEMENTS_REGTEST)
        with pytest.raises(StoreCorrupted, match=INTEGRITY):
            theirs.load()


def _name_of(path: Path, network: str) -> str:
    names = {w.split("/")[1] for _, w, _, _ in _rows(path) if w.startswith(network)}
    (name,) = names
    return name


@pytest.mark.parametrize("cut", [0, 1, 50, 99, 100, 4096, 0.5, -4096])
def test_a_truncated_database_is_refused_never_empty(
    saved: tuple[Path, WolletState], cut: float
) -> None:
    path, _ = saved
    blob = path.read_bytes()
    keep = int(len(blob) * cut) if isinstance(cut, float) else cut % len(blob)
    path.write_bytes(blob[:keep])
    with pytest.raises(StoreCorrupted, match=INTEGRITY), SqliteStore(path) as db:
        Wollet(NETWORK, DESCRIPTOR, store=db).close()


@pytest.mark.parametrize("blob", [b"not a database" * 100, b"SQLite format 3\x00" + bytes(4000)])
def test_a_garbage_database_is_refused_then_deleting_it_works(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / DATABASE
    path.write_bytes(blob)
    path.chmod(0o600)
    with pytest.raises(StoreCorrupted, match="delete it to rescan"):
        SqliteStore(path)
    path.unlink()
    with SqliteStore(path) as db, Wollet(NETWORK, DESCRIPTOR, store=db) as wollet:
        assert wollet.state.heights == {}


@pytest.mark.parametrize(("synchronous", "pragma"), [("full", 2), ("normal", 1)])
def test_the_synchronous_mode_is_the_callers(
    tmp_path: Path, synchronous: Synchronous, pragma: int
) -> None:
    """SQLite's PRAGMA synchronous values: 2 FULL, 1 NORMAL (https://www.sqlite.org/pragma.html)."""
    with SqliteStore(tmp_path / DATABASE, synchronous=synchronous) as db:
        assert db.synchronous == synchronous
        assert db._connection().execute("PRAGMA synchronous").fetchone() == (pragma,)
    with pytest.raises(StoreError, match="synchronous must be 'full' or 'normal'"):
        SqliteStore(tmp_path / DATABASE, synchronous="off")  # type: ignore[arg-type]


def test_a_newer_schema_is_refused(saved: tuple[Path, WolletState]) -> None:
    path, _ = saved
    _execute(path, "UPDATE lwk_schema SET version = 3")
    with pytest.raises(StoreCorrupted, match="schema 3"):
        SqliteStore(path)


def test_a_failed_save_leaves_the_wollet_unchanged(db: SqliteStore) -> None:
    """SQLite refuses the write (an authorizer denying inserts): StoreError, nothing changes;
    once writes are allowed the same update applies (the store rewrites what it could not
    know was written) and reloads."""
    with Wollet(NETWORK, DESCRIPTOR, store=db) as wollet:
        wollet.apply_update(_scan(wollet, 0))
        before = wollet.state
        update = _scan(wollet, 1)
        conn = db._conn
        assert conn is not None

        def deny_inserts(action: int, *args: object) -> int:
            return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_INSERT else sqlite3.SQLITE_OK

        conn.set_authorizer(deny_inserts)
        with pytest.raises(StoreError, match="not authorized"):
            wollet.apply_update(update)
        assert wollet.state is before
        conn.set_authorizer(None)
        wollet.apply_update(update)
        after = wollet.state
    with Wollet(NETWORK, DESCRIPTOR, store=db) as reopened:
        assert reopened.state == after


def test_a_wallet_over_the_size_limit_is_neither_saved_nor_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MAX_WALLET_BYTES counts the sealed values of all the wallet's rows, the same way when
    saving and (before reading them) when loading: a wallet of exactly the limit works."""
    path = tmp_path / DATABASE
    with SqliteStore(path) as db:
        state = _synced(db)
    conn = sqlite3.connect(path)
    (size,) = conn.execute("SELECT SUM(LENGTH(sealed)) FROM wallet_items").fetchone()
    conn.close()
    monkeypatch.setattr(sqlite_store, "MAX_WALLET_BYTES", size - 1)
    with SqliteStore(path) as db:
        with pytest.raises(StoreError, match=f"over the {size - 1} byte limit; it was not read"):
            Wollet(NETWORK, DESCRIPTOR, store=db)
        with db.open(DESCRIPTOR, NETWORK) as store:  # released: it opens again
            with pytest.raises(StoreError, match="byte limit") as refused:
                store.save(state)  # a whole rewrite: the store did not load
            assert not isinstance(refused.value, StoreCorrupted)
    monkeypatch.setattr(sqlite_store, "MAX_WALLET_BYTES", size)
    with SqliteStore(path) as db, Wollet(NETWORK, DESCRIPTOR, store=db) as wollet:
        assert wollet.state == state


def test_wallets_of_one_database_saved_from_several_threads(tmp_path: Path) -> None:
    """Four wallets of one SqliteStore, each synced in its own thread through 30 tips, each
    saving as it goes: the shared connection serves them one statement at a time, and each
    wallet reloads with its last tip."""
    descriptors = [new_wallet_descriptor(bytes([n]) * 32) for n in range(4)]
    names = [unique_name("sqlite-threads") for _ in descriptors]
    chains = [MemoryChain(Network.ELEMENTS_REGTEST) for _ in descriptors]
    for name, chain in zip(names, chains, strict=True):
        register_chain(name, chain)
    errors: list[BaseException] = []

    def sync(wollet: Wollet, chain: MemoryChain, name: str) -> None:
        try:
            client = MemoryClient(name)
            for height in range(1, 31):
                chain.tip_height = height
                if update := client.full_scan(wollet):
                    wollet.apply_update(update)
        except BaseException as exc:
            errors.append(exc)

    with SqliteStore(tmp_path / DATABASE) as db:
        wollets = [Wollet(Network.ELEMENTS_REGTEST, d, store=db) for d in descriptors]
        work = zip(wollets, chains, names, strict=True)
        threads = [threading.Thread(target=sync, args=args) for args in work]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for wollet in wollets:
            wollet.close()
    assert errors == []
    with SqliteStore(tmp_path / DATABASE) as db:
        for descriptor in descriptors:
            with Wollet(Network.ELEMENTS_REGTEST, descriptor, store=db) as wollet:
                tip = wollet.tip()
                assert tip is not None and tip.height == 30
