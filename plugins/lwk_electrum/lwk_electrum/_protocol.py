"""The Electrum client protocol of one connection, without I/O (in the manner of h11).

It holds what outlives a socket (request ids, subscriptions, the tip, counters) and what a
socket's stream needs (the line reader). Its operations (the handshake with its restored
subscriptions, a batch, a subscription, the tip, reading notifications while idle) are
plans that yield two kinds of I/O event, and nothing else is left to a driver:

- `Send(chunk)`: write `chunk.payload` before `chunk.deadline`;
- `Receive(deadline, idle_ok, burst)`: `feed` what arrives before `deadline` and answer True
  (also when another task fed bytes meanwhile: a driver shared by tasks may `dispatch` what
  it read and answer the tasks whose `burst` got replies, the others reading in turn); if
  nothing came, answer False when `idle_ok`, else raise BackendTimeout.

A driver (blocking sockets, or asyncio streams) performs them, and drops the socket on any
failure other than an error reply (ElectrumError): its stream can no longer be trusted.
Times come from `clock` (monotonic seconds); deadlines are data in the events.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

from lwk_core.plugin import BackendProtocolError, Tip

from ._burst import Burst, Chunk, OnReply, raise_first_error
from ._errors import ElectrumError
from ._framing import Call, LineReader
from ._headers import parse_tip
from ._plan import Plan
from ._subscriptions import (
    GET_HISTORY,
    HEADERS_SUBSCRIBE,
    SCRIPTHASH_SUBSCRIBE,
    UNKNOWN,
    Subscriptions,
)

__all__ = [
    "CLIENT_NAME",
    "KEEPALIVE",
    "POLL",
    "PROTOCOL_VERSION",
    "ElectrumProtocol",
    "IOPlan",
    "Receive",
    "Send",
]

CLIENT_NAME: Final = "lwk-electrum 0.1"
PROTOCOL_VERSION: Final = "1.4"
KEEPALIVE: Final = 60.0  # seconds of silence before a server.ping while waiting
POLL: Final = 0.25  # longest time a waiting watcher holds the stream


@attrs.frozen
class Send:
    chunk: Chunk


@attrs.frozen
class Receive:
    deadline: float
    idle_ok: bool
    burst: Burst | None = attrs.field(default=None, eq=False, repr=False)  # what it waits for


IOPlan = Plan[Send | Receive, Any]


class ElectrumProtocol:
    def __init__(
        self,
        *,
        backend: str,
        timeout: float,
        batch_size: int,
        max_line: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.timeout = timeout
        self.batch_size = batch_size
        self.clock = clock
        self.reader = LineReader(max_line, backend=backend)
        self.subscriptions = Subscriptions(backend=backend)
        self.requests: Counter[str] = Counter()  # requests written, by method
        self.server_version: Any = None
        self.authorization: str | None = None  # sent with every request (a bearer token)
        self._ids = itertools.count(1)
        self._routes: dict[int, Burst] = {}  # request id -> the burst awaiting its reply
        self._orphans: set[int] = set()  # ids of requests whose asker gave up
        self._last_send = 0.0
        self._greeting = False  # server.version is to go out with the next burst

    # -- the stream --------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes from the server, handled as the plans that wait for them go on."""
        self.reader.feed(data)

    def _pump(self, burst: Burst | None) -> None:
        """Handle the complete messages buffered, until `burst` is answered (None: all).
        A reply goes to the burst waiting for it (by id), whichever that is; a message
        without an id is a notification."""
        while burst is None or not burst.done:
            msg = self.reader.next_message()
            if msg is None:
                return
            if "id" not in msg:
                self.subscriptions.notify(msg, self.clock())
                continue
            msg_id = msg["id"]
            owner = self._routes.pop(msg_id, None) if type(msg_id) is int else None
            if owner is not None:
                owner.receive(msg)
            elif type(msg_id) is int and msg_id in self._orphans:
                self._orphans.discard(msg_id)  # its asker gave up (cancelled)
            elif not self._routes:
                raise BackendProtocolError(
                    "reply while no request was pending", backend=self.backend
                )
            else:
                error = msg.get("error")
                detail = f" ({ElectrumError.from_reply(error, backend=None)})" if error else ""
                raise BackendProtocolError(
                    f"reply to an unknown request id{detail}", backend=self.backend
                )

    def dispatch(self) -> None:
        """Hand every complete message read so far to its burst (or the subscriptions)."""
        self._pump(None)

    @property
    def busy(self) -> bool:
        """Whether requests are awaiting replies (someone is reading the stream)."""
        return bool(self._routes)

    def reset(self) -> None:
        """The stream is gone: forget its bytes, the requests it carried and which statuses
        it told (void until the subscriptions are restored)."""
        self.subscriptions.lost()
        self.reader.clear()
        self._routes.clear()
        self._orphans.clear()
        self._greeting = False

    def exchange(self, calls: Sequence[Call], on_reply: OnReply | None = None) -> IOPlan:
        """The replies to `calls` in order, error replies as ElectrumError values (see
        `Burst`). Several exchanges may share the stream; one given up (its plan closed or
        thrown into) leaves its late replies to be discarded. The first exchange of a
        connection whose handshake was deferred carries its `server.version` (see
        `handshake`)."""
        greeting, self._greeting = self._greeting, False
        if greeting:
            calls, on_reply = [self._hello(), *calls], self._greeted(on_reply)
        burst = Burst(
            calls,
            self._ids,
            size=self.batch_size,
            timeout=self.timeout,
            backend=self.backend,
            authorization=self.authorization,
            on_reply=on_reply,
        )
        try:
            while True:
                self._pump(burst)  # what was read meanwhile, by this plan or another's
                if burst.done:
                    return burst.replies[1:] if greeting else burst.replies
                sent = False
                for chunk in burst.chunks(self.clock()):
                    self._routes.update(dict.fromkeys(chunk.ids, burst))
                    yield Send(chunk)
                    self.requests.update(method for method, _ in chunk.calls)
                    self._last_send = self.clock()
                    sent = True
                if not sent:
                    yield Receive(burst.read_deadline(self.clock()), idle_ok=False, burst=burst)
        except BaseException:
            for i in burst.unanswered:
                if self._routes.pop(i, None) is not None:
                    self._orphans.add(i)
            raise

    def poll(self, until: float) -> IOPlan:
        """Read and dispatch until `until`; once it passed, only what is buffered and one
        more read of what already arrived (a server sending without pause cannot hold it)."""
        late = False
        while True:
            self._pump(None)
            if late:
                return
            late = self.clock() >= until
            if not (yield Receive(until, idle_ok=True)):
                return

    # -- operations --------------------------------------------------------------------

    def refresh(self) -> IOPlan:
        """Handle what the server pushed so far (the driver reconnects first if it went
        away, restoring the subscriptions)."""
        yield from self.poll(self.clock())

    def handshake(self) -> IOPlan:
        """`server.version` with the headers subscription made before (one burst; with a
        token, `server.version` alone first: a proxy answers a refused token, then closes),
        then the script subscriptions made before, restored. On a connection with nothing
        to restore and no token to prove, `server.version` is not awaited: it goes out in
        the same burst as the first request (one round trip less), a refusal failing that."""
        subs = self.subscriptions
        headers, scripts = subs.restore_calls()
        if not (headers or scripts or self.authorization):
            self._greeting = True
            return
        calls = [self._hello(), *headers]
        alone = 1 if self.authorization else len(calls)
        replies = yield from self.batch(calls[:alone])
        if alone < len(calls):
            replies += yield from self.batch(calls[alone:])
        self.server_version = replies[0]
        for tip in replies[1:]:
            subs.notify({"method": HEADERS_SUBSCRIBE, "params": [tip]}, self.clock())
        yield from self.exchange(  # a refused one is dropped (see Subscriptions.restored)
            [(SCRIPTHASH_SUBSCRIBE, [sh]) for sh in scripts],
            lambda i, reply: subs.restored(scripts[i], reply, self.clock()),
        )

    @staticmethod
    def _hello() -> Call:
        return ("server.version", [CLIENT_NAME, PROTOCOL_VERSION])

    def _greeted(self, on_reply: OnReply | None) -> OnReply:
        """`on_reply` for a burst led by a deferred `server.version`: its reply is kept, the
        others' positions shifted past it. A refusal is raised as it is read (a proxy that
        refuses a connection's first request closes it: the rest will not come), and the
        next burst greets again."""

        def greeted(i: int, reply: Any) -> Sequence[Call] | None:
            if i > 0:
                return on_reply(i - 1, reply) if on_reply is not None else None
            if isinstance(reply, ElectrumError):
                self._greeting = True
                raise reply
            self.server_version = reply
            return None

        return greeted

    def batch(self, calls: Sequence[Call]) -> IOPlan:
        """The results of `calls` in order; the first error reply is raised."""
        replies = yield from self.exchange(calls)
        raise_first_error(replies)
        return replies

    def subscribe(
        self, scripthashes: Sequence[str], then: Sequence[Call] = (), used: Sequence[str] = ()
    ) -> IOPlan:
        """Subscribe (again): each script's current status hash (None: no history; UNKNOWN:
        the server refused to subscribe it, see `Subscriptions`), the results of the `then`
        calls, sent in the same burst (the first error reply to those is raised), and the
        raw histories of those of `used` whose status is not None (or refused), each asked
        as soon as its status is read: in the same exchange, and only for scripts with a
        history (an unused script costs its subscription alone)."""
        subs = self.subscriptions
        calls = [(SCRIPTHASH_SUBSCRIBE, [sh]) for sh in scripthashes] + list(then)
        wanted = set(used)
        followed: list[str] = []  # scripts whose history was appended, in that order

        def answered(i: int, reply: Any) -> list[Call] | None:
            if i >= len(scripthashes):
                return None
            sh = scripthashes[i]
            subs.answered(sh, reply)
            if reply is None or sh not in wanted:
                return None
            wanted.discard(sh)
            followed.append(sh)
            return [(GET_HISTORY, [sh])]

        new = subs.begin(scripthashes)
        try:
            replies = yield from self.exchange(calls, answered)
        except BaseException:
            subs.abort(new)
            raise
        statuses = [
            UNKNOWN if isinstance(r, ElectrumError) else r for r in replies[: len(scripthashes)]
        ]
        then_replies = replies[len(scripthashes) : len(calls)]
        histories = dict(zip(followed, replies[len(calls) :], strict=True))
        raise_first_error(then_replies + list(histories.values()))
        return statuses, then_replies, histories

    def tip(self, min_height: int) -> IOPlan:
        """The current tip: asked (subscribing to new blocks) when `Subscriptions.tip_wanted`,
        else the latest header the server pushed."""
        subs = self.subscriptions
        tip: Tip | None = subs.tip
        if tip is None or subs.tip_wanted(min_height, self.clock()):
            tip = self._subscribed_tip((yield from self.batch([(HEADERS_SUBSCRIBE, [])]))[0])
        return tip

    def features(self) -> IOPlan:
        """`server.features`, with the headers subscription in the same burst if not made
        yet: a scan, which starts by checking the server's chain, then finds its tip kept
        (one round trip less). A refused subscription is left for `tip` to ask again."""
        calls: list[Call] = [("server.features", [])]
        if not self.subscriptions.headers:
            calls.append((HEADERS_SUBSCRIBE, []))
        replies = yield from self.exchange(calls)
        raise_first_error(replies[:1])
        if len(replies) > 1 and not isinstance(replies[1], ElectrumError):
            self._subscribed_tip(replies[1])
        return replies[0]

    def _subscribed_tip(self, reply: Any) -> Tip:
        tip = parse_tip(reply, backend=self.backend)
        self.subscriptions.headers = True
        self.subscriptions.keep_tip(tip, self.clock())
        return tip

    def wait_step(self, seen: int, end: float | None) -> IOPlan:
        """One turn of waiting for a notification beyond `seen` (until `end`, None: no
        end): a ping after `KEEPALIVE` seconds of silence, then reading for up to `POLL`
        seconds, so that a waiting watcher lets other calls use the stream in between."""
        if self.subscriptions.notifications > seen:
            return
        now = self.clock()
        if now - self._last_send > KEEPALIVE:
            yield from self.batch([("server.ping", [])])
        yield from self.poll(now + POLL if end is None else min(now + POLL, end))
