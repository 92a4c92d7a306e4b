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

import attrs

from .. import __version__
from .._errors import LwkError
from . import _broadcast, _plugins, _wallet, _watch
from ._commands import Subparsers, register_commands
from ._common import output_options
from ._errors import ExitCode, UsageError, exit_code
from ._output import (
    balance_json,
    format_btc,
    log_to,
    print_balance,
    print_json,
    print_txs,
    tip_json,
    tx_json,
)
from ._watch import describe_event

__all__ = [
    "ExitCode",
    "Subparsers",
    "UsageError",
    "balance_json",
    "describe_event",
    "format_btc",
    "log_to",
    "main",
    "print_balance",
    "print_json",
    "print_txs",
    "tip_json",
    "tx_json",
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
    """Run `lwk` with `argv` (default: sys.argv[1:]) and return its exit code.

    With --json an error is also a JSON object on stdout, `{"error": {"type", "message",
    "exit_code"}}`, so that a script reads every outcome from stdout.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    options = argv[: argv.index("--")] if "--" in argv else argv
    report = _Report(as_json="--json" in options)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return report.usage(exc)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    if args.command is None:
        if report.as_json:
            return report.usage(UsageError("no command given"))
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
            return report.usage(exc)
        except KeyboardInterrupt as exc:
            return report.error("interrupted", exc, ExitCode.INTERRUPTED, kind="")
        except BrokenPipeError:  # `lwk txs | head`: the reader left; stay quiet at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return ExitCode.OK
        except Exception as exc:
            if args.debug:
                traceback.print_exc()
            return report.failure(exc)


@attrs.frozen
class _Report:
    """How a command that failed says so: one line on stderr, and with --json the same
    error as a JSON object on stdout."""

    as_json: bool

    def usage(self, exc: UsageError) -> int:
        sub = exc.prog.removeprefix("lwk").strip()
        hint = f"lwk {sub} --help" if sub else "lwk --help"
        return self.error(f"{exc} (see '{hint}')", exc, ExitCode.USAGE, prog=exc.prog)

    def failure(self, exc: Exception) -> int:
        text = _SECRET.sub("<descriptor>", str(exc))
        if isinstance(exc, LwkError):
            return self.error(text, exc, exit_code(exc))
        name = type(exc).__name__
        return self.error(
            f"{name}: {text} (--debug: traceback)", exc, exit_code(exc), kind="internal error"
        )

    def error(
        self,
        message: str,
        exc: BaseException,
        code: ExitCode,
        *,
        prog: str = "lwk",
        kind: str = "error",
    ) -> int:
        if self.as_json:
            error = {"type": type(exc).__name__, "message": message, "exit_code": int(code)}
            print_json({"error": error}, compact=True)  # one line: `watch` prints lines
        print(f"{prog}: {kind}: {message}" if kind else f"{prog}: {message}", file=sys.stderr)
        return code
