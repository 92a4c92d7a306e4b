"""`lwk watch`: sync, then print every wallet-change event (lwk_core's) as it comes; with
`--descriptors FILE`, of every wallet of the file, followed through one Monitor."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from .._events import (
    BalanceChanged,
    NewTip,
    NewTx,
    TxConfirmed,
    TxDropped,
    TxHeightChanged,
    WalletEvent,
)
from .._monitor import Monitor
from .._wollet import Wollet
from ._common import (
    backend_options,
    open_backend,
    open_wallet,
    positive_float,
    positive_int,
    sync_wallet,
    wallet_options,
)
from ._errors import UsageError
from ._output import balance_json, format_btc, print_json, tip_json

if TYPE_CHECKING:
    from ._commands import Subparsers

__all__ = ["describe_event", "register"]


def register(sub: Subparsers, common: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "watch",
        parents=[*common, wallet_options(), backend_options()],
        help="follow a wallet live",
        description="Sync the wallet, then print each change as it happens: new block, "
        "new transaction, confirmation, a reorg moving a transaction, a dropped one, the "
        "balance per asset. An Electrum backend pushes changes (subscriptions); otherwise "
        "the backends are polled every --interval seconds, and a failing backend is retried "
        "or failed over. --json prints one JSON object per event per line. Ctrl-C stops. "
        "--descriptors FILE follows every wallet of the file at once (each line prefixed "
        'with the wallet\'s dwid; --json: a "wallet" field holds it).',
    )
    p.add_argument(
        "--descriptors",
        metavar="FILE",
        type=Path,
        help="follow many wallets: one CT descriptor per line (blank lines and lines "
        "starting with # are skipped)",
    )
    p.add_argument(
        "--interval",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="poll period when the backend cannot push changes (default 10)",
    )
    p.add_argument("--max-events", type=positive_int, metavar="N", help="stop after N events")
    p.set_defaults(run=_watch)


def describe_event(wollet: Wollet, event: WalletEvent) -> str:
    """One human line for an event of `wollet` (amounts in L-BTC for the policy asset)."""
    policy = wollet.network.policy_asset
    if isinstance(event, NewTip):
        return f"new block  height {event.height}  {event.hash}"
    if isinstance(event, NewTx):
        tx = wollet.transaction(event.txid)
        kind = f"{tx.type} " if tx is not None else ""
        where = "unconfirmed" if event.height is None else f"height {event.height}"
        amount = format_btc(event.balance.get(policy, 0), signed=True)
        return f"new tx     {event.txid}  {kind}{amount} L-BTC, {where}"
    if isinstance(event, TxConfirmed):
        return f"confirmed  {event.txid}  at height {event.height}"
    if isinstance(event, TxHeightChanged):
        to = "back to the mempool" if event.new_height is None else f"height {event.new_height}"
        return f"reorg      {event.txid}  height {event.old_height} -> {to}"
    if isinstance(event, TxDropped):
        replaced = f"  (replaced by {event.replaced_by})" if event.replaced_by else ""
        return f"dropped    {event.txid}{replaced}"
    if isinstance(event, BalanceChanged):
        if event.asset == policy:
            return f"balance    {format_btc(event.new)} L-BTC"
        return f"balance    {event.new} of asset {event.asset} ({event.delta:+d})"
    return f"{event.kind:<10} {event.as_dict()}"  # a kind newer than this CLI


def _watch(args: argparse.Namespace) -> int:
    if not args.backend:
        raise UsageError("no backend: give --backend URL (repeat it for failover)")
    if args.descriptors is not None:
        return _watch_many(args)
    wollet = open_wallet(args)
    with (
        wollet,
        open_backend(args.backend, wollet.network, args) as backend,
    ):
        sync_wallet(backend, wollet, args.gap_limit)
        tip = wollet.tip()
        if args.json:
            print_json(
                {"tip": tip_json(tip), **balance_json(wollet.balance(), wollet.network)},
                compact=True,
            )
        else:
            height = tip.height if tip is not None else "?"
            btc = format_btc(wollet.balance().btc_balance())
            print(f"watching   height {height}, balance {btc} L-BTC (Ctrl-C to stop)", flush=True)
        events = backend.watch(wollet, gap_limit=args.gap_limit, interval=args.interval)
        for count, event in enumerate(events, start=1):
            if args.json:
                print_json(event.as_dict(), compact=True)
            else:
                print(describe_event(wollet, event), flush=True)
            if count == args.max_events:
                break
    return 0


def _watch_many(args: argparse.Namespace) -> int:
    if args.descriptor or args.descriptor_file or args.datadir:
        raise UsageError("--descriptors replaces --descriptor, --descriptor-file and --datadir")
    wollets = [open_wallet(args, text) for text in _read_descriptors(args.descriptors)]
    if not wollets:
        raise UsageError("the --descriptors file lists no descriptor")
    dwids = {id(w): w.dwid() for w in wollets}  # computed once: an EC derivation each
    networks = {w.network for w in wollets}
    network = wollets[0].network if len(networks) == 1 else None
    with open_backend(args.backend, network, args) as backend:
        if not args.json:
            print(f"watching   {len(wollets)} wallets (Ctrl-C to stop)", flush=True)
        monitor = Monitor(backend, wollets, gap_limit=args.gap_limit, interval=args.interval)
        with contextlib.closing(monitor.events()) as events:
            for count, (wollet, event) in enumerate(events, start=1):
                if args.json:
                    print_json({"wallet": dwids[id(wollet)], **event.as_dict()}, compact=True)
                else:
                    print(f"{dwids[id(wollet)][:9]}  {describe_event(wollet, event)}", flush=True)
                if count == args.max_events:
                    break
    return 0


def _read_descriptors(path: Path) -> list[str]:
    """The descriptors of the file, one per line (a `#` starting a line starts a comment;
    a descriptor's checksum follows a `#` inside the line)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read the descriptors file: {exc.strerror}") from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
