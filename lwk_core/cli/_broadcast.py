"""`lwk broadcast HEX`: send a signed transaction through the backends."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ._common import backend_options, network_type, open_backend
from ._output import print_json

if TYPE_CHECKING:
    from ._commands import Subparsers

__all__ = ["register"]


def register(sub: Subparsers, common: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "broadcast",
        parents=[*common, backend_options(gap_limit=False)],
        help="send a signed transaction",
        description="Send a signed transaction (hex) and print its txid. Several --backend: "
        "the next one is tried only if a backend fails; a rejection by the node is final "
        "(exit 5).",
    )
    p.add_argument("hex", metavar="HEX", help="the transaction in hex ('-': read stdin)")
    p.add_argument("--network", type=network_type, help="needed by http(s):// (Esplora) backends")
    p.set_defaults(run=_broadcast)


def _broadcast(args: argparse.Namespace) -> int:
    raw = sys.stdin.read() if args.hex == "-" else args.hex
    with open_backend(args.backend, args.network, args) as backend:
        txid = backend.broadcast(raw.strip())
    if args.json:
        print_json({"txid": txid})
    else:
        print(txid)
    return 0
