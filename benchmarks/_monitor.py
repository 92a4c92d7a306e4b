"""`python -m benchmarks._monitor`: N wallets followed by one Monitor through ONE Electrum
client, against LWK scanning them one after the other.

Each wallet (its own seed, `benchmarks._many`'s) is paid `--txs` confirmed blinded
payments; the time this setup takes is printed (the faucet caches the transactions it
builds, so a second run sets up faster). For each latency (added by the servers before
every reply), a fresh monitor of fresh wallets runs a first round (every wallet scanned:
`round()`), then a no-change round (every wallet rescanned, nothing new on the chain).
Requests are counted at the server; peak memory is this process's peak resident set size
(`getrusage`). LWK: its Electrum client scanning `--lwk-sample` wallets one by one (a first
full scan, then a second one with nothing new: its no-change round); its times for all N
are the sample's times scaled by N / sample (the output says so when the sample is not
all of them). Every wallet, ours and LWK's, must find every payment. `--form blocking` runs
`Monitor` (wallets in turn) instead of `AsyncMonitor`; `--no-spv` runs our client with
`verify_merkle=False` (LWK proves no confirmation; the main harness does the same). `--json
PATH` adds the results to PATH (benchmarks/results/monitor.json by default), replacing the
same wallets and latency: `python -m benchmarks --write-docs` reports them against issue
18's and 20's targets. `--profile N` prints cProfile's top N functions of our first round.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime
import json
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any

import lwk
from lwk_electrum import AsyncElectrumClient, ElectrumClient

from lwk_core import AsyncMonitor, Monitor, Network, Wollet

from ._many import children_cpu, descriptor, fund
from ._report import revision
from ._server import ServerProcess

Round = tuple[float, int, float]  # seconds, requests the server received, our CPU seconds
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "monitor.json"


class _Rounds:
    """The rounds measured: each one's wall time, requests and our CPU time; the first
    round under cProfile when `profiler` is given."""

    def __init__(self, server: ServerProcess, profiler: cProfile.Profile | None) -> None:
        self.server, self.profiler = server, profiler
        self.measured: list[Round] = []

    def start(self) -> None:
        self._before = self.server.requests("electrum")
        self._started, self._cpu = time.monotonic(), time.process_time()
        if self.profiler is not None and not self.measured:
            self.profiler.enable()

    def stop(self) -> None:
        if self.profiler is not None and not self.measured:
            self.profiler.disable()
        wall, cpu = time.monotonic() - self._started, time.process_time() - self._cpu
        self.measured.append((wall, self.server.requests("electrum") - self._before, cpu))


def _blocking(server: ServerProcess, wollets: list[Wollet], rounds: _Rounds, spv: bool) -> None:
    """A first round and a no-change round of `Monitor` over one client."""
    url = server.urls["electrum"]
    regtest = Network.ELEMENTS_REGTEST
    with ElectrumClient.from_url(url, network=regtest, verify_merkle=spv) as client:
        monitor = Monitor(client, wollets)
        for _ in range(2):
            rounds.start()
            monitor.round()
            rounds.stop()


def _async(
    server: ServerProcess, wollets: list[Wollet], concurrency: int, rounds: _Rounds, spv: bool
) -> None:
    """The same rounds of `AsyncMonitor` over one async client."""
    url = server.urls["electrum"]

    async def run() -> None:
        regtest = Network.ELEMENTS_REGTEST
        client = AsyncElectrumClient.from_url(url, network=regtest, verify_merkle=spv)
        async with client:
            monitor = AsyncMonitor(client, wollets, concurrency=concurrency)
            for _ in range(2):
                rounds.start()
                await monitor.round()
                rounds.stop()

    asyncio.run(run())


def _print_profile(profiler: cProfile.Profile, top: int) -> None:
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def lwk_in_turn(url: str, descriptors: list[str]) -> tuple[float, float, list[int]]:
    """LWK's Electrum client doing each wallet in turn: the seconds of all first full scans,
    of all no-change scans after them, and each wallet's transaction count."""
    network = lwk.Network.regtest_default()
    client = lwk.ElectrumClient.from_url(url)
    first = again = 0.0
    counts = []
    for text in descriptors:
        wollet = lwk.Wollet(network, lwk.WolletDescriptor(text), None)
        started = time.monotonic()
        update = client.full_scan(wollet)
        if update is not None:
            wollet.apply_update(update)
        middle = time.monotonic()
        update = client.full_scan(wollet)
        if update is not None:
            wollet.apply_update(update)
        first, again = first + middle - started, again + time.monotonic() - middle
        counts.append(len(wollet.transactions()))
    return first, again, counts


