"""`lwk sync`, `lwk balance`, `lwk txs`, `lwk address`: a wallet synced now or from --datadir."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._errors import LwkError
from .._wollet import Wollet
from ._common import (
    backend_options,
    open_backend,
    open_wallet,
    sync_wallet,
    wallet_options,
)
from ._errors import UsageError
from ._output import (
    balance_json,
    print_balance,
    print_json,
    print_table,
    print_txs,
    tip_json,
    tx_json,
)

if TYPE_CHECKING:
    from ._commands import Subparsers

__all__ = ["register"]

_SOURCE = (
    "The wallet is synced first when --backend is given, else read from --datadir (as the "
    "last `lwk sync --datadir` left it)."
)


def register(sub: Subparsers, common: list[argparse.ArgumentParser]) -> None:
    parents = [*common, wallet_options(), backend_options()]
    p = sub.add_parser(
        "sync",
        parents=parents,
        help="scan a wallet through one or more backends",
        description="Scan the wallet's addresses through the backends (several: failover in "
        "the given order) and report what changed. With --datadir the result is kept.",
    )
    p.set_defaults(run=_sync)
    for name, run, text in (
        ("balance", _balance, "the wallet's balance per asset"),
        ("txs", _txs, "the wallet's transactions, newest first"),
    ):
        p = sub.add_parser(name, parents=parents, help=f"show {text}", description=_SOURCE)
        p.set_defaults(run=run)
    p = sub.add_parser(
        "address",
        parents=parents,
        help="show a receive address",
        description="Show the first unused receive address, or the one at --index. " + _SOURCE,
    )
    p.add_argument("--index", type=_index, metavar="N", help="the address at this index")
    p.set_defaults(run=_address)


def _index(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError("must be between 0 and 2^31-1")
    return value


def _synced(args: argparse.Namespace, *, offline_ok: bool = False) -> Wollet:
    """The wallet, synced through --backend, or as stored in --datadir."""
    if not args.backend and args.datadir is None and not offline_ok:
        raise UsageError("give --backend URL to sync now, or --datadir DIR of a synced wallet")
    wollet = open_wallet(args)
    try:
        if args.backend:
            with open_backend(args.backend, wollet.network, args) as backend:
                sync_wallet(backend, wollet, args.gap_limit)
        elif wollet.tip() is None and not offline_ok:
            raise LwkError(
                f"the wallet in {args.datadir} was never synced: run `lwk sync` first, "
                "or give --backend"
            )
    except BaseException:
        wollet.close()
        raise
    return wollet


def _with_wallet(
    args: argparse.Namespace, show: Callable[[Wollet], None], *, offline_ok: bool = False
) -> int:
    with _synced(args, offline_ok=offline_ok) as wollet:
        show(wollet)
    return 0


def _sync(args: argparse.Namespace) -> int:
    if not args.backend:
        raise UsageError("no backend: give --backend URL (repeat it for failover)")
    wollet = open_wallet(args)
    with (
        wollet,
        open_backend(args.backend, wollet.network, args) as backend,
    ):
        update = sync_wallet(backend, wollet, args.gap_limit)
        new = 0 if update is None else len(update.new_txs)
        if args.json:
            print_json(
                {
                    "network": wollet.network.value,
                    "tip": tip_json(wollet.tip()),
                    "changed": update is not None,
                    "new_txs": new,
                    "tx_count": len(wollet.transactions()),
                    **balance_json(wollet.balance(), wollet.network),
                }
            )
            return 0
        tip = wollet.tip()
        height = tip.height if tip is not None else "?"
        what = "no change" if update is None else f"{new} new transaction(s)"
        print(f"synced to height {height}: {what}, {len(wollet.transactions())} in total")
        print_balance(wollet.balance(), wollet.network)
    return 0


def _balance(args: argparse.Namespace) -> int:
    def show(wollet: Wollet) -> None:
        if args.json:
            print_json(balance_json(wollet.balance(), wollet.network))
        else:
            print_balance(wollet.balance(), wollet.network)

    return _with_wallet(args, show)


def _txs(args: argparse.Namespace) -> int:
    def show(wollet: Wollet) -> None:
        txs = wollet.transactions()
        if args.json:
            print_json([tx_json(tx) for tx in txs])
        elif not txs:
            print("no transactions")
        else:
            print_txs(txs, wollet.network)

    return _with_wallet(args, show)


def _address(args: argparse.Namespace) -> int:
    def show(wollet: Wollet) -> None:
        result = wollet.address(args.index)
        if args.json:
            print_json({"address": result.address(), "index": result.index()})
        else:
            print_table(("INDEX", "ADDRESS"), [(str(result.index()), result.address())])

    return _with_wallet(args, show, offline_ok=args.index is not None)
