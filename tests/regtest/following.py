"""A blocking event iterator consumed in a thread while the test drives the chain."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
WAIT = 60.0  # seconds a step may take before the test gives up (not a measurement)


class Following(Generic[T]):
    """Iterates `events()` in a thread; `take(n)` returns the next n items (raising what
    the iteration raised). `stop(nudge)` ends it: `nudge` must cause one more item."""

    def __init__(self, events: Callable[[], Iterator[T]], name: str) -> None:
        self._events = events
        self._got: queue.Queue[T | BaseException] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name=name)
        self._thread.start()

    def _follow(self) -> None:
        events = self._events()
        try:
            for item in events:
                self._got.put(item)
                if self._stop.is_set():
                    break
        except BaseException as exc:  # handed to the test
            self._got.put(exc)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def take(self, n: int) -> list[T]:
        items = []
        for _ in range(n):
            item = self._got.get(timeout=WAIT)
            if isinstance(item, BaseException):
                raise item
            items.append(item)
        return items

    def stop(self, nudge: Callable[[], object]) -> T:
        """End the iteration; the item `nudge` caused."""
        self._stop.set()
        nudge()
        self._thread.join(WAIT)
        assert not self._thread.is_alive()
        (last,) = self.take(1)
        return last