def save(records: list[dict[str, Any]], path: Path) -> None:
    """Add `records` to the JSON list at `path`, replacing those of the same wallets and
    latency."""
    old = json.loads(path.read_text()) if path.exists() else []
    keys = {(r["wallets"], r["latency_ms"]) for r in records}
    kept = [r for r in old if (r["wallets"], r["latency_ms"]) not in keys]
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = sorted(kept + records, key=lambda r: (r["wallets"], r["latency_ms"]))
    path.write_text(json.dumps(merged, indent=2) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._monitor", description=__doc__)
    parser.add_argument("--wallets", type=int, default=200)
    parser.add_argument("--txs", type=int, default=5, help="payments per wallet")
    parser.add_argument("--latencies", type=int, nargs="+", default=[0, 50], help="ms")
    parser.add_argument("--form", choices=["async", "blocking"], default="async")
    parser.add_argument("--concurrency", type=int, default=16, help="async wallets at once")
    parser.add_argument("--lwk-sample", type=int, default=20, help="wallets LWK scans")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="add the results here")
    parser.add_argument(
        "--profile", type=int, default=0, help="print cProfile's top N of our first round"
    )
    parser.add_argument(
        "--spv",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="our client proves each confirmation (verify_merkle; LWK's does not)",
    )
    args = parser.parse_args(argv)

    descriptors = [descriptor(i) for i in range(args.wallets)]
    sample = descriptors[: args.lwk_sample]
    scale = len(descriptors) / len(sample)
    estimated = f"est. from {len(sample)} of {len(descriptors)} wallets" if scale > 1 else "all"
    records = []
    with ServerProcess(args.cache_dir) as server:
        started = time.monotonic()
        fund(server, descriptors, args.txs)
        setup_s = time.monotonic() - started
        url = server.urls["electrum"]
        print(
            f"latency  ours ({args.form} Monitor, 1 Electrum client): first round, requests;"
            f" no-change round, requests; server CPU | LWK electrum in turn ({estimated}):"
            " first, no-change | ratios first, no-change | peak RSS"
        )
        for latency in args.latencies:
            server.set_latency(latency / 1000)
            wollets = [Wollet(Network.ELEMENTS_REGTEST, d) for d in descriptors]
            server_cpu = children_cpu()
            profiler = cProfile.Profile() if args.profile else None
            rounds = _Rounds(server, profiler)
            if args.form == "async":
                _async(server, wollets, args.concurrency, rounds, args.spv)
            else:
                _blocking(server, wollets, rounds, args.spv)
            (first_s, first_n, first_cpu), (again_s, again_n, _) = rounds.measured
            server_cpu = children_cpu() - server_cpu
            if profiler is not None:
                _print_profile(profiler, args.profile)
            ours = [len(w.transactions()) for w in wollets]
            del wollets
            lwk_first, lwk_again, theirs = lwk_in_turn(url, sample)
            lwk_first, lwk_again = lwk_first * scale, lwk_again * scale
            if ours != [args.txs] * len(descriptors) or theirs != [args.txs] * len(sample):
                raise SystemExit("a wallet is missing payments: the results are not comparable")
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{latency:>5} ms  first {first_s:.2f}s (CPU {first_cpu:.2f}s), {first_n} requests;"
                f" no-change {again_s:.3f}s, {again_n} requests; server CPU {server_cpu:.1f}s"
                f" | LWK {lwk_first:.1f}s, {lwk_again:.2f}s"
                f" | {first_s / lwk_first:.3f}, {again_s / lwk_again:.3f} | {peak_mb:.0f} MB",
                flush=True,
            )
            records.append(
                {
                    "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                    "revision": revision(),
                    "form": args.form,
                    "spv": args.spv,
                    "wallets": args.wallets,
                    "txs": args.txs,
                    "latency_ms": latency,
                    "setup_s": round(setup_s, 1),
                    "first_s": round(first_s, 3),
                    "first_requests": first_n,
                    "first_cpu_s": round(first_cpu, 3),
                    "again_s": round(again_s, 3),
                    "again_requests": again_n,
                    "server_cpu_s": round(server_cpu, 1),
                    "lwk_sample": len(sample),
                    "lwk_first_s": round(lwk_first, 2),
                    "lwk_again_s": round(lwk_again, 2),
                    "peak_mb": round(peak_mb),
                }
            )
            save(records, args.json)


if __name__ == "__main__":
    main()
