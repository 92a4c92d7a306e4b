"""`lwk regtest serve|faucet|mine|tip`: the embedded regtest chain with its servers, and the
commands that pay and mine on it from another terminal (through `_control`)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lwk_core import LwkError
from lwk_core.cli import UsageError, print_json
from lwk_core.primitives import address_to_script

from ._control import (
    ControlServer,
    ServeAlreadyRunning,
    ServeNotRunning,
    call,
    read_state,
    remove_state,
    state_dir,
    write_state,
)

if TYPE_CHECKING:
    from lwk_core.cli import Subparsers

    from .. import Regtest

__all__ = ["register"]


def register(sub: Subparsers, common: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "regtest",
        parents=common,
        help="the embedded Liquid regtest chain (for development)",
        description="The embedded Liquid regtest chain serving the Electrum, Esplora and "
        "Waterfalls protocols on 127.0.0.1, for trying lwk and testing without a node. "
        "'serve' runs it; 'faucet', 'mine' and 'tip' act on it from another terminal.",
    )
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where serve writes its URLs and control token (a 0700 directory; default "
        "$LWK_REGTEST_STATE_DIR, else $XDG_RUNTIME_DIR/lwk-regtest, else <tmp>/lwk-regtest-UID)",
    )
    parents = [*common, state]
    regtest = p.add_subparsers(dest="regtest_command", metavar="COMMAND", required=True)
    serve = regtest.add_parser(
        "serve",
        parents=parents,
        help="run the chain and its servers until Ctrl-C",
        description="Start the chain and its servers, fund an example wallet, print the "
        "servers' URLs, the TLS certificate's SHA-256 fingerprint, the network, its genesis "
        "hash, the example wallet's descriptor (a throwaway) and the LWK_BLOCK_SIGNERS "
        "value that makes lwk check the blocks' signatures, and run until Ctrl-C or "
        "SIGTERM. With --json the same facts are one JSON line.",
    )
    serve.set_defaults(run=_serve)
    faucet = regtest.add_parser(
        "faucet",
        parents=parents,
        help="pay L-BTC to an address on the running chain",
        description="Pay AMOUNT satoshis of L-BTC to ADDRESS (a confidential payment, in the "
        "mempool until 'lwk regtest mine') on the chain 'lwk regtest serve' runs; prints "
        "the txid.",
    )
    faucet.add_argument("address", metavar="ADDRESS", help="an elementsregtest address")
    faucet.add_argument("amount", metavar="AMOUNT", type=_sats, help="satoshis, e.g. 50000")
    faucet.set_defaults(run=_faucet)
    mine = regtest.add_parser(
        "mine",
        parents=parents,
        help="mine blocks on the running chain",
        description="Mine N blocks (default 1) on the chain 'lwk regtest serve' runs; the "
        "first confirms every transaction in the mempool. Prints the block hashes.",
    )
    mine.add_argument("blocks", metavar="N", nargs="?", type=_count, default=1)
    mine.set_defaults(run=_mine)
    tip = regtest.add_parser(
        "tip",
        parents=parents,
        help="the running chain's height",
        description="The height of the chain 'lwk regtest serve' runs.",
    )
    tip.set_defaults(run=_tip)


def _positive(text: str, what: str, most: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 0 < value <= most:
        raise argparse.ArgumentTypeError(f"{what} must be a whole number from 1 to {most}")
    return value


def _sats(text: str) -> int:
    return _positive(text, "AMOUNT (satoshis)", 21_000_000 * 100_000_000)


def _count(text: str) -> int:
    return _positive(text, "N (blocks)", 1000)


# ------------------------------------------------------------------------------- serve
def _serve(args: argparse.Namespace) -> int:
    from .. import Regtest

    directory = state_dir(args.state_dir)
    _refuse_if_running(directory)
    stop = threading.Event()
    with Regtest() as rt, _on_sigterm(stop.set):
        descriptor = rt.example_wallet()  # funded with a few confirmed payments
        methods: dict[str, Callable[..., Any]] = {
            "faucet": rt.faucet,
            "mine": rt.mine,
            "tip": rt.tip_height,
        }
        control = ControlServer(methods).start()
        try:
            facts = _facts(rt, descriptor)
            private = {"pid": os.getpid(), "control": control.address, "token": control.token}
            facts["state_file"] = str(write_state(directory, {**facts, **private}))
            if args.json:
                print_json(facts, compact=True)
            else:
                _print_facts(facts)
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
        finally:
            remove_state(directory, control.token)
            control.stop()
    if not args.json:
        print("stopped", flush=True)
    return 0


def _refuse_if_running(directory: Path) -> None:
    try:
        state = read_state(directory)
        call(state, "tip", [])
    except ServeNotRunning:
        return  # none, or a stale state file (its serve was killed): replaced
    raise ServeAlreadyRunning(
        f"a 'lwk regtest serve' (pid {state.get('pid')}) already runs for {directory}; "
        "stop it, or give another --state-dir"
    )


@contextlib.contextmanager
def _on_sigterm(handler: Callable[[], None]) -> Iterator[None]:
    """Call `handler` on SIGTERM (only the main thread can set signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: handler())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _facts(rt: Regtest, descriptor: str) -> dict[str, Any]:
    return {
        "network": rt.network.value,
        "genesis_hash": rt.genesis_hash,
        "electrum_url": rt.electrum_url,
        "electrum_ssl_url": rt.electrum_ssl_url,
        "cert_fingerprint": rt.cert_fingerprint,
        "esplora_url": rt.esplora_url,
        "waterfalls_url": rt.waterfalls_url,
        "descriptor": descriptor,
        # the LWK_BLOCK_SIGNERS entry that makes clients check the chain's block signatures
        "block_signers": f"{rt.network.value}={rt.signers.script.hex()}" if rt.signers else None,
    }


