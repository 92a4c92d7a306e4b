"""The Electrum client protocol of one connection, without I/O (in the manner of h11).

It holds what outlives a socket (request ids, subscriptions, the tip, counters) and what a
socket's stream needs (the line reader); it turns calls into bursts of request lines and
incoming messages into replies or notifications. Its connection-level operations (the
handshake with its restored subscriptions, a batch, a subscription, the tip) are plans that
yield the requests to exchange (`Sequence[Call]`; the reply list comes back, error replies
as ElectrumError values). A driver (blocking sockets, or asyncio streams) does the I/O, and
drops the socket on any failure other than an error reply: its stream can no longer be
trusted.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Final

from lwk_core.plugin import BackendProtocolError

from ._burst import Burst, Chunk, raise_first_error
from ._framing import Call, LineReader
from ._headers import parse_tip
from ._plan import Plan
from ._subscriptions import HEADERS_SUBSCRIBE, SCRIPTHASH_SUBSCRIBE, Subscriptions

__all__ = ["CLIENT_NAME", "KEEPALIVE", "PROTOCOL_VERSION", "ElectrumProtocol", "Exchange"]

CLIENT_NAME: Final = "lwk-electrum 0.1"
PROTOCOL_VERSION: Final = "1.4"
KEEPALIVE: Final = 60.0  # seconds of silence before a server.ping while waiting

Exchange = Plan[Sequence[Call], Any]
Clock = Callable[[], float]


class ElectrumProtocol:
    def __init__(self, *, backend: str, timeout: float, batch_size: int, max_line: int) -> None:
        self.backend = backend
        self.timeout = timeout
        self.batch_size = batch_size
        self.reader = LineReader(max_line, backend=backend)
        self.subscriptions = Subscriptions(backend=backend)
        self.requests: Counter[str] = Counter()  # requests written, by method
        self.server_version: Any = None
        self._ids = itertools.count(1)
        self._last_send = 0.0

    # -- the stream --------------------------------------------------------------------

    def burst(self, calls: Sequence[Call]) -> Burst:
        return Burst(
            calls, self._ids, size=self.batch_size, timeout=self.timeout, backend=self.backend
        )

    def sent(self, chunk: Chunk, now: float) -> None:
        self.requests.update(method for method, _ in chunk.calls)
        self._last_send = now

    def keepalive_due(self, now: float) -> bool:
        return now - self._last_send > KEEPALIVE

    def receive(self, msg: dict[str, Any], burst: Burst | None, now: float) -> None:
        """A message: a reply to `burst` (None: no request pending) or a notification."""
        if "id" not in msg:
            self.subscriptions.notify(msg, now)
        elif burst is None:
            raise BackendProtocolError("reply while no request was pending", backend=self.backend)
        else:
            burst.receive(msg)

    # -- plans -------------------------------------------------------------------------

    def handshake(self, clock: Clock) -> Exchange:
        """`server.version`, then the subscriptions made before, restored."""
        hello = ("server.version", [CLIENT_NAME, PROTOCOL_VERSION])
        self.server_version = (yield from self.batch([hello]))[0]
        headers, scripts = self.subscriptions.restore_calls()
        header = (yield from self.batch(headers)) if headers else []
        statuses = yield from self.batch(scripts)
        self.subscriptions.restored(header, statuses, clock())

    def batch(self, calls: Sequence[Call]) -> Exchange:
        """The results of `calls` in order; the first error reply is raised."""
        replies = yield calls
        raise_first_error(replies)
        return replies

    def subscribe(self, scripthashes: Sequence[str], then: Sequence[Call] = ()) -> Exchange:
        """Subscribe (again): each script's current status hash (None: no history), and the
        results of the `then` calls, sent in the same burst. The first error reply is raised
        once the subscriptions that succeeded are recorded."""
        calls = [(SCRIPTHASH_SUBSCRIBE, [sh]) for sh in scripthashes] + list(then)
        if not calls:
            return [], []
        new = self.subscriptions.begin(scripthashes)
        try:
            replies = yield calls
        except BaseException:
            self.subscriptions.abort(new)
            raise
        statuses = replies[: len(scripthashes)]
        self.subscriptions.record(scripthashes, statuses)
        raise_first_error(replies)
        return statuses, replies[len(scripthashes) :]

    def tip(self, min_height: int, clock: Clock) -> Exchange:
        """The current tip: asked (subscribing to new blocks) when `Subscriptions.tip_wanted`,
        else the latest header the server pushed."""
        subs = self.subscriptions
        tip = subs.tip
        if tip is None or subs.tip_wanted(min_height, clock()):
            reply = (yield from self.batch([(HEADERS_SUBSCRIBE, [])]))[0]
            tip = parse_tip(reply, backend=self.backend)
            subs.headers = True
            subs.keep_tip(tip, clock())
        return tip
