"""when_done: how a wrapper plugin observes a backend call of either flavour."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Generator
from typing import Any

__all__ = ["when_done"]


def when_done(done: Callable[[bool], None]) -> Generator[None, Any, Any]:
    """In a wrapper hookimpl, `return (yield from when_done(done))` passes the owner's answer
    on and calls `done(failed)` once the backend's work is over.

    For a blocking backend that is when the owner returns or raises. For an async backend
    the owner returns an awaitable, whose creation costs nothing: `done` is called when
    the awaitable this returns in its place has been awaited (failed on an exception or a
    cancellation). Time taken before the `yield from` to the call of `done` is the work's.
    """
    try:
        result = yield
    except BaseException:
        done(True)
        raise
    if inspect.isawaitable(result):
        return _awaited(result, done)
    done(False)
    return result


async def _awaited(answer: Awaitable[Any], done: Callable[[bool], None]) -> Any:
    try:
        result = await answer
    except BaseException:
        done(True)
        raise
    done(False)
    return result
