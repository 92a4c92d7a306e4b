"""Peak memory of one full scan, measured in a child process that does nothing else.

`python -m benchmarks._memory` reads {"impl", "backend", "url", "descriptor"} as JSON on
stdin (the descriptor holds a blinding key: never on the command line), runs one full scan
and prints {"peak_mb", "scan_mb", "txs"}: the process's peak resident set size, and how much
the scan raised it above the peak reached before it (interpreter, imports, empty wallet).

The peak is the kernel's VmHWM of this process image. Not `getrusage`'s ru_maxrss: Linux
keeps that across exec, so a child would report its parent's peak at fork time.

Each child holds one side only, on the same interpreter: ours never imports the `lwk` wheel,
LWK's never imports lwk-core, and neither imports the regtest chain (`_server`). Ours loads
only the plugin of the backend measured (`LWK_LOAD_PLUGINS`), as a user who installed
lwk-core and that one plugin would, not every plugin of the benchmark environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time _server would import lwk_regtest into the child
    from ._clients import Impl
    from ._server import Backend

__all__ = ["measure_memory"]

_ROOT = Path(__file__).resolve().parents[1]
# The entry points (named after their backends) each of our clients needs: the Waterfalls
# client reads transactions through an Esplora client.
_PLUGINS = {"electrum": "electrum", "esplora": "esplora", "waterfalls": "waterfalls,esplora"}


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _child(job: dict[str, Any]) -> dict[str, float]:
    impl: Impl
    if job["impl"] == "ours":
        from ._ours import Ours

        impl = Ours()
    else:
        from ._lwk import Lwk

        impl = Lwk()
    wollet = impl.new_wollet(job["descriptor"])
    client = impl.new_client(job["backend"], job["url"])
    before = _peak_mb()
    impl.scan(client, wollet)
    after = _peak_mb()
    return {"peak_mb": after, "scan_mb": after - before, "txs": impl.tx_count(wollet)}


def measure_memory(impl: str, backend: Backend, url: str, descriptor: str) -> dict[str, float]:
    """Run one full scan in a fresh child process and return its memory figures."""
    job = {"impl": impl, "backend": backend, "url": url, "descriptor": descriptor}
    env = dict(os.environ)
    if impl == "ours":
        env["LWK_LOAD_PLUGINS"] = _PLUGINS[backend]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._memory"],
        cwd=_ROOT,
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory child failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.stdin.read()))))
