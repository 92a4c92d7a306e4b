"""Fault and latency knobs shared by the embedded Electrum and Esplora servers."""

from __future__ import annotations

import threading

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
    counts every request the server received, faulty or not.
    """

    latency: float = 0.0
    mode: str | None = None
    remaining: int | None = None
    retry_after: float = 1.0
    requests: int = 0
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
