"""A deadline that every socket operation of a request obeys, whatever the server sends.

httpx's timeouts apply to each read, so a server that sends something before each read
times out (a status line or headers dripped a byte at a time, an endless run of `1xx`
answers, a gzip body of empty deflate blocks) keeps a request alive for as long as it
likes. The blocking network backend (`_network`) asks `left` before each connect, TLS
handshake, read and write of the thread's current request: it gets at most the time left
until its deadline, and none starts past it (httpcore.ReadTimeout and friends, which httpx
maps to its own).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import httpcore

__all__ = ["left", "until"]

_local = threading.local()


@contextlib.contextmanager
def until(deadline: float) -> Iterator[None]:
    """Socket operations of this thread end by `deadline` (time.monotonic) in this block."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = previous


def left(timeout: float | None, expired: type[httpcore.TimeoutException]) -> float | None:
    """The timeout an operation gets: the caller's, capped by what remains of the deadline."""
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise expired("the request's deadline passed")
    return remaining if timeout is None else min(timeout, remaining)
