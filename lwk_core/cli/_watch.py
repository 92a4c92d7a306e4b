"""`lwk watch`: sync, then print every wallet-change event (lwk_core's) as it comes."""

from __future__ import annotations

import argparse
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
from .._wollet import Wollet
from ._auth import auth_options
from ._common import (
    backend_options,
    connection_flags,
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
        "or failed over. --json prints one JSON object per event per line. Ctrl-C stops.",
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
    wollet = open_wallet(args)
    with (
        wollet,
        open_backend(
            args.backend, wollet.network, args.timeout, auth_options(args), **connection_flags(args)
        ) as backend,
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
