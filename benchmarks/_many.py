"""`python -m benchmarks._many`: many small wallets synced concurrently through ONE async
client (AsyncElectrumClient or AsyncEsploraClient, `--backend`), against LWK syncing them
one after the other.

Each wallet (its own seed) is paid `--txs` confirmed blinded payments over two receive
addresses. Ours: one async client (Esplora: `--concurrency` requests in flight; Electrum:
one pipelined connection), every wallet's `full_scan` gathered at once, fresh wallets.
LWK: its Electrum client (its fastest, batched) scanning `--lwk-sample` of the wallets one
by one; its time for all of them is the sample's mean times the number of wallets (said so
in the output). Both must find every payment. Latency is added by the servers before every
reply (`ServerProcess`). Peak memory is this process's peak resident set size after our
run (`getrusage`). Our run's CPU time is reported, the server process's, and how many
cores the whole machine kept busy meanwhile (/proc/stat: us, the server and anyone else),
since on a shared machine the wall time says little alone. `--profile N` runs our side
under cProfile and prints its top N functions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import os
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import cast

import lwk
from lwk_electrum import AsyncElectrumClient
from lwk_esplora import AsyncEsploraClient

from lwk_core import AsyncClient, Network, Wollet

from ._report import busy_cpu_seconds
from ._server import Backend, ServerProcess

_ADDRESSES = 2
_SATS = 10_000


def descriptor(index: int) -> str:
    network = lwk.Network.regtest_default()
    seed = hashlib.sha256(f"lwk-core many-wallets benchmark {index}".encode()).digest()[:16]
    return str(lwk.Signer(lwk.Mnemonic.from_entropy(seed), network).wpkh_slip77_descriptor())


def children_cpu() -> float:
    """CPU seconds used so far by this process's children (the server process): utime and
    stime of each, from /proc (Linux)."""
    total = 0
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def fund(server: ServerProcess, descriptors: list[str], txs: int) -> None:
    """Pay each wallet `txs` confirmed blinded payments over its first two addresses."""
    started = time.monotonic()
    for descriptor in descriptors:
        server.rt.fund_wallet(descriptor, txs, n_addresses=_ADDRESSES, txs_per_block=50, sats=_SATS)
    server.rt.mine(1)
    print(f"{len(descriptors)} wallets x {txs} txs funded in {time.monotonic() - started:.0f}s")


def _client(backend: Backend, url: str, concurrency: int) -> AsyncClient:
    network = Network.ELEMENTS_REGTEST
    if backend == "electrum":
        return AsyncElectrumClient.from_url(url, network=network)
    return AsyncEsploraClient(url=url + "/api", network=network, concurrency=concurrency)


async def _ours(client: AsyncClient, descriptors: list[str]) -> list[int]:
    """Every wallet scanned at once through one client; the tx count of each."""
    wollets = [Wollet(Network.ELEMENTS_REGTEST, d) for d in descriptors]
    async with client:
        updates = await asyncio.gather(*(client.full_scan(w) for w in wollets))
    for wollet, update in zip(wollets, updates, strict=True):
        if update is not None:
            wollet.apply_update(update)
    return [len(w.transactions()) for w in wollets]


def lwk_scans(url: str, descriptors: list[str]) -> list[int]:
    network = lwk.Network.regtest_default()
    client = lwk.ElectrumClient.from_url(url)
    counts = []
    for descriptor in descriptors:
        wollet = lwk.Wollet(network, lwk.WolletDescriptor(descriptor), None)
        update = client.full_scan(wollet)
        if update is not None:
            wollet.apply_update(update)
        counts.append(len(wollet.transactions()))
    return counts


def _run_ours(
    backend: Backend, url: str, descriptors: list[str], concurrency: int, profile: int
) -> list[int]:
    client = _client(backend, url, concurrency)
    if not profile:
        return asyncio.run(_ours(client, descriptors))
    profiler = cProfile.Profile()
    counts = cast(list[int], profiler.runcall(asyncio.run, _ours(client, descriptors)))
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    stats.sort_stats("tottime").print_stats(profile)
    stats.sort_stats("cumulative").print_stats(profile)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._many", description=__doc__)
    parser.add_argument("--backend", choices=["electrum", "esplora"], default="electrum")
    parser.add_argument("--wallets", type=int, default=1000)
    parser.add_argument("--txs", type=int, default=5, help="payments per wallet")
    parser.add_argument("--latencies", type=int, nargs="+", default=[0, 50], help="ms")
    parser.add_argument("--concurrency", type=int, default=32, help="Esplora requests in flight")
    parser.add_argument("--lwk-sample", type=int, default=20, help="wallets LWK scans")
    parser.add_argument("--profile", type=int, default=0, help="print the top N of cProfile")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    backend = cast(Backend, args.backend)

    descriptors = [descriptor(i) for i in range(args.wallets)]
    with ServerProcess(args.cache_dir) as server:
        fund(server, descriptors, args.txs)
        print(
            f"latency  ours ({backend}, all, concurrent; CPU)  LWK electrum (est. all, sequential)"
            "  ratio  peak RSS"
        )
        for latency in args.latencies:
            server.set_latency(latency / 1000)
            before = server.requests(backend)
            started, busy = time.monotonic(), busy_cpu_seconds()
            cpu, server_cpu = time.process_time(), children_cpu()
            ours = _run_ours(
                backend, server.urls[backend], descriptors, args.concurrency, args.profile
            )
            ours_s, ours_cpu = time.monotonic() - started, time.process_time() - cpu
            server_cpu = children_cpu() - server_cpu
            cores = (busy_cpu_seconds() - busy) / ours_s
            requests = server.requests(backend) - before
            sample = descriptors[: args.lwk_sample]
            started = time.monotonic()
            theirs = lwk_scans(server.urls["electrum"], sample)
            lwk_s = (time.monotonic() - started) / len(sample) * len(descriptors)
            if ours != [args.txs] * len(descriptors) or theirs != [args.txs] * len(sample):
                raise SystemExit("a wallet is missing payments: the results are not comparable")
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{latency:>5} ms  {ours_s:>8.1f}s ({requests} requests; CPU {ours_cpu:.1f}s,"
                f" server {server_cpu:.1f}s, {cores:.1f} cores busy)  {lwk_s:>10.1f}s"
                f"  {ours_s / lwk_s:>17.3f}  {peak_mb:.0f} MB",
                flush=True,
            )


if __name__ == "__main__":
    main()
