"""`lwk regtest serve`: the embedded regtest chain with its Electrum and Esplora servers."""

from __future__ import annotations

import argparse
import threading
from typing import TYPE_CHECKING

from lwk_core.cli import print_json

if TYPE_CHECKING:
    from lwk_core.cli import Subparsers

__all__ = ["register"]


def register(sub: Subparsers, common: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "regtest",
        parents=common,
        help="the embedded Liquid regtest chain (for development)",
        description="The embedded Liquid regtest chain serving the Electrum and Esplora "
        "protocols on 127.0.0.1, for trying lwk and testing without a node.",
    )
    regtest = p.add_subparsers(dest="regtest_command", metavar="COMMAND", required=True)
    serve = regtest.add_parser(
        "serve",
        parents=common,
        help="run the chain and its servers until Ctrl-C",
        description="Start the chain and its servers, fund an example wallet, print the "
        "servers' URLs, the network and the example wallet's descriptor (a throwaway), and "
        "run until Ctrl-C. With --json the same facts are one JSON line.",
    )
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    from .. import Regtest

    with Regtest() as rt:
        descriptor = rt.example_wallet()  # funded with a few confirmed payments
        facts = {
            "network": rt.network.value,
            "electrum_url": rt.electrum_url,
            "esplora_url": rt.esplora_url,
            "electrum_ssl_url": rt.electrum_ssl_url,
            "cert_fingerprint": rt.cert_fingerprint,
            "descriptor": descriptor,
        }
        if args.json:
            print_json(facts, compact=True)
        else:
            print(
                f"regtest chain running (Ctrl-C to stop)\n"
                f"network     {rt.network.value}\n"
                f"electrum    {rt.electrum_url}\n"
                f"esplora     {rt.esplora_url}\n"
                f"descriptor  {descriptor}\n"
                f"            (a funded throwaway example wallet)\n"
                f'try:        LWK_DESCRIPTOR="{descriptor}" lwk balance '
                f"--network {rt.network.value} --backend {rt.electrum_url}",
                flush=True,
            )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            if not args.json:
                print("stopped")
    return 0
