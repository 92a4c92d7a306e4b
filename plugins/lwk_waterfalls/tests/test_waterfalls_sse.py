"""The event stream format (WHATWG HTML, "Server-sent events", "Interpreting an event
stream": its examples and rules), fed in every split a network could make."""

from __future__ import annotations

import pytest
from lwk_waterfalls._sse import MAX_LINE, EventStream, Malformed

# upstream's stream (RCasatta/waterfalls docs/API.md): a comment, then an update
UPSTREAM = (
    b": ready\n\n"
    b"event: update\n"
    b'data: {"type":"mempool","tip":{"height":12345,"block_hash":"ab"}}\n\n'
)


def _fed(stream: bytes, size: int) -> list[tuple[str, str]]:
    events = EventStream()
    return [e for i in range(0, len(stream), size) for e in events.feed(stream[i : i + size])]


@pytest.mark.parametrize("size", [1, 2, 3, 7, len(UPSTREAM)])
def test_upstreams_stream_in_any_chunks(size: int) -> None:
    data = '{"type":"mempool","tip":{"height":12345,"block_hash":"ab"}}'
    assert _fed(UPSTREAM, size) == [("update", data)]


@pytest.mark.parametrize("ending", [b"\r\n", b"\n", b"\r"])
@pytest.mark.parametrize("size", [1, 4])
def test_every_line_ending_the_spec_allows(ending: bytes, size: int) -> None:
    stream = ending.join([b"event: changed", b'data: {"reason":"block"}', b"", b""])
    assert _fed(stream, size) == [("changed", '{"reason":"block"}')]


def test_the_specs_examples() -> None:
    # two data lines join with a newline; no event field: "message"; one space is dropped
    stream = b"data: YHOO\ndata: +2\ndata: 10\n\n:comment\ndata:  two spaces\n\n"
    assert _fed(stream, 5) == [("message", "YHOO\n+2\n10"), ("message", " two spaces")]
    # an event without data is not dispatched, and its type does not leak to the next
    assert _fed(b"event: update\n\ndata: x\n\n", 3) == [("message", "x")]
    # a stream that ends without a blank line dispatches nothing
    assert _fed(b"event: update\ndata: x\n", 2) == []


def test_a_line_that_never_ends_is_refused() -> None:
    events = EventStream()
    events.feed(b"data: " + b"x" * (MAX_LINE - 6))
    with pytest.raises(Malformed):
        events.feed(b"x")


def test_bytes_that_are_not_utf8_are_refused() -> None:
    with pytest.raises(Malformed):
        EventStream().feed(b"data: \xff\n\n")
