"""Peak memory of one full scan, measured in a child process that does nothing else.

`python -m benchmarks._memory` reads {"impl", "backend", "url", "descriptor"} as JSON on
stdin (the descriptor holds a blinding key: never on the command line), runs one full scan
and prints {"peak_mb", "scan_mb", "txs"}: the process's peak resident set size, and how much
the scan raised it above the peak reached before it (interpreter, imports, empty wallet).

The peak is the kernel's VmHWM of this process image. Not `getrusage`'s ru_maxrss: Linux
keeps that across exec, so a child would report its parent's peak at fork time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ._server import Backend

__all__ = ["measure_memory"]

_ROOT = Path(__file__).resolve().parents[1]


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _child(job: dict[str, Any]) -> dict[str, float]:
    from ._clients import Impl, Lwk, Ours

    impl: Impl = Ours() if job["impl"] == "ours" else Lwk()
    wollet = impl.new_wollet(job["descriptor"])
    client = impl.new_client(job["backend"], job["url"])
    before = _peak_mb()
    impl.scan(client, wollet)
    after = _peak_mb()
    return {"peak_mb": after, "scan_mb": after - before, "txs": impl.tx_count(wollet)}


def measure_memory(impl: str, backend: Backend, url: str, descriptor: str) -> dict[str, float]:
    """Run one full scan in a fresh child process and return its memory figures."""
    job = {"impl": impl, "backend": backend, "url": url, "descriptor": descriptor}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._memory"],
        cwd=_ROOT,
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory child failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.stdin.read()))))
