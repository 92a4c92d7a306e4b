"""`python -m benchmarks._many`: many small wallets synced concurrently through ONE async
client (AsyncEsploraClient), against LWK syncing them one after the other.

Each wallet (its own seed) is paid `--txs` confirmed blinded payments over two receive
addresses. Ours: one `AsyncEsploraClient` (`--concurrency` requests in flight), every
wallet's `full_scan` gathered at once, fresh wallets. LWK: its Electrum client (its fastest,
batched) scanning `--lwk-sample` of the wallets one by one; its time for all of them is the
sample's mean times the number of wallets (said so in the output). Both must find every
payment. Latency is added by the servers before every reply (`ServerProcess`). Peak memory
is this process's peak resident set size after our run (`getrusage`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import resource
import time

import lwk
from lwk_esplora import AsyncEsploraClient

from lwk_core import Network, Wollet

from ._server import ServerProcess

_ADDRESSES = 2
_SATS = 10_000


def _descriptor(index: int) -> str:
    network = lwk.Network.regtest_default()
    seed = hashlib.sha256(f"lwk-core many-wallets benchmark {index}".encode()).digest()[:16]
    return str(lwk.Signer(lwk.Mnemonic.from_entropy(seed), network).wpkh_slip77_descriptor())


async def _ours(url: str, descriptors: list[str], concurrency: int) -> list[int]:
    """Every wallet scanned at once through one client; the tx count of each."""
    wollets = [Wollet(Network.ELEMENTS_REGTEST, d) for d in descriptors]
    async with AsyncEsploraClient(
        url=url, network=Network.ELEMENTS_REGTEST, concurrency=concurrency
    ) as client:
        updates = await asyncio.gather(*(client.full_scan(w) for w in wollets))
    for wollet, update in zip(wollets, updates, strict=True):
        if update is not None:
            wollet.apply_update(update)
    return [len(w.transactions()) for w in wollets]


def _lwk(url: str, descriptors: list[str]) -> list[int]:
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._many", description=__doc__)
    parser.add_argument("--wallets", type=int, default=1000)
    parser.add_argument("--txs", type=int, default=5, help="payments per wallet")
    parser.add_argument("--latencies", type=int, nargs="+", default=[0, 50], help="ms")
    parser.add_argument("--concurrency", type=int, default=32, help="our requests in flight")
    parser.add_argument("--lwk-sample", type=int, default=20, help="wallets LWK scans")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()

    descriptors = [_descriptor(i) for i in range(args.wallets)]
    with ServerProcess(args.cache_dir) as server:
        started = time.monotonic()
        for descriptor in descriptors:
            server.rt.fund_wallet(
                descriptor, args.txs, n_addresses=_ADDRESSES, txs_per_block=50, sats=_SATS
            )
        server.rt.mine(1)
        print(
            f"{args.wallets} wallets x {args.txs} txs funded in {time.monotonic() - started:.0f}s"
        )
        print(
            "latency  ours (all, concurrent)  LWK electrum (est. all, sequential)  ratio  peak RSS"
        )
        for latency in args.latencies:
            server.set_latency(latency / 1000)
            before = server.requests("esplora")
            started = time.monotonic()
            ours = asyncio.run(
                _ours(server.urls["esplora"] + "/api", descriptors, args.concurrency)
            )
            ours_s = time.monotonic() - started
            requests = server.requests("esplora") - before
            sample = descriptors[: args.lwk_sample]
            started = time.monotonic()
            theirs = _lwk(server.urls["electrum"], sample)
            lwk_s = (time.monotonic() - started) / len(sample) * len(descriptors)
            if ours != [args.txs] * len(descriptors) or theirs != [args.txs] * len(sample):
                raise SystemExit("a wallet is missing payments: the results are not comparable")
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{latency:>5} ms  {ours_s:>8.1f}s ({requests} requests)  {lwk_s:>10.1f}s"
                f"  {ours_s / lwk_s:>17.3f}  {peak_mb:.0f} MB"
            )


if __name__ == "__main__":
    main()