def _print_facts(facts: dict[str, Any]) -> None:
    network, electrum = facts["network"], facts["electrum_url"]
    print(
        "regtest chain running (Ctrl-C to stop)\n"
        f"network      {network}\n"
        f"genesis      {facts['genesis_hash']}\n"
        f"electrum     {electrum}\n"
        f"electrum tls {facts['electrum_ssl_url']}\n"
        f"certificate  sha256 {facts['cert_fingerprint']} (self-signed)\n"
        f"esplora      {facts['esplora_url']}\n"
        f"waterfalls   {facts['waterfalls_url']}\n"
        f"descriptor   {facts['descriptor']}\n"
        "             (a funded throwaway example wallet)\n"
        f"state        {facts['state_file']}\n"
        f"signers      {facts['block_signers']}\n"
        "try, in another terminal:\n"
        f'  export LWK_DESCRIPTOR="{facts["descriptor"]}"\n'
        f'  export LWK_BLOCK_SIGNERS="{facts["block_signers"]}"   # check block signatures\n'
        f"  lwk balance --network {network} --backend {electrum}\n"
        f"  lwk address --network {network} --backend {electrum}\n"
        "  lwk regtest faucet ADDRESS 50000    # pay 50000 sats; prints the txid\n"
        "  lwk regtest mine 1                  # confirm it in a block\n"
        "  lwk regtest tip                     # the chain's height\n"
        f"  lwk watch --network {network} --backend {electrum}",
        flush=True,
    )


# ---------------------------------------------------------------- commands on a serve
def _faucet(args: argparse.Namespace) -> int:
    try:
        address_network = address_to_script(args.address).network.value
    except (LwkError, ValueError):
        raise UsageError(f"not a Liquid address: {args.address!r}") from None
    state = read_state(state_dir(args.state_dir))
    if address_network != state["network"]:
        raise UsageError(
            f"the address is of {address_network}; the running chain is {state['network']}"
        )
    txid = str(call(state, "faucet", [args.address, args.amount]))
    if args.json:
        print_json({"txid": txid, "address": args.address, "sats": args.amount})
    else:
        print(txid)
    return 0


def _mine(args: argparse.Namespace) -> int:
    state = read_state(state_dir(args.state_dir))
    hashes = [str(h) for h in call(state, "mine", [args.blocks])]
    height = int(call(state, "tip", []))
    if args.json:
        print_json({"height": height, "block_hashes": hashes})
    else:
        print("\n".join(hashes) + f"\ntip height {height}")
    return 0


def _tip(args: argparse.Namespace) -> int:
    height = int(call(read_state(state_dir(args.state_dir)), "tip", []))
    if args.json:
        print_json({"height": height})
    else:
        print(height)
    return 0
