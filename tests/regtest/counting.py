"""Client mixins that count `scan_wallet` calls (the engine runs once per call): how a
monitor test tells which wallets a round synced."""

from __future__ import annotations

from typing import Any


class CountingScans:
    """Before a Client (or one of its subclasses) in the bases."""

    scans = 0

    def scan_wallet(self, wollet: Any, **kw: Any) -> Any:
        self.scans += 1
        return super().scan_wallet(wollet, **kw)  # type: ignore[misc]


class AsyncCountingScans:
    """Before an AsyncClient (or one of its subclasses) in the bases."""

    scans = 0

    async def scan_wallet(self, wollet: Any, **kw: Any) -> Any:
        self.scans += 1
        return await super().scan_wallet(wollet, **kw)  # type: ignore[misc]
