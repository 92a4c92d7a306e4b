"""`lwk regtest serve`: the embedded regtest chain with its Electrum and Esplora servers."""

from __future__ import annotations

import argparse
import functools
import threading
from typing import TYPE_CHECKING

from .._wollet import Wollet
from ._output import format_btc, print_json

if TYPE_CHECKING:
    from . import Subparsers

__all__ = ["EXAMPLE_FUNDING", "example_descriptor", "register"]

# The BIP-39 test mnemonic: a well-known, throwaway wallet (never for real funds).
_EXAMPLE_MNEMONIC = " ".join(["abandon"] * 11 + ["about"])
EXAMPLE_FUNDING = 1_000_000  # sats paid to the example wallet by `regtest serve`


@functools.cache
def example_descriptor() -> str:
    """The example wallet: SLIP-77 blinding and elwpkh over m/84'/1'/0' of the test mnemonic."""
    from embit import bip32, bip39
    from embit.liquid import slip77
    from embit.networks import NETWORKS

    seed = bip39.mnemonic_to_seed(_EXAMPLE_MNEMONIC)
    root = bip32.HDKey.from_seed(seed, version=NETWORKS["test"]["xprv"])
    account = root.derive("m/84h/1h/0h").to_public()
    tpub = account.to_string(version=NETWORKS["test"]["xpub"])
    blinding = slip77.master_blinding_from_seed(seed).secret.hex()
    origin = f"{root.my_fingerprint.hex()}/84'/1'/0'"
    return f"ct(slip77({blinding}),elwpkh([{origin}]{tpub}/<0;1>/*))"


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
    from ..regtest import Regtest

    descriptor = example_descriptor()
    with Regtest() as rt:
        wollet = Wollet(rt.network, descriptor)
        rt.faucet(wollet.address(0).address(), EXAMPLE_FUNDING)
        rt.mine(1)
        facts = {
            "network": rt.network.value,
            "electrum_url": rt.electrum_url,
            "esplora_url": rt.esplora_url,
            "descriptor": descriptor,
            "funded_sats": EXAMPLE_FUNDING,
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
                f"            (a throwaway example wallet holding "
                f"{format_btc(EXAMPLE_FUNDING)} L-BTC)\n"
                f"try:        lwk balance --network {rt.network.value} "
                f"--backend {rt.electrum_url} --descriptor '{descriptor}'",
                flush=True,
            )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            if not args.json:
                print("stopped")
    return 0
