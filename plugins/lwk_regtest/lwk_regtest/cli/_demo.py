"""`lwk demo`: a tour on the embedded regtest chain, with failover and a live payment."""

from __future__ import annotations

import argparse
import socket
import threading
import time
from typing import TYPE_CHECKING

from lwk_core import BackendChain, NewTx, TxConfirmed, Wollet
from lwk_core.cli import (
    describe_event,
    format_btc,
    log_to,
    print_balance,
    print_txs,
)

if TYPE_CHECKING:
    from lwk_core.cli import Subparsers

    from .. import Regtest

__all__ = ["register", "run_demo"]

_LIVE = 50_000  # sats the faucet pays while the demo watches


def register(sub: Subparsers, common: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        parents=common,
        help="a tour on an embedded regtest chain (no network needed)",
        description="Start an embedded Liquid regtest chain, fund a wallet, sync it through "
        "a failover chain whose first backend is down, show the balance and transactions, "
        "then watch a payment arrive and confirm. Takes a few seconds.",
    )
    p.set_defaults(run=lambda args: run_demo())


def _closed_port() -> int:
    """A local port nothing listens on (bound then released), for the backend that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run_demo() -> int:
    from .. import Regtest

    started = time.monotonic()
    print("lwk demo: a watch-only Liquid wallet kept in sync through a failover chain")
    _step("starting an embedded Liquid regtest chain")
    with Regtest() as rt:
        print(f"   electrum  {rt.electrum_url}\n   esplora   {rt.esplora_url}")
        _step("the faucet funds an example wallet; a block confirms the payments")
        wollet = Wollet(rt.network, rt.example_wallet())
        print(f"   wallet {wollet.dwid()} (watch-only: a descriptor, no private keys)")

        down = f"tcp://127.0.0.1:{_closed_port()}"
        backends = [down, rt.electrum_url, rt.esplora_url]
        _step("syncing through BackendChain([...]) whose first backend is down")
        notes = ("nothing listens here", "Electrum", "Esplora")
        for i, (url, note) in enumerate(zip(backends, notes, strict=True), start=1):
            print(f"   {i}. {url}  ({note})")
        with (
            BackendChain(backends, network=rt.network) as chain,
            log_to(to_stdout=True, logger="lwk_core.failover", fmt="   ! %(message)s"),
        ):
            update = chain.sync(wollet)
            if update is not None:
                wollet.apply_update(update)
            tip = wollet.tip()
            print(f"   synced to height {tip.height if tip else '?'}")

            _step("balance")
            print_balance(wollet.balance(), rt.network, indent="   ")
            _step("transactions, newest first")
            print_txs(wollet.transactions(), rt.network, indent="   ")

            address = wollet.address()
            _step(
                f"watching; the faucet now pays {format_btc(_LIVE)} L-BTC to address "
                f"#{address.index()}"
            )
            payer = threading.Timer(0.3, rt.faucet, (address.address(), _LIVE))
            payer.start()
            try:
                _follow_payment(rt, chain, wollet)
            finally:
                payer.cancel()
    print(f"\ndone in {time.monotonic() - started:.1f}s")
    return 0


def _follow_payment(rt: Regtest, chain: BackendChain, wollet: Wollet) -> None:
    """Print events until the live payment arrives, then mine it and show it confirmed."""
    events = chain.watch(wollet, interval=0.2)
    for event in events:
        print(f"   {describe_event(wollet, event)}", flush=True)
        if isinstance(event, NewTx):
            print("   (mining a block)", flush=True)
            rt.mine(1)
        elif isinstance(event, TxConfirmed):
            return
