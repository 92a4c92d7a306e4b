"""Server-Sent Events without I/O: the event stream format (WHATWG HTML, "Server-sent
events", section "Interpreting an event stream") read from chunks as they arrive, and what
a Waterfalls subscription's events mean (RCasatta/waterfalls `docs/API.md`, "Descriptor
Subscription").

Upstream's events have been `event: changed` with `{"reason": ...}` and are now
`event: update` with `{"type": "tip"|"block"|"mempool"|"reorg", "tip": {...}}`; both are
hints to scan again ("treat events as invalidation hints, not as wallet updates"), so
either name counts and its data is not needed. Lines are bounded: a server that never
ends one is refused.
"""

from __future__ import annotations

from typing import Final

__all__ = ["HINTS", "MAX_LINE", "EventStream", "Malformed"]

HINTS: Final = frozenset({"update", "changed"})  # event names that call for a scan
MAX_LINE: Final = 64 * 1024


class Malformed(ValueError):
    """An event stream that breaks the format (or our bound on a line)."""


class EventStream:
    """Feed the stream's bytes; get the events dispatched so far as (type, data)."""

    def __init__(self) -> None:
        self._pending = b""
        self._type = ""
        self._data: list[str] = []
        self._after_cr = False  # the last line ended with a CR: an LF next is its end too

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        if self._after_cr and chunk:
            chunk = chunk.removeprefix(b"\n")  # the LF of a CRLF split between chunks
            self._after_cr = False
        self._pending += chunk
        events = []
        while True:
            line, consumed, after_cr = _next_line(self._pending)
            if not consumed:
                break
            self._pending, self._after_cr = self._pending[consumed:], after_cr
            event = self._line(line)
            if event is not None:
                events.append(event)
        if len(self._pending) > MAX_LINE:
            raise Malformed(f"an event stream line longer than {MAX_LINE} bytes")
        return events

    def _line(self, raw: bytes) -> tuple[str, str] | None:
        """Interpret one line; the event it completes, if any (a blank line dispatches)."""
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("an event stream line is not UTF-8") from None
        if not line:  # dispatch, if a data line came (an event without one is dropped)
            event = (self._type or "message", "\n".join(self._data))
            dispatch = bool(self._data)
            self._type, self._data = "", []
            return event if dispatch else None
        if line.startswith(":"):
            return None  # a comment (`: ready`)
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._type = value
        elif field == "data":
            self._data.append(value)
        return None  # id, retry and unknown fields change nothing here


def _next_line(buffer: bytes) -> tuple[bytes, int, bool]:
    """The first complete line of `buffer`, the bytes it takes with its end (CRLF, LF or
    CR; 0: no line is complete) and whether it ended with the buffer's last byte, a CR
    (the LF of a CRLF may follow in the next chunk)."""
    cr, lf = buffer.find(b"\r"), buffer.find(b"\n")
    if cr == -1 and lf == -1:
        return b"", 0, False
    if cr == -1 or (lf != -1 and lf < cr):
        return buffer[:lf], lf + 1, False
    if cr + 1 == len(buffer):
        return buffer[:cr], cr + 1, True
    return buffer[:cr], cr + (2 if buffer[cr + 1] == 0x0A else 1), False
