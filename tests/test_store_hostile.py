"""A wallet store that a hostile local user or a planted file cannot turn against its owner:
the file store (a datadir), then the SQLite store (a database file)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lwk_regtest.testing import new_wallet_descriptor
from stores import DATABASE

from lwk_core import Network, SqliteStore, StoreCorrupted, StoreError, WolletDescriptor
from lwk_core._store import MAX_STATE_FILE, FileWalletStore
from lwk_core._wollet import Wollet, WolletState

NETWORK = Network.ELEMENTS_REGTEST
DESCRIPTOR = WolletDescriptor(new_wallet_descriptor(b"hostile disk"))


def wallet_dir(datadir: Path) -> Path:
    with FileWalletStore(datadir, DESCRIPTOR, NETWORK) as store:
        return store.path


@pytest.fixture
def umask_zero() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_under_umask_zero_the_tree_is_private(tmp_path: Path, umask_zero: None) -> None:
    datadir = tmp_path / "a" / "datadir"
    with FileWalletStore(datadir, DESCRIPTOR, NETWORK) as store:
        store.save(WolletState(descriptor=DESCRIPTOR, network=NETWORK))
        created = [store.path, store.path.parent, datadir, datadir.parent]
        for directory in created:
            assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
        for name in ("state", "lock"):
            assert stat.S_IMODE((store.path / name).stat().st_mode) == 0o600, name


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702, 0o720])
@pytest.mark.parametrize("which", ["wallet", "network"])
def test_a_directory_others_can_write_is_refused(tmp_path: Path, mode: int, which: str) -> None:
    path = wallet_dir(tmp_path)
    target = path if which == "wallet" else path.parent
    target.chmod(mode)
    with pytest.raises(StoreError, match=f"{which} directory .* writable by other users"):
        FileWalletStore(tmp_path, DESCRIPTOR, NETWORK)
    target.chmod(0o700)  # the owner's fix
    FileWalletStore(tmp_path, DESCRIPTOR, NETWORK).close()


def test_a_planted_temp_symlink_does_not_redirect_the_save(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    with FileWalletStore(tmp_path / "data", DESCRIPTOR, NETWORK) as store:
        (store.path / "state.tmp").symlink_to(victim)  # planted after the store opened
        state = WolletState(descriptor=DESCRIPTOR, network=NETWORK)
        store.save(state)
        assert victim.read_bytes() == b"precious"
        assert not (store.path / "state").is_symlink()
        assert store.load() == state


def test_a_symlinked_state_or_lock_file_is_refused(tmp_path: Path) -> None:
    path = wallet_dir(tmp_path)
    target = tmp_path / "elsewhere"
    target.write_bytes(b"x")
    (path / "state").symlink_to(target)
    store = FileWalletStore(tmp_path, DESCRIPTOR, NETWORK)
    with pytest.raises(StoreError, match="symbolic link"):
        store.load()
    (path / "state").unlink()
    (path / "lock").unlink()
    (path / "lock").symlink_to(target)
    with pytest.raises(StoreError, match="cannot use the wallet datadir"):
        FileWalletStore(tmp_path, DESCRIPTOR, NETWORK)
    assert target.read_bytes() == b"x"


def test_a_fifo_state_file_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(wallet_dir(tmp_path) / "state", 0o600)
    start = time.monotonic()
    with pytest.raises(StoreError, match="not a regular file"):
        Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path)
    assert time.monotonic() - start < 10  # open(2) of a FIFO would wait for a writer forever


def test_a_huge_state_file_is_refused_by_its_size_before_reading(tmp_path: Path) -> None:
    path = wallet_dir(tmp_path) / "state"
    with path.open("wb") as f:
        f.truncate(3 << 30)  # 3 GiB, sparse: refused from its size, never read
    start = time.monotonic()
    with pytest.raises(StoreError, match=f"over the {MAX_STATE_FILE} byte limit"):
        Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path)
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize(
    "blob, error",
    [
        (b"LWKSTATE\x01\x01" + bytes(40), StoreCorrupted),  # torn / tampered
        (b"LWKSTATE\x07\x01" + bytes(40), StoreCorrupted),  # a newer format
        (b"not a state file at all", StoreCorrupted),
    ],
)
def test_after_a_refusal_deleting_the_file_as_advised_works(
    tmp_path: Path, blob: bytes, error: type[StoreError]
) -> None:
    path = wallet_dir(tmp_path) / "state"
    path.write_bytes(blob)
    with pytest.raises(error, match="delete it to rescan"):
        Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path)
    # Still inside the handling of the error, as a caller following its advice would be:
    path.unlink()
    with Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path) as wollet:  # not StoreLocked
        assert wollet.state.heights == {}


def test_another_wallets_file_is_refused_then_the_lock_is_free(tmp_path: Path) -> None:
    other = WolletDescriptor(new_wallet_descriptor(b"another wallet"))
    with FileWalletStore(tmp_path, other, NETWORK) as theirs:
        theirs.save(WolletState(descriptor=other, network=NETWORK))
        blob = (theirs.path / "state").read_bytes()
    path = wallet_dir(tmp_path) / "state"
    path.write_bytes(blob)
    with pytest.raises(StoreCorrupted):
        Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path)
    path.unlink()
    Wollet(NETWORK, DESCRIPTOR, datadir=tmp_path).close()


# -- the SQLite store ------------------------------------------------------------------------


def test_under_umask_zero_the_database_is_private(tmp_path: Path, umask_zero: None) -> None:
    path = tmp_path / "a" / "wallets" / DATABASE
    with SqliteStore(path) as db, db.open(DESCRIPTOR, NETWORK) as store:
        store.save(WolletState(descriptor=DESCRIPTOR, network=NETWORK))
        files = sorted(p.name for p in path.parent.iterdir())
        assert files == [DATABASE, DATABASE + "-wal"]  # the log of the save, until close
        for name in files:
            assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
    for directory in (path.parent, path.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702, 0o720])
@pytest.mark.parametrize("which", ["directory of the wallet database", "wallet database"])
def test_a_database_or_directory_others_can_write_is_refused(
    tmp_path: Path, mode: int, which: str
) -> None:
    path = tmp_path / "wallets" / DATABASE
    SqliteStore(path).close()
    target = path if which == "wallet database" else path.parent
    target.chmod(mode)
    with pytest.raises(StoreError, match=f"the {which} is writable by other users"):
        SqliteStore(path)
    target.chmod(0o700 if target.is_dir() else 0o600)  # the owner's fix
    SqliteStore(path).close()


def test_a_symlinked_database_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    SqliteStore(target).close()  # even a real database elsewhere
    before = target.read_bytes()
    (tmp_path / DATABASE).symlink_to(target)
    with pytest.raises(StoreError, match="symbolic link"):
        SqliteStore(tmp_path / DATABASE)
    assert target.read_bytes() == before


def test_a_fifo_database_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / DATABASE, 0o600)
    start = time.monotonic()
    with pytest.raises(StoreError, match="not a regular file"):
        SqliteStore(tmp_path / DATABASE)
    assert time.monotonic() - start < 1.0  # opening a FIFO would wait for a writer


def test_a_huge_garbage_database_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / DATABASE
    with path.open("wb") as f:
        f.truncate(3 << 30)  # 3 GiB, sparse: refused from its first bytes
    start = time.monotonic()
    with pytest.raises(StoreCorrupted, match="delete it to rescan"):
        SqliteStore(path)
    assert time.monotonic() - start < 1.0
    path.unlink()  # as the error advises
    SqliteStore(path).close()
