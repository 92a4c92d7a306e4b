"""Thread-safe accumulation of per-(plugin, hook) call statistics."""

from __future__ import annotations

import threading

import attrs

__all__ = ["HookStats", "record", "reset", "snapshot"]


@attrs.frozen
class HookStats:
    """Calls of one hook on one backend plugin's connections."""

    plugin: str
    hook: str
    calls: int
    errors: int
    seconds: float


_lock = threading.Lock()
_stats: dict[tuple[str, str], list[float]] = {}  # (plugin, hook) -> [calls, errors, seconds]


def record(plugin: str, hook: str, seconds: float, failed: bool) -> None:
    with _lock:
        entry = _stats.setdefault((plugin, hook), [0, 0, 0.0])
        entry[0] += 1
        entry[1] += failed
        entry[2] += seconds


def snapshot() -> list[HookStats]:
    """The statistics so far, sorted by plugin then hook."""
    with _lock:
        return [
            HookStats(plugin, hook, int(calls), int(errors), seconds)
            for (plugin, hook), (calls, errors, seconds) in sorted(_stats.items())
        ]


def reset() -> None:
    with _lock:
        _stats.clear()
