"""`python -m benchmarks`: lwk-core vs LWK 0.19, same servers, same run; prints the table.

With --write-docs it also regenerates the measured part of docs/benchmarks.md and its plot.
The many-wallets monitor and the stores are measured apart (`python -m benchmarks._monitor`,
`python -m benchmarks._stores`, each minutes long): their JSON files, when present, are
reported with this run against issue 18's targets (`--monitor-json`, `--stores-json`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, cast

from ._docs import MarkersNotFound, check_docs, write_docs
from ._monitor import DEFAULT_JSON as _MONITOR_JSON
from ._plot import PlotUnavailable
from ._report import attach_many, format_report, targets, write_json
from ._run import LARGE, Options, run
from ._server import BACKENDS, Backend
from ._stores import DEFAULT_JSON as _STORES_JSON

_DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"
_DEFAULT_DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def _ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of integers: {text}"
        ) from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"need non-negative integers: {text}")
    return values


def _backends(text: str) -> list[Backend]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names or not set(names) <= set(BACKENDS):
        raise argparse.ArgumentTypeError(f"backends are some of {', '.join(BACKENDS)}")
    return [cast(Backend, name) for name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="sizes 20,200 with 2 runs")
    parser.add_argument("--sizes", type=_ints, help="wallet sizes in txs (default 20,200,2000)")
    parser.add_argument("--runs", type=int, help="timed runs per measurement (default 3)")
    parser.add_argument(
        "--runs-large", type=int, default=1, help=f"runs for sizes >= {LARGE} (default 1)"
    )
    parser.add_argument(
        "--latencies", type=_ints, default=[0, 50], help="ms added per reply (default 0,50)"
    )
    parser.add_argument(
        "--max-size-with-latency",
        type=int,
        help="measure larger sizes at 0 ms only (e.g. 2000 with --sizes 200,2000,10000)",
    )
    parser.add_argument(
        "--backends", type=_backends, default=list(BACKENDS), help="default: all three"
    )
    parser.add_argument("--json", type=Path, default=_DEFAULT_JSON, help="where to write results")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory children")
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only the peak-memory children (no timed scans; not with --write-docs)",
    )
    parser.add_argument("--cache-dir", help="the faucet's tx cache (default ~/.cache/lwk-regtest)")
    parser.add_argument(
        "--lwk-esplora-concurrency",
        type=int,
        help="build LWK's Esplora client with this concurrency (default: its plain constructor)",
    )
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help="also rewrite the measured part of --docs and its plot (needs matplotlib)",
    )
    parser.add_argument("--docs", type=Path, default=_DEFAULT_DOCS, help="the page to rewrite")
    parser.add_argument(
        "--monitor-json", type=Path, default=_MONITOR_JSON, help="benchmarks._monitor's results"
    )
    parser.add_argument(
        "--stores-json", type=Path, default=_STORES_JSON, help="benchmarks._stores' results"
    )
    parser.add_argument(
        "--from-json", type=Path, help="measure nothing: report (and --write-docs) these results"
    )
    args = parser.parse_args(argv)
    if args.write_docs:
        try:
            check_docs(args.docs)
        except (OSError, MarkersNotFound, PlotUnavailable) as exc:
            parser.error(f"--write-docs: {exc}")
    if args.memory_only and (args.no_memory or args.write_docs):
        parser.error("--memory-only measures memory only: not with --no-memory or --write-docs")
    many = (args.stores_json, args.monitor_json)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        # measured against today's targets, also when the file predates them
        saved = attach_many({**saved, "targets": targets(saved)}, *many)
        return _report(saved, args.write_docs, args.docs)
    sizes = args.sizes or ([20, 200] if args.quick else [20, 200, 2000])
    runs = args.runs or (2 if args.quick else 3)
    if runs < 1 or args.runs_large < 1:
        parser.error("--runs and --runs-large must be at least 1")
    options = Options(
        sizes=sizes,
        runs=runs,
        runs_large=args.runs_large,
        latencies_ms=[] if args.memory_only else args.latencies,
        max_size_with_latency=args.max_size_with_latency,
        backends=args.backends,
        memory=not args.no_memory,
        cache_dir=args.cache_dir,
        lwk_esplora_concurrency=args.lwk_esplora_concurrency,
    )
    result = attach_many(run(options), *many)
    write_json(result, args.json)
    print(f"written to {args.json}", file=sys.stderr)
    return _report(result, args.write_docs, args.docs)


def _report(result: dict[str, Any], docs: bool, page: Path) -> int:
    print(format_report(result))
    if docs:
        plot = write_docs(result, page)
        print(f"\nrewrote {page} and {plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
