"""The file store: one encrypted snapshot file per wallet, replaced atomically on each save.

`FileStore(DATADIR).open(descriptor, network)` keeps the wallet in
`DATADIR/<network>/<hash of the wallet id>/`, which holds `state` (the snapshot), `state.tmp` (a
save in progress) and `lock`. The directory name is a hash of the descriptor's wallet id,
never the descriptor (it holds the blinding key).

The snapshot is the whole state (so the file never grows beyond what the wallet knows),
sealed as `_sealing` says (AES-GCM-SIV, a key derived from the descriptor):

    magic "LWKSTATE" | u8 format version | u8 cipher | 12-byte nonce | ciphertext + 16-byte tag

The associated data binds the header, the network and the wallet id, so a torn, truncated,
bit-flipped or tampered file, or one copied from another wallet or network, fails
authentication and is refused (StoreCorrupted) without being touched.

Against other local users and planted files: the wallet and network directories are
private (`_private_fs`); every file is opened relative to the wallet
directory's descriptor without following symlinks, the temp file exclusively; a state file
that is not a regular file, or larger than `MAX_STATE_FILE`, is refused without reading it.
A store that refuses its state file closes itself, releasing the lock, so that the file
can be deleted (as the error advises) and the wallet opened again.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import threading
from pathlib import Path
from types import TracebackType
from typing import Final

from ._descriptor import WolletDescriptor
from ._errors import DecodeError, StoreCorrupted, StoreError, StoreLocked
from ._network import Network
from ._private_fs import OPEN_FLAGS, private_dir
from ._sealing import NONCE_SIZE, TAG_SIZE, Sealer, open_stored, wallet_name
from ._state import WolletState
from ._state_codec import decode_state, encode_state
from ._store_protocol import check_owner

__all__ = ["FileStore", "FileWalletStore"]

MAGIC: Final = b"LWKSTATE"
FORMAT_VERSION: Final = 1
STATE_FILE: Final = "state"
TEMP_FILE: Final = "state.tmp"
LOCK_FILE: Final = "lock"
MAX_STATE_FILE: Final = 256 * 1024 * 1024
"""Largest state file read or written (tens of thousands of confidential transactions):
a larger file is refused by its size, before reading; a larger state is not saved."""
_HEADER_SIZE: Final = len(MAGIC) + 2 + NONCE_SIZE
_CORRUPTED: Final = (
    "wallet state file failed its integrity check; it was not loaded (delete it to rescan)"
)


class FileStore:
    """A datadir of wallets, one encrypted state file each: `Wollet(..., datadir=DIR)` is
    `Wollet(..., store=FileStore(DIR))`."""

    def __init__(self, datadir: str | os.PathLike[str]) -> None:
        self._datadir = Path(datadir)

    def __repr__(self) -> str:
        return f"FileStore({str(self._datadir)!r})"

    def open(self, descriptor: WolletDescriptor, network: Network) -> FileWalletStore:
        """The wallet's directory, locked (StoreLocked if another store holds it)."""
        return FileWalletStore(self._datadir, descriptor, network)


