"""`lwk-paymon` (or `python -m lwk_paymon`): run the monitor until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from lwk_core import LwkError, Network

from ._descriptors import read_descriptors
from ._monitor import Emit, Monitor
from ._sinks import PostSink, print_event

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lwk-paymon",
        description="Announce each payment and confirmation of a list of wallets as one JSON "
        "object per line (stdout, or POSTed to --post URL).",
    )
    p.add_argument("descriptors", type=Path, help="a file of CT descriptors, one per line")
    p.add_argument("--network", required=True, help="liquid, liquidtestnet or elementsregtest")
    p.add_argument(
        "--backend",
        metavar="URL",
        action="append",
        required=True,
        help="tcp://, ssl://, http://, https://; repeat for failover, in that order",
    )
    p.add_argument(
        "--datadir", type=Path, required=True, help="where the wallets are kept between runs"
    )
    p.add_argument(
        "--interval", type=float, default=10.0, metavar="SECONDS", help="poll period (10)"
    )
    p.add_argument("--post", metavar="URL", help="POST each event there instead of printing")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="lwk-paymon: %(levelname)s: %(message)s")
    try:
        network = Network.from_name(args.network)
        if not args.interval > 0:
            raise ValueError("--interval must be more than 0 seconds")
        emit: Emit = print_event if args.post is None else PostSink(args.post)
        descriptors = read_descriptors(args.descriptors)
        monitor = Monitor(network, descriptors, args.backend, args.datadir, emit)
    except (LwkError, ValueError, OSError) as exc:
        print(f"lwk-paymon: error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def stop_on(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stop_on)
    signal.signal(signal.SIGINT, stop_on)
    with monitor:
        monitor.run(args.interval, stop)
    return 0
