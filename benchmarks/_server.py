"""The parent's handle on `benchmarks._serve`: start it, drive it, read its request counters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

__all__ = ["Backend", "ServerProcess"]

Backend = Literal["electrum", "esplora"]
_ROOT = Path(__file__).resolve().parents[1]


class ServerProcess:
    """The regtest chain with Electrum (tcp) and Esplora servers, in a child process."""

    def __init__(self, cache_dir: str | None = None) -> None:
        args = [sys.executable, "-m", "benchmarks._serve"]
        if cache_dir:
            args += ["--cache-dir", cache_dir]
        self._proc = subprocess.Popen(
            args, cwd=_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self._next_id = 0
        info = json.loads(self._read())
        self.urls: dict[Backend, str] = {
            "electrum": info["electrum_url"],
            "esplora": info["esplora_url"],
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

    def _read(self) -> str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the benchmark server process exited ({self._proc.wait()})")
        return line

    def call(self, method: str, *params: Any) -> Any:
        """Run one control command in the child (see lwk_core.regtest.Regtest.handle)."""
        assert self._proc.stdin is not None
        self._next_id += 1
        request = {"id": self._next_id, "method": method, "params": list(params)}
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        reply = json.loads(self._read())
        if "error" in reply:
            raise RuntimeError(f"server control {method} failed: {reply['error']}")
        return reply["result"]

    def set_latency(self, seconds: float) -> None:
        """Latency added by both servers before every reply (a network round trip)."""
        for backend in ("electrum", "esplora"):
            self.call("set_faults", backend, None, None, seconds)

    def requests(self, backend: Backend) -> int:
        """Requests the backend's server has received so far."""
        return int(self.call("requests")[backend]["total"])

    def electrum_methods(self) -> dict[str, int]:
        """Electrum requests received so far, per JSON-RPC method."""
        return dict(self.call("requests")["electrum"]["methods"])

    def close(self) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()
