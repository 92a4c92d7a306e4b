"""The SQLite store: many wallets in one database, each save writing only what changed.

`SqliteStore(PATH)` is one database file (standard library sqlite3, WAL journal) holding
any number of wallets, each under `<network>/<hash of its wallet id>` (`_sealing`'s wallet
name, never the descriptor). A wallet is a set of items (`_state_rows`: one per transaction,
height, block time, script and unblinded output) and a head (tip, genesis, last used
indexes), one row each:

    wallet_items(id INTEGER PRIMARY KEY, wallet TEXT, name BLOB, sealed BLOB)

Nothing is in clear: `name` is a keyed hash of the item's kind and key (a txid, a script...),
`sealed` is `u8 cipher | 12-byte nonce | AEAD(u8 kind | body)` under the wallet's key, with
associated data binding the wallet, its network and the row's name, so a row moved to
another name or wallet fails authentication. The head also holds the number of items and
a keyed sum of their rows' hashes (a multiset hash, updated by each save in proportion to
what changed): a row deleted, replayed from an older save or left over from another fails
the check on load, which is StoreCorrupted, never a partial wallet. A row's hash covers its
name, cipher, nonce and tag: the tag authenticates the row's content, and a fresh random
nonce makes every sealing of it another row, so the check hashes 40-odd bytes per row,
not the row's content (most of it range proofs).

A save diffs the new state against the one last saved or loaded (`changed_items`) and
writes the items added or changed, deletes those gone and rewrites the head, in one
transaction. `synchronous="full"` (the default) makes it durable once `save` returns: the
commit waits for the write-ahead log's fsync. `synchronous="normal"` does not wait (SQLite
syncs the log at checkpoints): a process crash still loses nothing, a power loss or OS
crash may lose the last saves, never corrupting the database or a wallet (SQLite's WAL
guarantees, https://www.sqlite.org/pragma.html#pragma_synchronous); the wallet then
resyncs what it lost. Loading reads one row per
item, in the order they were written (an index on (wallet, id)), and parses no
transaction (`_state_rows`): there is no log of updates to replay.

Locking: the connection holds the database in SQLite's EXCLUSIVE locking mode, so the
database belongs to one SqliteStore (of one process) at a time; another gets StoreLocked,
as does a second opener of the same wallet within the store. The database's directory must
be private and the file the user's own, as the file store requires (`_private_fs`); the
file is created 0600 and opened without following symlinks.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import stat
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Literal

from ._descriptor import WolletDescriptor
from ._errors import DecodeError, StoreCorrupted, StoreError, StoreLocked
from ._network import Network
from ._private_fs import OPEN_FLAGS, check_private, private_dir
from ._sealing import NONCE_SIZE, TAG_SIZE, Sealer, derive_key, open_stored, wallet_name
from ._state import WolletState
from ._state_rows import Item, StateRows, changed_items, encode_head, state_items
from ._store_protocol import check_owner

__all__ = ["SqliteStore", "SqliteWalletStore", "Synchronous"]

Synchronous = Literal["full", "normal"]
"""When a save is on disk: "full", when it returns; "normal", at the next checkpoint."""
_SYNCHRONOUS: Final = {"full": "FULL", "normal": "NORMAL"}

SCHEMA_VERSION: Final = 2  # 2: rows hashed by nonce and tag, transactions with their txid
MAX_WALLET_BYTES: Final = 256 * 1024 * 1024
"""Largest wallet state (its items' sealed values) read or written, as the file store's
MAX_STATE_FILE: counted before reading; a save that would pass it is refused."""
_HEAD: Final = 0  # the item kind of the head row
_SEAL_OVERHEAD: Final = 1 + NONCE_SIZE + TAG_SIZE  # cipher id, nonce, tag
_SUM_MODULUS: Final = 1 << 256
_SEAL_INFO: Final = b"lwk-core sqlite item v1"
_NAME_INFO: Final = b"lwk-core sqlite item names v1"
_SUM_INFO: Final = b"lwk-core sqlite item sum v1"
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS lwk_schema (version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS wallet_items ("
    " id INTEGER PRIMARY KEY, wallet TEXT NOT NULL, name BLOB NOT NULL,"
    " sealed BLOB NOT NULL, UNIQUE (wallet, name))",
    # A wallet's rows in the order they were written, read without sorting them.
    "CREATE INDEX IF NOT EXISTS wallet_items_order ON wallet_items (wallet, id)",
)
_UPSERT: Final = (
    "INSERT INTO wallet_items (wallet, name, sealed) VALUES (?, ?, ?) "
    "ON CONFLICT (wallet, name) DO UPDATE SET sealed = excluded.sealed"
)
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"  # https://www.sqlite.org/fileformat.html
# The databases SqliteStores of this process have open, by (device, inode).
_OPEN_FILES: set[tuple[int, int]] = set()
_OPEN_LOCK = threading.Lock()
_DB_CORRUPTED: Final = (
    "the wallet database failed its integrity check; it was not used (restore it from a "
    "backup, or delete it to rescan its wallets)"
)
_WALLET_CORRUPTED: Final = (
    "this wallet's state in the database failed its integrity check; it was not loaded "
    "(remove it with SqliteStore.remove to rescan)"
)
# SQLite's primary result codes (https://www.sqlite.org/rescode.html)
_BUSY: Final = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
_BROKEN: Final = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB


def _store_error(e: sqlite3.Error, doing: str, corrupted: str = _DB_CORRUPTED) -> StoreError:
    """The StoreError for an SQLite error (its text names no wallet data)."""
    code = getattr(e, "sqlite_errorcode", 0) & 0xFF
    if code in _BUSY:
        return StoreLocked("the wallet database is in use by another process or store")
    if code in _BROKEN:
        return StoreCorrupted(corrupted)
    return StoreError(f"cannot {doing} the wallet database: {e}")


class SqliteStore:
    """An SQLite database of wallets: `Wollet(network, descriptor, store=SqliteStore(path))`.

    Opening it locks the database for this store until `close()` (StoreLocked for another
    process, or another SqliteStore of the same file). Its wallets may be used from several
    threads: the connection is shared, one statement at a time. `synchronous`: "full"
    (default), each save is on disk when it returns; "normal", saves do not wait for the
    disk and the last ones may be lost to a power loss (never to a crash of the process).
    """

    def __init__(self, path: str | os.PathLike[str], *, synchronous: Synchronous = "full") -> None:
        if synchronous not in _SYNCHRONOUS:
            raise StoreError(f"synchronous must be 'full' or 'normal', not {synchronous!r}")
        self._path = Path(path)
        self._synchronous: Final = synchronous
        with _OPEN_LOCK:
            self._file_id = _prepare_file(self._path)
            self._conn: sqlite3.Connection | None = _connect(self._path, synchronous)
            _OPEN_FILES.add(self._file_id)
        self._lock = threading.Lock()  # the connection: one statement at a time
        self._opened: set[str] = set()  # wallets open in this store

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else "open"
        return f"<SqliteStore {self._path.name} {state}>"

    @property
    def path(self) -> Path:
        return self._path

    @property
    def synchronous(self) -> Synchronous:
        return self._synchronous

    def open(self, descriptor: WolletDescriptor, network: Network) -> SqliteWalletStore:
        """The wallet's state in this database (StoreLocked if it is open already)."""
        return SqliteWalletStore(self, descriptor, network)

    def remove(self, descriptor: WolletDescriptor, network: Network) -> None:
        """Delete the wallet's state (to rescan it, e.g. after StoreCorrupted); StoreLocked
        while it is open."""
        key = _wallet_key(descriptor, network)
        with self._transaction("remove a wallet from") as conn:
            if key in self._opened:
                raise StoreLocked("this wallet is open in this store; close it first")
            conn.execute("DELETE FROM wallet_items WHERE wallet = ?", (key,))

    @contextlib.contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection inside one write transaction, committed if the block returns."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as e:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise _store_error(e, doing) from e

    def _rows(self, wallet: str) -> list[tuple[bytes, bytes]]:
        """The wallet's rows (name, sealed), oldest first; StoreError if they hold more than
        MAX_WALLET_BYTES (counted before reading them)."""
        with self._lock:
            conn = self._connection()
            try:
                (size,) = conn.execute(
                    "SELECT TOTAL(LENGTH(sealed)) FROM wallet_items WHERE wallet = ?", (wallet,)
                ).fetchone()
                if size > MAX_WALLET_BYTES:
                    raise StoreError(
                        f"the wallet's state has {int(size)} bytes, over the "
                        f"{MAX_WALLET_BYTES} byte limit; it was not read"
                    )
                query = "SELECT name, sealed FROM wallet_items WHERE wallet = ? ORDER BY id"
                return conn.execute(query, (wallet,)).fetchall()
            except sqlite3.Error as e:
                raise _store_error(e, "read") from e

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the wallet database is closed")
        return self._conn

    def _claim(self, wallet: str) -> None:
        with self._lock:
            self._connection()
            if wallet in self._opened:
                raise StoreLocked("this wallet is in use by another Wollet of this store")
            self._opened.add(wallet)

    def _release(self, wallet: str) -> None:
        with self._lock:
            self._opened.discard(wallet)

    def close(self) -> None:
        """Close the database and release its lock (idempotent); its wallets can no longer
        load or save."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()
                with _OPEN_LOCK:
                    _OPEN_FILES.discard(self._file_id)

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect(path: Path, synchronous: Synchronous) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            _uri(path), uri=True, timeout=0, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as e:
        raise _store_error(e, "open") from e
    try:
        _initialize(conn, synchronous)
    except sqlite3.Error as e:
        conn.close()
        raise _store_error(e, "open") from e
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare_file(path: Path) -> tuple[int, int]:
    """Check the database file (a regular file, the user's own, not writable by others, an
    SQLite database) in a private directory, or create it; its (device, inode).

    StoreLocked if this process has it open: SQLite holds POSIX locks on the file, which
    closing any other descriptor of it in this process would drop, so it is opened (to read
    its header) only when no SqliteStore of this process has it."""
    dir_fd = private_dir(path.parent, "directory of the wallet database")
    try:
        try:
            info = os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            _create(path, dir_fd)
            info = os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False)
        if (info.st_dev, info.st_ino) in _OPEN_FILES:
            raise StoreLocked("the wallet database is in use by another process or store")
        if stat.S_ISLNK(info.st_mode):
            raise StoreError("the wallet database is a symbolic link; it was not used")
        if not stat.S_ISREG(info.st_mode):
            raise StoreError("the wallet database is not a regular file; it was not used")
        check_private(info, "wallet database")
        fd = os.open(path.name, os.O_RDONLY | OPEN_FLAGS, dir_fd=dir_fd)
        try:
            header = os.read(fd, len(_SQLITE_MAGIC))
        finally:
            os.close(fd)
    except OSError as e:
        raise StoreError(f"cannot use the wallet database: {e.strerror}") from e
    finally:
        os.close(dir_fd)
    # SQLite takes a file shorter than its header for an empty database: this store never
    # leaves one (`_create`), so such a file is a truncated one.
    if header != _SQLITE_MAGIC:
        raise StoreCorrupted(_DB_CORRUPTED)
    return info.st_dev, info.st_ino


def _create(path: Path, dir_fd: int) -> None:
    """Create the database whole (0600, with its schema) under a temporary name, then link
    it to its name: an empty file never passes for a new database."""
    temp = f"{path.name}.new-{os.urandom(8).hex()}"
    try:
        os.close(os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | OPEN_FLAGS, 0o600,
                         dir_fd=dir_fd))  # fmt: skip
        try:
            conn = sqlite3.connect(_uri(path.parent / temp), uri=True, isolation_level=None)
            try:
                _initialize(conn, "full")
            finally:
                conn.close()
            fd = os.open(temp, os.O_RDONLY | OPEN_FLAGS, dir_fd=dir_fd)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            with contextlib.suppress(FileExistsError):  # another process created it first
                os.link(temp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd,
                        follow_symlinks=False)  # fmt: skip
        finally:
            os.unlink(temp, dir_fd=dir_fd)
        os.fsync(dir_fd)
    except OSError as e:
        raise StoreError(f"cannot create the wallet database: {e.strerror}") from e
    except sqlite3.Error as e:
        raise _store_error(e, "create") from e


def _uri(path: Path) -> str:
    """SQLite's URI of `path`, refusing symbolic links (SQLITE_OPEN_NOFOLLOW)."""
    return "file:" + urllib.parse.quote(str(path.absolute())) + "?nofollow=1"


def _initialize(conn: sqlite3.Connection, synchronous: Synchronous) -> None:
    """Lock the database for this connection and create or check its schema."""
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")  # held from the first write until close
    if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
        raise StoreError("the wallet database cannot use a write-ahead log")
    conn.execute(f"PRAGMA synchronous = {_SYNCHRONOUS[synchronous]}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA:
            conn.execute(statement)
        versions = conn.execute("SELECT version FROM lwk_schema").fetchall()
        if not versions:
            conn.execute("INSERT INTO lwk_schema (version) VALUES (?)", (SCHEMA_VERSION,))
        elif versions != [(SCHEMA_VERSION,)]:
            raise StoreCorrupted(
                f"the wallet database has schema {versions[0][0]}, this lwk-core reads "
                f"{SCHEMA_VERSION}; it was not used"
            )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _wallet_key(descriptor: WolletDescriptor, network: Network) -> str:
    return f"{network.value}/{wallet_name(descriptor)}"


class SqliteWalletStore:
    """One wallet's state in an SqliteStore, held until `close()`."""

    def __init__(self, db: SqliteStore, descriptor: WolletDescriptor, network: Network) -> None:
        self._db: SqliteStore | None = None
        self._descriptor = descriptor
        self._network = network
        self._wallet = _wallet_key(descriptor, network)
        db._claim(self._wallet)
        self._db = db
        self._sealer = Sealer(descriptor)
        self._name_key = derive_key(descriptor, _NAME_INFO)
        self._sum_key = derive_key(descriptor, _SUM_INFO)
        self._head_name = self._name(_HEAD, b"")
        self._wallet_ad = f"|{self._wallet}|{descriptor.wallet_id}|".encode()
        self._save_lock = threading.Lock()
        # What the rows hold, when known (loaded or saved by this store): a save writes the
        # difference. `_known` False: unknown (not loaded yet, or a save failed midway).
        self._known = False
        self._saved: WolletState | None = None
        self._hashes: dict[bytes, int] = {}  # each item row's hash, by its name
        self._sum = 0
        self._bytes = 0  # of the items' sealed values

    def __repr__(self) -> str:
        state = "closed" if self._db is None else "open"
        return f"<SqliteWalletStore {self._wallet} {state}>"

    def _name(self, kind: int, key: bytes) -> bytes:
        return hashlib.blake2b(bytes([kind]) + key, key=self._name_key, digest_size=16).digest()

    def _element(self, name: bytes, sealed: bytes) -> int:
        """The multiset hash's element of a row: its name, cipher id, nonce and tag."""
        seal = sealed[: 1 + NONCE_SIZE] + sealed[-TAG_SIZE:]
        digest = hashlib.blake2b(name + seal, key=self._sum_key, digest_size=32).digest()
        return int.from_bytes(digest, "little")

    def _associated_data(self, cipher_id: int, name: bytes) -> bytes:
        return _SEAL_INFO + bytes([cipher_id]) + self._wallet_ad + name

    def _seal(self, name: bytes, plain: bytes) -> bytes:
        cipher_id = self._sealer.cipher_id
        nonce, sealed = self._sealer.seal_record(plain, self._associated_data(cipher_id, name))
        return bytes([cipher_id]) + nonce + sealed

    def _open(self, name: bytes, blob: bytes) -> bytes:
        if len(blob) < 1 + NONCE_SIZE:
            raise StoreCorrupted(_WALLET_CORRUPTED)
        cipher_id, nonce = blob[0], blob[1 : 1 + NONCE_SIZE]
        return open_stored(
            self._sealer,
            cipher_id,
            nonce,
            blob[1 + NONCE_SIZE :],
            self._associated_data(cipher_id, name),
            _WALLET_CORRUPTED,
        )

    def _check_open(self) -> SqliteStore:
        if self._db is None:
            raise StoreError("the wallet store is closed")
        return self._db

    def load(self) -> WolletState | None:
        """The stored state, or None if none was saved. StoreCorrupted if a row fails
        authentication, one is missing or one is left over; the store is then closed."""
        db = self._check_open()
        try:
            return self._load(db)
        except StoreError:
            self.close()
            raise

    def _load(self, db: SqliteStore) -> WolletState | None:
        rows = db._rows(self._wallet)
        if not rows:
            self._known, self._saved = True, None
            self._hashes, self._sum, self._bytes = {}, 0, 0
            return None
        head = b""
        items: list[bytes] = []
        hashes: dict[bytes, int] = {}
        size = 0
        for name, sealed in rows:
            plain = self._open(name, sealed)
            if name == self._head_name:
                head = plain
            else:
                items.append(plain)
                hashes[name] = self._element(name, sealed)
                size += len(sealed)
        if head[:1] != bytes([_HEAD]) or not all(items):
            raise StoreCorrupted(_WALLET_CORRUPTED)
        total = sum(hashes.values()) % _SUM_MODULUS
        try:
            state_rows = StateRows(head[1:], self._descriptor, self._network)
            if state_rows.trailer != _trailer(len(items), total):
                raise StoreCorrupted(_WALLET_CORRUPTED)
            for plain in items:
                state_rows.add(plain[0], plain[1:])
            state = state_rows.state()
        except DecodeError as e:
            # Authentic but undecodable: written by a broken or incompatible lwk-core.
            raise StoreCorrupted(_WALLET_CORRUPTED) from e
        self._known, self._saved = True, state
        self._hashes, self._sum, self._bytes = hashes, total, size
        return state

    def save(self, state: WolletState) -> None:
        """Replace the stored state by `state`, writing only the items that changed since
        the last load or save, in one durable transaction."""
        db = self._check_open()
        check_owner(state, self._descriptor, self._network)
        with self._save_lock:
            saved = self._saved if self._known else None
            rewrite = saved is None
            if saved is None:
                added, removed = list(state_items(state)), list[Item]()
                hashes, total, size = dict[bytes, int](), 0, 0
            else:
                added, removed = changed_items(saved, state)
                hashes, total, size = self._hashes, self._sum, self._bytes
            writes = [(self._name(k, key), bytes([k]) + body) for k, key, body in added]
            gone = [(self._name(k, key), bytes([k]) + body) for k, key, body in removed]
            size += sum(len(p) for _, p in writes) - sum(len(p) for _, p in gone)
            size += _SEAL_OVERHEAD * (len(writes) - len(gone))
            sealed = [(n, self._seal(n, plain)) for n, plain in writes]
            new_hashes = {n: self._element(n, blob) for n, blob in sealed}
            deleted = {n for n, _ in gone if n not in new_hashes}
            # The rows replaced (changed items) or deleted leave the sum; the new rows enter.
            replaced = [hashes[n] for n in deleted | new_hashes.keys() if n in hashes]
            total = (total - sum(replaced) + sum(new_hashes.values())) % _SUM_MODULUS
            count = len(hashes) - len(replaced) + len(new_hashes)
            head = bytes([_HEAD]) + encode_head(state, _trailer(count, total))
            if size + len(head) + _SEAL_OVERHEAD > MAX_WALLET_BYTES:  # as a load counts it
                raise StoreError(f"the wallet state is over the {MAX_WALLET_BYTES} byte limit")
            rows = [(self._wallet, n, blob) for n, blob in sealed]
            rows.append((self._wallet, self._head_name, self._seal(self._head_name, head)))
            self._known = False  # until the transaction is committed
            with db._transaction("write to") as conn:
                if rewrite:
                    conn.execute("DELETE FROM wallet_items WHERE wallet = ?", (self._wallet,))
                conn.executemany(
                    "DELETE FROM wallet_items WHERE wallet = ? AND name = ?",
                    [(self._wallet, n) for n in deleted],
                )
                conn.executemany(_UPSERT, rows)
            for n in deleted:
                hashes.pop(n, None)
            hashes.update(new_hashes)
            self._known, self._saved = True, state
            self._hashes, self._sum, self._bytes = hashes, total, size

    def close(self) -> None:
        """Release the wallet (idempotent); the database stays open."""
        db, self._db = self._db, None
        if db is not None:
            db._release(self._wallet)

    def __enter__(self) -> SqliteWalletStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _trailer(count: int, total: int) -> bytes:
    return count.to_bytes(8, "little") + total.to_bytes(32, "little")
