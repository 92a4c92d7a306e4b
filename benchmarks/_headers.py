"""`python -m benchmarks._headers`: the cost of checking one header's block signatures.

Times `verify_header` on the real signed headers of tests/data/signed-headers.json (Liquid
mainnet legacy and dynafed headers: 11 signatures checked against 15 keys; testnet: 1 of 1)
with the signers pinned for their network. The goal is under 1 ms per mainnet header; the
Client checks one header per new tip (an unchanged tip is not checked again).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from lwk_core import BlockHeader, Federation, Network, pinned_federation, verify_header

_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "signed-headers.json"
GOAL_MS = 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._headers", description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args(argv)
    worst = 0.0
    for vector in json.loads(_DATA.read_text())["headers"]:
        if vector["network"] is None:
            continue
        header = BlockHeader.from_hex(vector["header_hex"])
        signers = pinned_federation(Network.from_name(vector["network"]))
        assert isinstance(signers, Federation)
        timings = []
        for _ in range(args.runs):
            start = time.perf_counter()
            verify_header(header, signers)
            timings.append((time.perf_counter() - start) * 1000)
        median = statistics.median(timings)
        worst = max(worst, median)
        print(f"{median:7.3f} ms median, {min(timings):7.3f} ms best  {vector['name']}")
    print(f"goal < {GOAL_MS} ms per header: {'met' if worst < GOAL_MS else 'NOT met'}")
    return 0 if worst < GOAL_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
