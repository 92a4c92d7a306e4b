"""`lwk.commands` entry-point targets for tests/cli/test_cli_commands.py."""

from __future__ import annotations

import argparse
from typing import Any


def register_hello(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("hello", parents=common, help="say hello")
    p.set_defaults(run=lambda args: print("hello from a command plugin") or 0)


def register_then_fail(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    sub.add_parser("half", parents=common, help="a command whose registration breaks")
    raise RuntimeError("bug in a command plugin")
