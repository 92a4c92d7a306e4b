"""One benchmark run: build the wallets, then time every size x latency x backend case."""

from __future__ import annotations

import datetime
import os
import resource
import sys
import time
from collections.abc import Sequence
from typing import Any

import attrs

from ._clients import Impl, Lwk, Ours
from ._measure import SCENARIOS, measure_case
from ._memory import measure_memory
from ._report import busy_cpu_seconds, machine, revision, summarize, targets
from ._server import BACKENDS, Backend, ServerProcess
from ._wallets import build_wallet

__all__ = ["LARGE", "Options", "run"]

LARGE = 1000


@attrs.frozen
class Options:
    sizes: Sequence[int] = (20, 200, 2000)
    runs: int = 3
    runs_large: int = 1  # for sizes >= LARGE: LWK's Esplora client needs minutes per scan
    latencies_ms: Sequence[int] = (0, 50)
    # sizes above this are measured at 0 ms only: LWK's Esplora client sends one request at a
    # time, so a 10,000-tx first scan at 50 ms would take it about an hour
    max_size_with_latency: int | None = None
    backends: Sequence[Backend] = BACKENDS
    memory: bool = True
    cache_dir: str | None = None
    lwk_esplora_concurrency: int | None = None


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _other_load(busy: float, wall: float) -> float:
    """Cores other processes kept busy on average while we ran (the server and the memory
    children are our own, waited for by now): the noise under these numbers."""
    own = sum(
        getattr(resource.getrusage(who), field)
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for field in ("ru_utime", "ru_stime")
    )
    return max(0.0, busy - own) / wall if wall > 0 else 0.0


def _latencies(options: Options, size: int) -> list[int]:
    cap = options.max_size_with_latency
    if cap is None or size <= cap:
        return list(options.latencies_ms)
    return [ms for ms in options.latencies_ms if ms == 0]


def run(options: Options) -> dict[str, Any]:
    """Measure everything `options` asks for; the result is what `--json` writes."""
    impls: dict[str, Impl] = {"ours": Ours(), "lwk": Lwk(options.lwk_esplora_concurrency)}
    rows: list[dict[str, Any]] = []
    memory: list[dict[str, Any]] = []
    sizes = sorted(set(options.sizes))  # one order, so the faucet's tx cache keeps hitting
    measured, load_before = revision(), os.getloadavg()  # before the tree can change
    wall, busy = time.perf_counter(), busy_cpu_seconds()
    with ServerProcess(options.cache_dir) as server:
        wallets = {}
        for size in sizes:
            start = time.perf_counter()
            wallets[size] = build_wallet(server, size)
            _log(f"built the {size}-tx wallet in {time.perf_counter() - start:.1f} s")
        for size in sizes:
            wallet = wallets[size]
            if options.memory:
                server.set_latency(0)
                for backend in options.backends:
                    for name in impls:
                        url = server.urls[backend]
                        mem = measure_memory(name, backend, url, wallet.descriptor)
                        memory.append({"size": size, "backend": backend, "impl": name, **mem})
                _log(f"{size} txs: memory measured")
            for latency in _latencies(options, size):
                server.set_latency(latency / 1000)
                for backend in options.backends:
                    runs = options.runs_large if size >= LARGE else options.runs
                    samples, txs = measure_case(server, wallet, backend, impls, runs)
                    for scenario in SCENARIOS:
                        row = summarize(samples[scenario])
                        rows.append(
                            {
                                "size": size,
                                "backend": backend,
                                "latency_ms": latency,
                                "scenario": scenario,
                                "wallet_txs": txs,
                                **row,
                            }
                        )
                        _log(
                            f"{size} txs {backend} {latency} ms {scenario}: ours"
                            f" {row['ours']['median_s']:.3f} s, LWK {row['lwk']['median_s']:.3f} s"
                            f" (x{row['ratio']:.2f})"
                        )
    wall = time.perf_counter() - wall
    busy = busy_cpu_seconds() - busy
    result: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "revision": measured,
        "machine": machine(),
        "seconds": round(wall, 1),
        "other_load": round(_other_load(busy, wall), 2),
        "load": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in os.getloadavg()],
            "busy_cores": round(busy / wall, 2) if wall > 0 else 0.0,
        },
        "options": attrs.asdict(options),
        "rows": rows,
        "memory": memory,
    }
    result["targets"] = targets(result)
    return result
