"""The two wallet stores, for tests run against both: `--store file` is a datadir of encrypted
files (`FileStore`), `sqlite` one SQLite database (`SqliteStore`) in the same directory;
`sqlite-normal` the same database with synchronous="normal" (the crash tests run it too)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from lwk_core import FileStore, SqliteStore, Store

Kind = Literal["file", "sqlite", "sqlite-normal"]
KINDS: tuple[Kind, ...] = ("file", "sqlite")
CRASH_KINDS: tuple[Kind, ...] = (*KINDS, "sqlite-normal")
DATABASE = "wallets.db"


@contextlib.contextmanager
def opened(kind: Kind, base: Path) -> Iterator[Store]:
    """The store of `kind` kept under the directory `base`, closed on exit."""
    if kind == "file":
        yield FileStore(base)
        return
    synchronous = "normal" if kind == "sqlite-normal" else "full"
    with SqliteStore(base / DATABASE, synchronous=synchronous) as database:
        yield database


def state_files(base: Path) -> list[Path]:
    """Every file a store of either kind keeps under `base` (state files, database, WAL)."""
    return sorted(p for p in base.rglob("*") if p.is_file())
