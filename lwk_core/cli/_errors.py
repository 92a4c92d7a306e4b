"""Exit codes of `lwk` and the mapping from exceptions to them."""

from __future__ import annotations

import enum

from .._errors import (
    BackendError,
    BroadcastRejected,
    DescriptorError,
    PluginError,
    UnknownScheme,
)

__all__ = ["CommandUnavailable", "ExitCode", "UsageError", "exit_code"]


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1  # any other LwkError (store, plugin, decode, update ...)
    USAGE = 2  # bad arguments, unknown URL scheme, no descriptor, command not installed
    BACKEND = 3  # a backend failed (connect, timeout, protocol, rate limit), or all of them
    DESCRIPTOR = 4  # the descriptor cannot be parsed or does not fit the network
    REJECTED = 5  # the server refused the transaction
    INTERRUPTED = 130  # Ctrl-C


class UsageError(Exception):
    """The command line is wrong; `prog` names the (sub)command for the message."""

    def __init__(self, message: str, prog: str = "lwk") -> None:
        super().__init__(message)
        self.prog = prog


class CommandUnavailable(PluginError):
    """A known `lwk` command whose distribution is not installed or fails to load."""


def exit_code(exc: BaseException) -> ExitCode:
    """The exit code for an exception that ends a command."""
    if isinstance(exc, UsageError | UnknownScheme | CommandUnavailable):
        return ExitCode.USAGE
    if isinstance(exc, DescriptorError):
        return ExitCode.DESCRIPTOR
    if isinstance(exc, BroadcastRejected):
        return ExitCode.REJECTED
    if isinstance(exc, BackendError):
        return ExitCode.BACKEND
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.ERROR  # any other LwkError, and bugs (shown as internal errors)
