"""One pipelined exchange of requests, without I/O: what to send when, replies in place.

Chunks of `batch_size` request lines are sent while at most `WINDOW` chunks are unanswered:
one round trip for most batches, and a bounded amount of unread data either way. Replies are
matched by id in any order. A reply may bring follow-up requests (`OnReply`), appended to
the burst and sent at once: requests that depend on a reply cost no exchange of their own.
Each chunk must be answered within `timeout`, counted from when it was sent and the chunk
before it answered (a server answering in order works on it from then on): the deadlines
are data the driver reads, given the times it passes in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import attrs

from lwk_core.plugin import BackendProtocolError

from ._errors import ElectrumError
from ._framing import Call, encode_requests

__all__ = ["WINDOW", "Burst", "Chunk", "OnReply", "raise_first_error"]

WINDOW: Final = 4  # chunks of `batch_size` requests unanswered at once
_MISSING: Final = object()  # no reply yet


@attrs.frozen
class Chunk:
    """Request lines to write in one go, before `deadline`; `in_flight` counts the requests
    then unanswered, this chunk's included."""

    calls: Sequence[Call]
    ids: Sequence[int]
    payload: bytes
    deadline: float
    in_flight: int


OnReply = Callable[[int, Any], "Sequence[Call] | None"]
"""Called with (position, reply) as each reply is read, before later messages are handled;
the calls it returns are appended to the burst (their replies follow the others')."""


class Burst:
    """The replies to `calls` in order, error replies kept as ElectrumError values (raised
    by the caller once every reply is read, so the stream stays in step)."""

    def __init__(
        self,
        calls: Sequence[Call],
        ids: Iterator[int],
        *,
        size: int,
        timeout: float,
        backend: str,
        authorization: str | None = None,
        on_reply: OnReply | None = None,
    ) -> None:
        self.calls = list(calls)
        self._authorization = authorization
        self._on_reply = on_reply
        self._ids = ids
        self._size = size
        self._timeout = timeout
        self._backend = backend
        self.replies: list[Any] = [_MISSING] * len(calls)
        self._pending: dict[int, int] = {}  # request id -> position, sent and unanswered
        self._sent = 0
        self._next = 0  # the first position not answered yet
        self._armed = -1  # the first position of the chunk whose reply clock runs
        self.deadline = 0.0  # for the reply at `_next`

    @property
    def done(self) -> bool:
        return self._next >= len(self.calls)

    @property
    def answered(self) -> int:
        """How many replies are in, counted in order (what the window and deadline follow)."""
        return self._next

    def chunks(self, now: float) -> Iterator[Chunk]:
        """The chunks the window lets go now (each counted as sent once handed out)."""
        total, size = len(self.calls), self._size
        while self._sent < total and min(self._sent + size, total) - self._next <= WINDOW * size:
            first, end = self._sent, min(self._sent + size, total)
            calls = self.calls[first:end]
            ids = [next(self._ids) for _ in calls]
            self._pending.update((i, first + k) for k, i in enumerate(ids))
            self._sent = end
            payload = encode_requests(ids, calls, self._authorization)
            yield Chunk(calls, ids, payload, now + self._timeout, len(self._pending))

    def read_deadline(self, now: float) -> float:
        """When the reply awaited next is late; its clock starts with the first reply of a
        chunk awaited."""
        chunk_start = self._next - self._next % self._size
        if chunk_start != self._armed:
            self.deadline, self._armed = now + self._timeout, chunk_start
        return self.deadline

    @property
    def unanswered(self) -> list[int]:
        """The ids of the requests sent and not answered yet."""
        return list(self._pending)

    def receive(self, msg: dict[str, Any]) -> None:
        """Store a reply to one of this burst's requests at its position."""
        index = self._pending.pop(msg["id"])
        if msg.get("error") is not None:
            self.replies[index] = ElectrumError.from_reply(msg["error"], backend=self._backend)
        elif "result" in msg:
            self.replies[index] = msg["result"]
        else:
            raise BackendProtocolError("reply has neither result nor error", backend=self._backend)
        if self._on_reply is not None and (more := self._on_reply(index, self.replies[index])):
            self._append(more)
        while not self.done and self.replies[self._next] is not _MISSING:
            self._next += 1

    def _append(self, calls: Sequence[Call]) -> None:
        """Follow-up requests: sent with the next chunks; their reply clock starts anew (they
        go out only now, after a reply showed the server answering)."""
        self.calls.extend(calls)
        self.replies.extend([_MISSING] * len(calls))
        self._armed = -1


def raise_first_error(replies: Sequence[Any]) -> None:
    for reply in replies:
        if isinstance(reply, ElectrumError):
            raise reply
