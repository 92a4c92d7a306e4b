"""Directories and files of the wallet stores, safe from other local users and planted files.

Directories a store creates are 0700 and files 0600 whatever the umask; an existing directory
that is not the user's own, or that group or others can write, is refused (StoreError: the
fix, `chmod 700`, is the owner's call, not the library's, since what was planted there while
it was open cannot be known).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Final

from ._errors import StoreError

__all__ = ["OPEN_FLAGS", "check_private", "private_dir"]

OPEN_FLAGS: Final = os.O_CLOEXEC | os.O_NOFOLLOW


def check_private(info: os.stat_result, what: str) -> None:
    """StoreError unless `info` is the user's own and neither group nor others can write it."""
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise StoreError(
            f"the {what} is writable by other users (or owned by one); it was not used "
            "(chmod 700 it, as its owner)"
        )


def private_dir(path: Path, what: str, parent: str | None = None) -> int:
    """Create `path` and its missing parents 0700 and open it; refuse it (named `what` in the
    error), and its parent if `parent` names it, unless private (`check_private`).
    Returns an O_DIRECTORY descriptor of `path`."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    try:
        for directory in reversed(missing):
            with contextlib.suppress(FileExistsError):
                os.mkdir(directory, 0o700)
                os.chmod(directory, 0o700)  # mkdir applied the umask, which may be 0
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | OPEN_FLAGS)
    except OSError as e:
        raise StoreError(f"cannot use the wallet datadir: {e.strerror}") from e
    try:
        check_private(os.fstat(fd), what)
        if parent is not None:
            check_private(os.stat(path.parent), parent)
    except BaseException:
        os.close(fd)
        raise
    return fd
