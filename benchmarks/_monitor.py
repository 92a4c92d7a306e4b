"""`python -m benchmarks._monitor`: N wallets followed by one Monitor through ONE Electrum
client, against LWK scanning them one after the other.

Each wallet (its own seed, `benchmarks._many`'s) is paid `--txs` confirmed blinded
payments. For each latency (added by the servers before every reply), a fresh monitor of
fresh wallets runs a first round (every wallet scanned: `round()`), then a no-change round
(every wallet rescanned, nothing new on the chain). Requests are counted at the server;
peak memory is this process's peak resident set size (`getrusage`). LWK: its Electrum
client scanning `--lwk-sample` wallets one by one; its time for all of them is the
sample's mean times N (said so). Every wallet, ours and LWK's, must find every payment.
`--form blocking` runs `Monitor` (wallets in turn) instead of `AsyncMonitor`.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

from lwk_electrum import AsyncElectrumClient, ElectrumClient

from lwk_core import AsyncMonitor, Monitor, Network, Wollet

from ._many import children_cpu, descriptor, fund, lwk_scans
from ._server import ServerProcess

Round = tuple[float, int]  # seconds, requests the server received


def _blocking(server: ServerProcess, wollets: list[Wollet]) -> list[Round]:
    """A first round and a no-change round of `Monitor` over one client."""
    url = server.urls["electrum"]
    with ElectrumClient.from_url(url, network=Network.ELEMENTS_REGTEST) as client:
        monitor = Monitor(client, wollets)
        rounds = []
        for _ in range(2):
            before, started = server.requests("electrum"), time.monotonic()
            monitor.round()
            rounds.append((time.monotonic() - started, server.requests("electrum") - before))
        return rounds


def _async(server: ServerProcess, wollets: list[Wollet], concurrency: int) -> list[Round]:
    """The same rounds of `AsyncMonitor` over one async client."""
    url = server.urls["electrum"]

    async def run() -> list[Round]:
        client = AsyncElectrumClient.from_url(url, network=Network.ELEMENTS_REGTEST)
        async with client:
            monitor = AsyncMonitor(client, wollets, concurrency=concurrency)
            rounds = []
            for _ in range(2):
                before, started = server.requests("electrum"), time.monotonic()
                await monitor.round()
                rounds.append((time.monotonic() - started, server.requests("electrum") - before))
            return rounds

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._monitor", description=__doc__)
    parser.add_argument("--wallets", type=int, default=200)
    parser.add_argument("--txs", type=int, default=5, help="payments per wallet")
    parser.add_argument("--latencies", type=int, nargs="+", default=[0, 50], help="ms")
    parser.add_argument("--form", choices=["async", "blocking"], default="async")
    parser.add_argument("--concurrency", type=int, default=16, help="async wallets at once")
    parser.add_argument("--lwk-sample", type=int, default=20, help="wallets LWK scans")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()

    descriptors = [descriptor(i) for i in range(args.wallets)]
    with ServerProcess(args.cache_dir) as server:
        fund(server, descriptors, args.txs)
        url = server.urls["electrum"]
        print(
            f"latency  ours ({args.form} Monitor, 1 Electrum client): first round, requests;"
            " no-change round, requests; server CPU | LWK electrum (est. all, sequential)"
            " | ratio | peak RSS"
        )
        for latency in args.latencies:
            server.set_latency(latency / 1000)
            wollets = [Wollet(Network.ELEMENTS_REGTEST, d) for d in descriptors]
            server_cpu = children_cpu()
            if args.form == "async":
                (first_s, first_n), (again_s, again_n) = _async(server, wollets, args.concurrency)
            else:
                (first_s, first_n), (again_s, again_n) = _blocking(server, wollets)
            server_cpu = children_cpu() - server_cpu
            sample = descriptors[: args.lwk_sample]
            started = time.monotonic()
            theirs = lwk_scans(url, sample)
            lwk_s = (time.monotonic() - started) / len(sample) * len(descriptors)
            ours = [len(w.transactions()) for w in wollets]
            if ours != [args.txs] * len(wollets) or theirs != [args.txs] * len(sample):
                raise SystemExit("a wallet is missing payments: the results are not comparable")
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{latency:>5} ms  first {first_s:.2f}s, {first_n} requests;"
                f" no-change {again_s:.3f}s, {again_n} requests; server CPU {server_cpu:.1f}s"
                f" | LWK {lwk_s:.1f}s | {first_s / lwk_s:.3f} | {peak_mb:.0f} MB",
                flush=True,
            )


if __name__ == "__main__":
    main()
