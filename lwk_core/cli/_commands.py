"""Subcommands that other distributions add to `lwk` (entry-point group `lwk.commands`).

An entry point names a function `register(subparsers, parents)` that adds its subcommand the
way the built-in command modules do, e.g. in the distribution's pyproject.toml:

    [project.entry-points."lwk.commands"]
    demo = "lwk_regtest.cli._demo:register"

A command that fails to load or to register is logged and skipped, never fatal. A command
known to come from a distribution that is not installed (`lwk demo`, `lwk regtest`) still
parses, and running it says which distribution to install.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
from typing import Any, TypeAlias

from ._errors import CommandUnavailable

Subparsers: TypeAlias = "argparse._SubParsersAction[Any]"
"""What a command's `register(subparsers, parents)` gets (of any parser class: lwk's own
parser raises instead of exiting)."""

__all__ = ["COMMAND_GROUP", "Subparsers", "register_commands"]

COMMAND_GROUP = "lwk.commands"

# Commands of this repository's own distributions, for the hint when one is missing.
_PROVIDED_BY = {"demo": "lwk-regtest", "regtest": "lwk-regtest"}

log = logging.getLogger("lwk_core.cli")


def register_commands(sub: Subparsers, common: list[argparse.ArgumentParser]) -> None:
    """Add every installed command, then a stand-in for each known one that is missing."""
    failed: dict[str, Exception] = {}
    for ep in sorted(importlib.metadata.entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        before = set(sub.choices)
        try:
            ep.load()(sub, common)
        except Exception as exc:  # a third party's bug must not break `lwk`
            _unregister(sub, set(sub.choices) - before)  # a half-registered command
            failed[ep.name] = exc
            log.warning("lwk: command plugin %r failed to load and is skipped: %r", ep.name, exc)
    for name, distribution in _PROVIDED_BY.items():
        if name not in sub.choices:
            _stand_in(sub, common, name, distribution, failed.get(name))


def _unregister(sub: Subparsers, names: set[str]) -> None:
    for name in names:
        del sub.choices[name]
    # argparse keeps the help lines apart from the parsers (no public way to drop one)
    sub._choices_actions[:] = [a for a in sub._choices_actions if a.dest not in names]


def _stand_in(
    sub: Subparsers,
    common: list[argparse.ArgumentParser],
    name: str,
    distribution: str,
    failure: Exception | None,
) -> None:
    """`lwk NAME ...` that explains why the command is not there."""
    state = "not installed" if failure is None else "installed but failed to load"
    p = sub.add_parser(name, parents=common, help=f"(needs {distribution}, {state})")
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    if failure is None:
        why = f"which is not installed: pip install {distribution}"
    else:
        why = f"which failed to load ({type(failure).__name__}: {failure})"
    message = f"'lwk {name}' comes with the {distribution} distribution, {why}"

    def run(args: argparse.Namespace) -> int:
        raise CommandUnavailable(message)

    p.set_defaults(run=run)
