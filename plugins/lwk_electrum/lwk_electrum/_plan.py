"""Plans: protocol logic written once as generators, run by a blocking or an async driver.

A plan yields operations and is sent each one's result; it does no I/O itself. A failed
operation is thrown into the plan, so it can undo what it began (a cancelled task included)
before the error goes on. The connection's plans (`_protocol`) yield I/O events (Send,
Receive); the backend's (`_scan`, `_requests`) yield `Batch`, `Subscribe` and
`Refresh`, which a session performs with its connection's methods of those names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Any, TypeVar

import attrs

from ._framing import Call

__all__ = ["BackendOp", "Batch", "Plan", "Refresh", "Subscribe", "run", "run_async"]

T = TypeVar("T")
Op = TypeVar("Op")
Plan = Generator[Op, Any, T]


@attrs.frozen
class Batch:
    """Pipelined requests; the result is the list of replies, the first error raised."""

    calls: Sequence[Call]


@attrs.frozen
class Subscribe:
    """Subscribe scripts, then the `then` calls in the same burst, and the history of each
    of `used` that has one as its status comes; the result is (statuses, results of `then`,
    raw histories by script hash), as `subscribe_scripthashes` answers."""

    scripthashes: Sequence[str]
    then: Sequence[Call] = ()
    used: Sequence[str] = ()


@attrs.frozen
class Refresh:
    """Handle the notifications the server pushed so far, reconnecting (and restoring the
    subscriptions) if the connection went away; no request. The result is None."""


BackendOp = Batch | Subscribe | Refresh


def run(plan: Plan[Op, T], perform: Callable[[Op], Any]) -> T:
    """Run `plan`, performing each operation with a blocking call."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = plan.send(result) if error is None else plan.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            result, error = perform(op), None
        except BaseException as e:
            result, error = None, e


async def run_async(plan: Plan[Op, T], perform: Callable[[Op], Awaitable[Any]]) -> T:
    """Run `plan`, awaiting each operation."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = plan.send(result) if error is None else plan.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            result, error = await perform(op), None
        except BaseException as e:
            result, error = None, e