class FileWalletStore:
    """The datadir of one wallet, locked for this process until `close()`.

    StoreLocked if another FileWalletStore (in any process) holds it.
    """

    def __init__(
        self, datadir: str | os.PathLike[str], descriptor: WolletDescriptor, network: Network
    ) -> None:
        self._descriptor = descriptor
        self._network = network
        self._dir = Path(datadir) / network.value / wallet_name(descriptor)
        self._dir_fd = private_dir(
            self._dir, "wallet directory of this wallet", "network directory of this wallet"
        )
        try:
            lock_file = self._open_lock()
        except BaseException:
            os.close(self._dir_fd)
            raise
        self._lock_file: io.FileIO | None = lock_file
        with contextlib.suppress(OSError):  # a save that died before its rename
            os.unlink(TEMP_FILE, dir_fd=self._dir_fd)
        self._save_lock = threading.Lock()
        self._sealer = Sealer(descriptor)

    def _open_lock(self) -> io.FileIO:
        try:
            fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT | OPEN_FLAGS, 0o600, dir_fd=self._dir_fd)
        except OSError as e:
            raise StoreError(f"cannot use the wallet datadir: {e.strerror}") from e
        # portalocker: flock(2) on POSIX, LockFileEx on Windows, on the descriptor opened above
        # (never a path: the hardening of that open stays ours). Imported here, by the one
        # store that locks: a wallet without a datadir does not hold it.
        import portalocker

        lock_file = os.fdopen(fd, "r+b", buffering=0)
        try:
            portalocker.lock(lock_file, portalocker.LOCK_EX | portalocker.LOCK_NB)
        except portalocker.AlreadyLocked:
            lock_file.close()
            raise StoreLocked(
                f"this wallet's datadir ({self._dir.name}) is in use by another process or store"
            ) from None
        except (portalocker.LockException, OSError) as e:
            lock_file.close()
            raise StoreError(f"cannot lock the wallet datadir: {e}") from e
        return lock_file

    def __repr__(self) -> str:
        state = "closed" if self._lock_file is None else "open"
        return f"<FileWalletStore {self._network.value}/{self._dir.name} {state}>"

    @property
    def path(self) -> Path:
        """The wallet's directory."""
        return self._dir

    def _associated_data(self, header: bytes) -> bytes:
        wallet = f"|{self._network.value}|{self._descriptor.wallet_id}"
        return header + wallet.encode()

    def _check_open(self) -> None:
        if self._lock_file is None:
            raise StoreError("the wallet store is closed")

    def load(self) -> WolletState | None:
        """The stored state, or None if nothing was saved yet.

        StoreCorrupted (the file is left as it is) if the file is torn, tampered with, or
        belongs to another wallet or network; StoreError if it is not a regular file, is
        larger than MAX_STATE_FILE or cannot be read. Either way the store is closed (its
        lock released) so that the file can be dealt with and the wallet opened again.
        """
        self._check_open()
        try:
            return self._load()
        except StoreError:
            self.close()
            raise

    def _load(self) -> WolletState | None:
        blob = self._read_state_file()
        if blob is None:
            return None
        if len(blob) < _HEADER_SIZE or not blob.startswith(MAGIC):
            raise StoreCorrupted(_CORRUPTED)
        version, cipher_id = blob[len(MAGIC)], blob[len(MAGIC) + 1]
        if version != FORMAT_VERSION:
            raise StoreCorrupted(
                f"wallet state file has format version {version}, this lwk-core reads "
                f"{FORMAT_VERSION}; it was not loaded (delete it to rescan)"
            )
        header, nonce = blob[: len(MAGIC) + 2], blob[len(MAGIC) + 2 : _HEADER_SIZE]
        payload = open_stored(
            self._sealer,
            cipher_id,
            nonce,
            blob[_HEADER_SIZE:],
            self._associated_data(header),
            _CORRUPTED,
        )
        try:
            return decode_state(payload, self._descriptor, self._network)
        except DecodeError as e:
            # Authentic but undecodable: written by a broken or incompatible lwk-core.
            raise StoreCorrupted(_CORRUPTED) from e

    def _read_state_file(self) -> bytes | None:
        """The state file's bytes, None if there is none; refused unless a regular file of
        at most MAX_STATE_FILE bytes (O_NONBLOCK: opening a FIFO does not wait for a writer)."""
        try:
            fd = os.open(STATE_FILE, os.O_RDONLY | os.O_NONBLOCK | OPEN_FLAGS, dir_fd=self._dir_fd)
        except FileNotFoundError:
            return None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise StoreError("the wallet state file is a symbolic link; it was not read") from e
            raise StoreError(f"cannot read the wallet state file: {e.strerror}") from e
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise StoreError("the wallet state file is not a regular file; it was not read")
            if info.st_size > MAX_STATE_FILE:
                raise StoreError(
                    f"the wallet state file has {info.st_size} bytes, over the "
                    f"{MAX_STATE_FILE} byte limit; it was not read (delete it to rescan)"
                )
            chunks = []
            left = MAX_STATE_FILE + 1  # a file growing while read is still bounded
            while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
                chunks.append(chunk)
                left -= len(chunk)
        except OSError as e:
            raise StoreError(f"cannot read the wallet state file: {e.strerror}") from e
        finally:
            os.close(fd)
        if left <= 0:
            raise StoreError(f"the wallet state file grew over {MAX_STATE_FILE} bytes")
        return b"".join(chunks)

    def save(self, state: WolletState) -> None:
        """Replace the stored state by `state`, atomically and durably.

        Write a temporary file, fsync it, rename it over the state file, fsync the
        directory: a crash at any moment leaves either the previous or the new state.
        """
        self._check_open()
        check_owner(state, self._descriptor, self._network)
        payload = encode_state(state)
        header = MAGIC + bytes([FORMAT_VERSION, self._sealer.cipher_id])
        if len(payload) + _HEADER_SIZE + TAG_SIZE > MAX_STATE_FILE:
            raise StoreError(f"the wallet state is over the {MAX_STATE_FILE} byte limit of a file")
        nonce, sealed = self._sealer.seal_record(payload, self._associated_data(header))
        with self._save_lock:
            try:
                self._write_durably(header + nonce + sealed)
            except OSError as e:
                raise StoreError(f"cannot write the wallet state file: {e.strerror}") from e

    def _write_durably(self, blob: bytes) -> None:
        # O_EXCL | O_NOFOLLOW: a file or symlink planted as the temp file is removed (the
        # link itself, never its target) rather than written through.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | OPEN_FLAGS
        with contextlib.suppress(FileNotFoundError):
            os.unlink(TEMP_FILE, dir_fd=self._dir_fd)
        fd = os.open(TEMP_FILE, flags, 0o600, dir_fd=self._dir_fd)
        try:
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(TEMP_FILE, STATE_FILE, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        os.fsync(self._dir_fd)

    def close(self) -> None:
        """Release the datadir lock (idempotent)."""
        lock_file, self._lock_file = self._lock_file, None
        if lock_file is not None:
            lock_file.close()  # closing the only descriptor of the lock file releases the lock
            os.close(self._dir_fd)

    def __enter__(self) -> FileWalletStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
