"""`python -m benchmarks._profile`: cProfile of one of our scans of a benchmark wallet: the
first full scan, or a rescan with nothing new, or a rescan after one payment (`--scenario`).

The servers run in their own process (as in the benchmark), so the profile shows only the
client. Prints the top functions by cumulative and by own time; `--out` keeps the raw stats.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from typing import cast

from ._clients import Ours
from ._measure import PAYMENT_SATS, SCENARIOS
from ._server import Backend, ServerProcess
from ._wallets import build_wallet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._profile", description=__doc__)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--backend", choices=["electrum", "esplora"], default="electrum")
    parser.add_argument("--latency", type=int, default=0, help="ms added per reply")
    parser.add_argument("--scenario", choices=SCENARIOS, default="first_scan")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", help="write the raw pstats here")
    args = parser.parse_args(argv)
    backend = cast(Backend, args.backend)
    ours = Ours()
    with ServerProcess() as server:
        wallet = build_wallet(server, args.size)
        server.set_latency(args.latency / 1000)
        warm = ours.new_wollet(wallet.descriptor)  # imports, plugin manager, secp context
        ours.scan(ours.new_client(backend, server.urls[backend]), warm)
        wollet = ours.new_wollet(wallet.descriptor)
        client = ours.new_client(backend, server.urls[backend])
        if args.scenario != "first_scan":
            ours.scan(client, wollet)  # the rescans profile the same client's next scan
        if args.scenario == "rescan_payment":
            server.rt.faucet(wallet.fresh_address(), PAYMENT_SATS)
        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.runcall(ours.scan, client, wollet)
        print(
            f"{args.scenario}: {time.perf_counter() - start:.3f} s (under cProfile)",
            file=sys.stderr,
        )
        ours.close(client)
    stats = pstats.Stats(profile, stream=sys.stdout).strip_dirs()
    if args.out:
        stats.dump_stats(args.out)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
