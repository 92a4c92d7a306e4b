"""`lwk demo`: a tour on the embedded regtest chain, with failover and a live payment."""

from __future__ import annotations

import argparse
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from lwk_core import BackendChain, NewTx, TxConfirmed, Wollet
from lwk_core.cli import (
    balance_json,
    describe_event,
    format_btc,
    log_to,
    print_balance,
    print_json,
    print_txs,
    tip_json,
    tx_json,
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
        "then watch a payment arrive and confirm. Takes a few seconds. --json: the same "
        "steps as JSON objects, one per line.",
    )
    p.set_defaults(run=lambda args: run_demo(as_json=args.json))


def _closed_port() -> int:
    """A local port nothing listens on (bound then released), for the backend that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run_demo(*, as_json: bool = False) -> int:
    """The tour, as text; with `as_json` the same steps as JSON objects, one per line."""
    from .. import Regtest

    started = time.monotonic()
    say = _Narrator(as_json)
    say.text("lwk demo: a watch-only Liquid wallet kept in sync through a failover chain")
    say.step("starting an embedded Liquid regtest chain")
    with Regtest() as rt:
        say.text(f"   electrum  {rt.electrum_url}\n   esplora   {rt.esplora_url}")
        say.json(
            event="chain",
            network=rt.network.value,
            electrum_url=rt.electrum_url,
            esplora_url=rt.esplora_url,
        )
        say.step("the faucet funds an example wallet; a block confirms the payments")
        wollet = Wollet(rt.network, rt.example_wallet())
        say.text(
            f"   wallet id {wollet.dwid()}\n"
            "   (the dwid, ELIP-152: LWK's name for this descriptor's wallet, derived from it but\n"
            "   revealing none of its keys; the wallet is watch-only: no private keys)"
        )
        say.json(event="wallet", dwid=wollet.dwid())

        down = f"tcp://127.0.0.1:{_closed_port()}"
        backends = [down, rt.electrum_url, rt.esplora_url]
        say.step("syncing through BackendChain([...]) whose first backend is down")
        notes = ("nothing listens here", "Electrum", "Esplora")
        for i, (url, note) in enumerate(zip(backends, notes, strict=True), start=1):
            say.text(f"   {i}. {url}  ({note})")
        signers = rt.signers
        assert signers is not None  # the demo's chain signs its blocks (DEFAULT_SIGNERS)
        say.text(
            f"   every tip header must carry {signers.threshold} of the {len(signers.seeds)} "
            "block signers' signatures (client.block_signers)"
        )
        with (
            BackendChain(backends, network=rt.network) as chain,
            # the failover is part of the story: on stdout as text, on stderr beside JSON
            log_to(
                to_stdout=not as_json,
                logger="lwk_core.failover",
                fmt="lwk: warning: %(message)s" if as_json else "   ! %(message)s",
            ),
        ):
            for backend in chain.backends:
                backend.block_signers = rt.federation()
            update = chain.sync(wollet)
            if update is not None:
                wollet.apply_update(update)
            tip = wollet.tip()
            say.text(f"   synced to height {tip.height if tip else '?'}")
            say.json(
                event="synced",
                backends=backends,
                tip=tip_json(tip),
                **balance_json(wollet.balance(), rt.network),
                transactions=[tx_json(tx) for tx in wollet.transactions()],
            )
            if not as_json:
                _step("balance")
                print_balance(wollet.balance(), rt.network, indent="   ")
                _step("transactions, newest first (FEE: only what the wallet paid)")
                print_txs(wollet.transactions(), rt.network, indent="   ")

            address = wollet.address()
            say.step(
                f"watching; the faucet now pays {format_btc(_LIVE)} L-BTC to address "
                f"#{address.index()}"
            )
            say.json(event="watching", address=address.address(), index=address.index())
            payer = threading.Timer(0.3, rt.faucet, (address.address(), _LIVE))
            payer.start()
            try:
                _follow_payment(rt, chain, wollet, say)
            finally:
                payer.cancel()
    seconds = time.monotonic() - started
    say.text(f"\ndone in {seconds:.1f}s")
    say.json(event="done", seconds=round(seconds, 3))
    return 0


class _Narrator:
    """Prints the tour's text lines, or (as_json) its JSON objects; each call is one or
    the other, so a step is written once for both."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def text(self, line: str) -> None:
        if not self.as_json:
            print(line, flush=True)

    def step(self, title: str) -> None:
        if not self.as_json:
            _step(title)

    def json(self, **fields: Any) -> None:
        if self.as_json:
            print_json(fields, compact=True)


def _follow_payment(rt: Regtest, chain: BackendChain, wollet: Wollet, say: _Narrator) -> None:
    """Print events until the live payment arrives, then mine it and show it confirmed."""
    for event in chain.watch(wollet, interval=0.2):
        say.text(f"   {describe_event(wollet, event)}")
        say.json(**event.as_dict())
        if isinstance(event, NewTx):
            say.text("   (mining a block)")
            rt.mine(1)
        elif isinstance(event, TxConfirmed):
            return
