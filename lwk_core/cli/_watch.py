"""`lwk watch`: sync, then print every change (new block, payment, confirmation) as it comes."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .._errors import BackendError
from .._update import Update
from .._wollet import Wollet
from ._auth import auth_options
from ._common import (
    Backend,
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
from ._output import balance_json, format_btc, print_json, tip_json, tx_json

if TYPE_CHECKING:
    from ._commands import Subparsers

__all__ = ["describe_update", "register", "update_json", "watch_updates"]

log = logging.getLogger("lwk_core.cli")


def register(sub: Subparsers, common: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "watch",
        parents=[*common, wallet_options(), backend_options()],
        help="follow a wallet live",
        description="Sync the wallet, then print each change as it happens. A single "
        "Electrum backend pushes changes (subscriptions); otherwise the backends are polled "
        "every --interval seconds. --json prints one JSON object per line. Ctrl-C stops.",
    )
    p.add_argument(
        "--interval",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="poll period when the backend cannot push changes (default 10)",
    )
    p.add_argument("--max-updates", type=positive_int, metavar="N", help="stop after N changes")
    p.set_defaults(run=_watch)


def watch_updates(
    backend: Backend, wollet: Wollet, *, gap_limit: int = 20, interval: float = 10.0
) -> Iterator[Update]:
    """Yield each Update after applying it to `wollet`, forever.

    A client with a `watch(wollet, gap_limit=...)` method (lwk_electrum's ElectrumClient)
    is followed through it; anything else is polled every `interval` seconds, and a failed
    poll is logged and retried at the next one.
    """
    watch = getattr(backend, "watch", None)
    if callable(watch):
        for update in watch(wollet, gap_limit=gap_limit):
            wollet.apply_update(update)
            yield update
        return
    while True:
        try:
            update = backend.sync(wollet, gap_limit)
        except BackendError as exc:
            log.warning("%s; retrying in %gs", exc, interval)
            update = None
        if update is not None:
            wollet.apply_update(update)
            yield update
        _pause(interval)


def _pause(seconds: float) -> None:
    """The wait between two polls (a poll period, not a synchronisation)."""
    time.sleep(seconds)


def describe_update(wollet: Wollet, update: Update) -> list[str]:
    """Human lines for an applied update: new, confirmed and dropped txs, then the balance."""
    policy = wollet.network.policy_asset
    new = {tx.txid for tx in update.new_txs}
    lines = []
    changed = (wollet.transaction(txid) for txid in update.txid_height_new)
    for tx in sorted((t for t in changed if t is not None), key=lambda t: t.txid):
        where = "unconfirmed" if tx.height is None else f"height {tx.height}"
        if tx.txid in new:
            amount = format_btc(tx.balance.get(policy, 0), signed=True)
            lines.append(f"new tx     {tx.txid}  {tx.type} {amount} L-BTC, {where}")
        elif tx.height is None:
            lines.append(f"unconfirmed {tx.txid}  (back in the mempool)")
        else:
            lines.append(f"confirmed  {tx.txid}  at {where}")
    lines += [f"dropped    {txid}" for txid in sorted(update.txid_height_delete)]
    if lines:
        lines.append(f"balance    {format_btc(wollet.balance().btc_balance())} L-BTC")
    else:
        lines.append(f"new block  height {update.tip.height}")
    return lines


def update_json(wollet: Wollet, update: Update) -> dict[str, Any]:
    changed = (wollet.transaction(txid) for txid in update.txid_height_new)
    return {
        "tip": tip_json(update.tip),
        "new_txids": sorted(tx.txid for tx in update.new_txs),
        "changed": [tx_json(tx) for tx in changed if tx is not None],
        "deleted": sorted(update.txid_height_delete),
        **balance_json(wollet.balance(), wollet.network),
    }


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
        updates = watch_updates(backend, wollet, gap_limit=args.gap_limit, interval=args.interval)
        for count, update in enumerate(updates, start=1):
            if args.json:
                print_json(update_json(wollet, update), compact=True)
            else:
                print("\n".join(describe_update(wollet, update)), flush=True)
            if count == args.max_updates:
                break
    return 0
