"""`lwk plugins` (installed backends) and `lwk tip URL` (a server's best block)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..plugin.manager import list_plugins
from ._auth import add_auth_arguments
from ._common import (
    add_connection_flags,
    network_type,
    open_backend,
    positive_float,
)
from ._output import format_time, print_json, print_table, tip_json

if TYPE_CHECKING:
    from ._commands import Subparsers

__all__ = ["register"]


def register(sub: Subparsers, common: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plugins",
        parents=common,
        help="list the installed backend plugins",
        description="List the installed backend plugins, their versions and URL schemes.",
    )
    p.set_defaults(run=_plugins)

    p = sub.add_parser(
        "tip",
        parents=common,
        help="show a server's best block",
        description="Ask a backend for its best block (a connectivity check). Several URLs "
        "are tried in order (failover).",
    )
    p.add_argument("urls", metavar="URL", nargs="+", help="e.g. ssl://host:50002, https://host/api")
    p.add_argument("--timeout", type=positive_float, metavar="SECONDS", help="per-request timeout")
    p.add_argument("--network", type=network_type, help="needed by http(s):// (Esplora) backends")
    add_auth_arguments(p.add_argument_group("authentication"))
    add_connection_flags(p)
    p.set_defaults(run=_tip)


def _plugins(args: argparse.Namespace) -> int:
    plugins = list_plugins()
    if args.json:
        print_json(
            [{"name": p.name, "version": p.version, "schemes": list(p.schemes)} for p in plugins]
        )
    elif not plugins:
        print("no backend plugins installed (pip install lwk-electrum lwk-esplora)")
    else:
        rows = [(p.name, p.version, ", ".join(f"{s}://" for s in p.schemes)) for p in plugins]
        print_table(("PLUGIN", "VERSION", "SCHEMES"), rows)
    return 0


def _tip(args: argparse.Namespace) -> int:
    with open_backend(args.urls, args.network, args) as backend:
        tip = backend.tip()
    if args.json:
        print_json(tip_json(tip))
    else:
        row = (str(tip.height), tip.hash, format_time(tip.timestamp))
        print_table(("HEIGHT", "HASH", "TIME (UTC)"), [row])
    return 0
