"""A wallet's persistent state: one encrypted snapshot file, replaced atomically on each save.

`DATADIR/<network>/<hash of the wallet id>/` holds `state` (the snapshot), `state.tmp` (a
save in progress) and `lock`. The directory name is a hash of the descriptor's wallet id,
never the descriptor (it holds the blinding key).

The snapshot is the whole state (so the file never grows beyond what the wallet knows),
sealed (`_sealing`: AES-GCM-SIV under a key derived from the descriptor's canonical text):

    magic "LWKSTATE" | u8 format version | u8 cipher | 12-byte nonce | ciphertext + 16-byte tag

The associated data binds the header, the network and the wallet id, so a torn, truncated,
bit-flipped or tampered file, or one copied from another wallet or network, fails
authentication and is refused (StoreCorrupted) without being touched.

Against other local users and planted files: directories this store creates are 0700 and
files 0600 whatever the umask; an existing wallet or network directory that is not the
user's own, or that group or others can write, is refused (StoreError: the fix, `chmod
700`, is the owner's call, not the library's); every file is opened relative to the wallet
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

import portalocker

from ._descriptor import WolletDescriptor
from ._errors import DecodeError, StoreCorrupted, StoreError, StoreLocked
from ._hashes import tagged_hash
from ._network import Network
from ._sealing import TAG_SIZE, CipherUnavailable, Sealer, UnknownVersion, Unopenable, header_size
from ._state import WolletState
from ._state_codec import decode_state, encode_state

__all__ = ["WalletStore"]

MAGIC: Final = b"LWKSTATE"
FORMAT_VERSION: Final = 1
STATE_FILE: Final = "state"
TEMP_FILE: Final = "state.tmp"
LOCK_FILE: Final = "lock"
MAX_STATE_FILE: Final = 256 * 1024 * 1024
"""Largest state file read or written (tens of thousands of confidential transactions):
a larger file is refused by its size, before reading; a larger state is not saved."""
_DIR_TAG: Final = b"lwk-core wallet dir"
_OPEN_FLAGS: Final = os.O_CLOEXEC | os.O_NOFOLLOW
_CORRUPTED: Final = (
    "wallet state file failed its integrity check; it was not loaded (delete it to rescan)"
)


def _wallet_dir_name(descriptor: WolletDescriptor) -> str:
    """The wallet's directory name: a hash of its wallet id (never descriptor text)."""
    return tagged_hash(_DIR_TAG, descriptor.wallet_id.encode()).hex()[:32]


class WalletStore:
    """The datadir of one wallet, locked for this process until `close()`.

    StoreLocked if another WalletStore (in any process) holds it.
    """

    def __init__(
        self, datadir: str | os.PathLike[str], descriptor: WolletDescriptor, network: Network
    ) -> None:
        self._descriptor = descriptor
        self._network = network
        self._dir = Path(datadir) / network.value / _wallet_dir_name(descriptor)
        self._dir_fd = _private_dir(self._dir)
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
            fd = os.open(
                LOCK_FILE, os.O_RDWR | os.O_CREAT | _OPEN_FLAGS, 0o600, dir_fd=self._dir_fd
            )
        except OSError as e:
            raise StoreError(f"cannot use the wallet datadir: {e.strerror}") from e
        # portalocker: flock(2) on POSIX, LockFileEx on Windows, on the descriptor opened above
        # (never a path: the hardening of that open stays ours).
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
        return f"<WalletStore {self._network.value}/{self._dir.name} {state}>"

    @property
    def path(self) -> Path:
        """The wallet's directory."""
        return self._dir

    def _context(self) -> bytes:
        """What a state file is bound to besides its key: its network and wallet."""
        return f"|{self._network.value}|{self._descriptor.wallet_id}".encode()

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
        try:
            payload = self._sealer.open(blob, MAGIC, FORMAT_VERSION, self._context())
        except UnknownVersion as e:
            raise StoreCorrupted(
                f"wallet state file has format version {e.version}, this lwk-core reads "
                f"{FORMAT_VERSION}; it was not loaded (delete it to rescan)"
            ) from None
        except CipherUnavailable as e:
            raise StoreError(f"the wallet state file is {e}") from None
        except Unopenable:
            raise StoreCorrupted(_CORRUPTED) from None
        try:
            return decode_state(payload, self._descriptor, self._network)
        except DecodeError as e:
            # Authentic but undecodable: written by a broken or incompatible lwk-core.
            raise StoreCorrupted(_CORRUPTED) from e

    def _read_state_file(self) -> bytes | None:
        """The state file's bytes, None if there is none; refused unless a regular file of
        at most MAX_STATE_FILE bytes (O_NONBLOCK: opening a FIFO does not wait for a writer)."""
        try:
            fd = os.open(STATE_FILE, os.O_RDONLY | os.O_NONBLOCK | _OPEN_FLAGS, dir_fd=self._dir_fd)
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
        if (
            state.descriptor.wallet_id != self._descriptor.wallet_id
            or state.network != self._network
        ):
            raise StoreError("the state belongs to another wallet than this store")
        payload = encode_state(state)
        if len(payload) + header_size(MAGIC) + TAG_SIZE > MAX_STATE_FILE:
            raise StoreError(f"the wallet state is over the {MAX_STATE_FILE} byte limit of a file")
        sealed = self._sealer.seal(MAGIC, FORMAT_VERSION, payload, self._context())
        with self._save_lock:
            try:
                self._write_durably(sealed)
            except OSError as e:
                raise StoreError(f"cannot write the wallet state file: {e.strerror}") from e

    def _write_durably(self, blob: bytes) -> None:
        # O_EXCL | O_NOFOLLOW: a file or symlink planted as the temp file is removed (the
        # link itself, never its target) rather than written through.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS
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

    def __enter__(self) -> WalletStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _private_dir(path: Path) -> int:
    """Create `path` and its missing parents 0700 (whatever the umask) and open it; refuse
    it, or its parent (the network directory), if another user owns it or if group or
    others can write it. Returns an O_DIRECTORY descriptor of `path`."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    try:
        for directory in reversed(missing):
            with contextlib.suppress(FileExistsError):
                os.mkdir(directory, 0o700)
                os.chmod(directory, 0o700)  # mkdir applied the umask, which may be 0
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | _OPEN_FLAGS)
    except OSError as e:
        raise StoreError(f"cannot use the wallet datadir: {e.strerror}") from e
    try:
        for info, what in ((os.fstat(fd), "wallet"), (os.stat(path.parent), "network")):
            if info.st_uid != os.getuid() or info.st_mode & 0o022:
                raise StoreError(
                    f"the {what} directory of this wallet is writable by other users "
                    "(or owned by one); it was not used (chmod 700 it, as its owner)"
                )
    except BaseException:
        os.close(fd)
        raise
    return fd
