"""The `lwk` command line: sync, inspect and watch Liquid watch-only wallets.

`main(argv)` returns the exit code (see `ExitCode`); errors are one line on stderr, with
the traceback only under --debug. Descriptors are never echoed back. Command plugins
(entry-point group `lwk.commands`) register with `Subparsers` and print with the helpers
exported here.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from .. import __version__
from .._errors import LwkError
from . import _broadcast, _plugins, _wallet, _watch
from ._commands import Subparsers, register_commands
from ._common import output_options
from ._errors import ExitCode, UsageError, exit_code
from ._output import format_btc, log_to, print_balance, print_json, print_txs
from ._watch import describe_event

__all__ = [
    "ExitCode",
    "Subparsers",
    "describe_event",
    "format_btc",
    "log_to",
    "main",
    "print_balance",
    "print_json",
    "print_txs",
]

_EPILOG = """\
exit codes: 0 ok, 1 error, 2 usage (bad arguments, unknown URL scheme, command not
installed), 3 backend failure (every backend failed), 4 bad descriptor, 5 transaction
rejected, 130 interrupted.
descriptors: --descriptor-file PATH or $LWK_DESCRIPTOR keep them out of shell history."""

# Anything that looks like descriptor or key material is masked in the messages we print.
_SECRET = re.compile(
    r"\b(?:ct|elwpkh|elsh|elwsh|eltr|slip77)\((?![<)])[^\s']*"  # descriptor text, not "ct(<"
    r"|\b[xt](?:pub|prv)[1-9A-HJ-NP-Za-km-z]{20,}"  # an extended key anywhere
)


class _Parser(argparse.ArgumentParser):
    """Reports errors as a UsageError (one line) instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(_SECRET.sub("<descriptor>", message), self.prog)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lwk",
        description="Keep Liquid watch-only wallets in sync through pluggable backends.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[output_options(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"lwk-core {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    common = [output_options(top=False)]
    for module in (_plugins, _wallet, _broadcast, _watch):
        module.register(sub, common)
    register_commands(sub, common)  # lwk regtest, lwk demo, ... from other distributions
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `lwk` with `argv` (default: sys.argv[1:]) and return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return _usage(exc)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return ExitCode.USAGE
    # Errors reach the user as the exception's one line; logged ones would repeat it.
    shown = (logging.DEBUG, logging.CRITICAL) if args.debug else (logging.WARNING,) * 2
    with log_to(level=shown[0], max_level=shown[1]):
        try:
            return int(args.run(args))
        except UsageError as exc:
            if exc.prog == "lwk":
                exc.prog = f"lwk {args.command}"
            return _usage(exc)
        except KeyboardInterrupt:
            print("lwk: interrupted", file=sys.stderr)
            return ExitCode.INTERRUPTED
        except BrokenPipeError:  # `lwk txs | head`: the reader left; stay quiet at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return ExitCode.OK
        except Exception as exc:
            if args.debug:
                traceback.print_exc()
            return _failure(exc)


def _usage(exc: UsageError) -> int:
    sub = exc.prog.removeprefix("lwk").strip()
    hint = f"lwk {sub} --help" if sub else "lwk --help"
    print(f"{exc.prog}: error: {exc} (see '{hint}')", file=sys.stderr)
    return ExitCode.USAGE


def _failure(exc: Exception) -> int:
    text = _SECRET.sub("<descriptor>", str(exc))
    if isinstance(exc, LwkError):
        print(f"lwk: error: {text}", file=sys.stderr)
    else:
        name = type(exc).__name__
        print(f"lwk: internal error: {name}: {text} (--debug: traceback)", file=sys.stderr)
    return exit_code(exc)
