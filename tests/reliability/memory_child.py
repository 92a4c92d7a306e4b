"""Run one Esplora request case against a server and report its peak memory (a child process).

    python memory_child.py URL CASE FLAVOUR

CASE `tip`: one `client.tip()`; `scan8`: one scan of eight scripts, eight requests at once.
FLAVOUR `blocking` (EsploraClient) or `async` (AsyncEsploraClient).
Prints one JSON line: the error's class name (or null), the seconds the call took, and
VmHWM (peak resident memory, kB) after the imports and the client's construction, and at
the end. The address space is capped at 2 GiB so that a runaway inflation ends in a
MemoryError rather than in the machine's swap.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path

from lwk_esplora import AsyncEsploraClient, EsploraClient

from lwk_core import LwkError, Network

_AS_CAP = 2 << 30


def vm_hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


SCRIPTS = [bytes([0x51, i]) for i in range(8)]


def run_blocking(client: EsploraClient, case: str) -> None:
    with client:
        if case == "tip":
            client.tip()
        else:
            client.connection.scan_scripts(SCRIPTS)


async def run_async(client: AsyncEsploraClient, case: str) -> None:
    async with client:
        if case == "tip":
            await client.tip()
        else:
            await client.connection.scan_scripts(SCRIPTS)


def main(url: str, case: str, flavour: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_AS_CAP, _AS_CAP))
    blocking = EsploraClient(url, Network.ELEMENTS_REGTEST, timeout=5, max_retries=0)
    asynchronous = AsyncEsploraClient(url, Network.ELEMENTS_REGTEST, timeout=5, max_retries=0)
    before = vm_hwm_kb()
    start = time.monotonic()
    error: str | None = None
    try:
        if flavour == "async":
            asyncio.run(run_async(asynchronous, case))
        else:
            run_blocking(blocking, case)
    except (LwkError, MemoryError) as exc:
        error = type(exc).__name__
    seconds = time.monotonic() - start
    print(json.dumps({"error": error, "seconds": seconds, "before": before, "peak": vm_hwm_kb()}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
