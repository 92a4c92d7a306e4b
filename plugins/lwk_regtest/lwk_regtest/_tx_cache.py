"""The faucet's on-disk cache of the transactions it built (they are pure functions of their
parameters, see `_tx_builder`)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import attrs

__all__ = ["TxCache", "default_cache_dir"]


def default_cache_dir() -> Path:
    """$LWK_REGTEST_CACHE, else $XDG_CACHE_HOME/lwk-regtest, else ~/.cache/lwk-regtest."""
    env = os.environ.get("LWK_REGTEST_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lwk-regtest"


@attrs.define
class TxCache:
    """Raw transactions on disk, keyed by a hash of what they spend and pay."""

    directory: Path | None
    hits: int = 0
    misses: int = 0

    def get(self, key: str) -> bytes | None:
        if self.directory is None:
            return None
        try:
            raw = (self.directory / f"{key}.tx").read_bytes()
        except OSError:
            self.misses += 1
            return None
        self.hits += 1
        return raw

    def put(self, key: str, raw: bytes) -> None:
        if self.directory is None:
            return
        with contextlib.suppress(OSError):  # a read-only cache only costs time
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(raw)
            os.replace(tmp, self.directory / f"{key}.tx")
