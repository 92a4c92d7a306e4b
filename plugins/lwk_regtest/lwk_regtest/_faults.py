"""Fault and latency knobs shared by the embedded Electrum and Esplora servers."""

from __future__ import annotations

import threading
import time

import attrs

__all__ = ["FAULT_MODES", "Faults"]

FAULT_MODES = frozenset(
    {
        "refuse",  # close the connection as soon as it is accepted / the request arrives
        "hang",  # read the request, never answer
        "reset",  # send the first part of the reply, then reset the connection
        "truncate",  # send the first part of the reply, then close cleanly
        "garbage",  # answer bytes that are not the protocol
        "oversized",  # answer a syntactically valid but huge reply (tens of MB)
        "wrong_tx",  # answer another transaction than the one asked for
        "lying_tip",  # report a tip far above the real one
        "unsigned_tip",  # Electrum: the tip header, answered and pushed, without signatures
        "http429",  # Esplora: 429 Too Many Requests with Retry-After
        "http500",  # Esplora: 500 Internal Server Error
    }
)


@attrs.define
class Faults:
    """What a server does wrong, set by tests and benchmarks while it runs.

    `latency` seconds are added before every reply. `mode` (one of FAULT_MODES) applies
    to the next `remaining` requests (None: all of them, until cleared). `requests`
    counts every request the server received, faulty or not; `round_trips` the round
    trips they took (every server counts them: `arrived`, `replying`). With `quiet`
    seconds, the servers also hold every reply until no request has arrived for
    that long: the requests a client sends together then all arrive before the first
    reply however slowly the client sends them, so they count as one round trip.
    """

    latency: float = 0.0
    mode: str | None = None
    remaining: int | None = None
    retry_after: float = 1.0
    requests: int = 0
    round_trips: int = 0
    quiet: float = 0.0
    _replied: int = attrs.field(default=0, init=False, repr=False)
    _last_arrival: float = attrs.field(default=0.0, init=False, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    def set(self, mode: str | None, remaining: int | None = None) -> None:
        if mode is not None and mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}")
        with self._lock:
            self.mode, self.remaining = mode, remaining

    def clear(self) -> None:
        self.set(None)

    def take(self) -> str | None:
        """Count one request and return the fault to apply to it, if any."""
        with self._lock:
            self.requests += 1
            mode = self.mode
            if mode is None:
                return None
            if self.remaining is not None:
                self.remaining -= 1
                if self.remaining <= 0:
                    self.mode, self.remaining = None, None
            return mode

    def arrived(self) -> int:
        """The round trip of a request arriving now: one after the latest round trip
        whose reply had begun by then. A request sent after a reply was read counts one
        more; requests sent together count once, as long as the last of them arrives
        before the first one is answered (`latency` later, or after `quiet`)."""
        with self._lock:
            self._last_arrival = time.monotonic()
            trip = self._replied + 1
            self.round_trips = max(self.round_trips, trip)
            return trip

    def until_quiet(self, trip: int) -> float:
        """Seconds left until no request has arrived for `quiet` seconds (0: reply now).
        Once a reply of round trip `trip` went out, its other replies go too: a fast client
        that answers the first reply with its next request would otherwise hold them back
        for another `quiet`, and the requests it sends after reading them would count as
        one more round trip than they took."""
        with self._lock:
            if self._replied >= trip:
                return 0.0
            return max(0.0, self._last_arrival + self.quiet - time.monotonic())

    def replying(self, trip: int) -> None:
        """A reply of round trip `trip` is about to be sent (marked before sending, so that
        a request the client sends after reading it always counts one more)."""
        with self._lock:
            self._replied = max(self._replied, trip)
