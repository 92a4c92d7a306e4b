"""`python -m benchmarks._spv`: what SPV and header signatures cost a first scan.

On an in-process regtest chain signed by a 2-of-3 federation (block signers need the chain
in this process), the benchmark wallet of `--size` transactions (200 by default, built as
`python -m benchmarks` builds it) is first-scanned by a fresh client with the checks off
(no block signers, `verify_merkle=False`) and on (the federation's signatures on every
header asked, a Merkle proof of every confirmation), runs interleaved, per backend and
latency. The goal (issue 21) is a median ratio on/off of at most 1.2.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

from lwk_electrum import ElectrumClient
from lwk_esplora import EsploraClient
from lwk_regtest import BlockSigners, Regtest

from lwk_core import Client, Network, Wollet

from ._wallets import fund_wallet

GOAL_RATIO = 1.2
BACKENDS = ("electrum", "esplora")


def _client(rt: Regtest, backend: str, checks: bool, signers: BlockSigners) -> Client:
    client: Client
    if backend == "electrum":
        client = ElectrumClient.from_url(rt.electrum_url, verify_merkle=checks)
    else:
        client = EsploraClient(rt.esplora_url, Network.ELEMENTS_REGTEST, verify_merkle=checks)
    client.block_signers = signers.federation() if checks else None
    return client


def _first_scan(make: Callable[[], Client], descriptor: str, size: int) -> float:
    wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor)
    start = time.perf_counter()
    with make() as client:
        update = client.full_scan(wollet)
    elapsed = time.perf_counter() - start
    assert update is not None
    wollet.apply_update(update)
    assert len(wollet.transactions()) == size, "the scan missed transactions"
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._spv", description=__doc__)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latencies", default="0,50", help="ms added per reply (default 0,50)")
    args = parser.parse_args(argv)
    latencies = [int(ms) for ms in args.latencies.split(",") if ms.strip()]
    signers = BlockSigners.generate(2, 3)
    worst = 0.0
    with Regtest(signers=signers, cache=False) as rt:
        wallet = fund_wallet(rt, args.size)
        for backend in BACKENDS:
            for latency in latencies:
                rt.set_faults(backend, None, None, latency / 1000)
                times: dict[bool, list[float]] = {False: [], True: []}
                for run in range(args.runs):
                    for checks in (run % 2 == 0, run % 2 == 1):  # who goes first alternates
                        make = functools.partial(_client, rt, backend, checks, signers)
                        times[checks].append(_first_scan(make, wallet.descriptor, args.size))
                off, on = statistics.median(times[False]), statistics.median(times[True])
                worst = max(worst, on / off)
                print(
                    f"{args.size} txs {backend:8} {latency:3} ms first scan: "
                    f"off {off * 1000:7.1f} ms, on {on * 1000:7.1f} ms, ratio {on / off:.2f}"
                )
            rt.set_faults(backend, None, None, 0)
    print(f"goal on/off <= {GOAL_RATIO}: {'met' if worst <= GOAL_RATIO else 'NOT met'}")
    return 0 if worst <= GOAL_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
