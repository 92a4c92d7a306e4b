"""The benchmarks' regtest servers: `Regtest(process=True)`, so they never compete with the
client being timed, plus the two knobs a benchmark turns (latency, request counters)."""

from __future__ import annotations

from types import TracebackType
from typing import Literal

from lwk_regtest import Regtest

__all__ = ["BACKENDS", "Backend", "ServerProcess"]

Backend = Literal["electrum", "esplora", "waterfalls"]
BACKENDS: tuple[Backend, ...] = ("electrum", "esplora", "waterfalls")


class ServerProcess:
    """The regtest chain with Electrum (tcp), Esplora and Waterfalls servers, in a child
    process; `rt` drives it (faucet, mine, fund_wallet ...)."""

    def __init__(self, cache_dir: str | None = None) -> None:
        self.rt = Regtest(process=True, cache_dir=cache_dir).start()
        self.urls: dict[Backend, str] = {
            "electrum": self.rt.electrum_url,
            "esplora": self.rt.esplora_url,
            "waterfalls": self.rt.waterfalls_url,
        }

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def set_latency(self, seconds: float) -> None:
        """Latency added by every server before every reply (a network round trip)."""
        for backend in BACKENDS:
            self.rt.set_faults(backend, None, None, seconds)

    def requests(self, backend: Backend) -> int:
        """Requests the backend's server has received so far."""
        return int(self.rt.request_counts()[backend]["total"])

    def electrum_methods(self) -> dict[str, int]:
        """Electrum requests received so far, per JSON-RPC method."""
        return dict(self.rt.request_counts()["electrum"]["methods"])

    def close(self) -> None:
        self.rt.stop()
