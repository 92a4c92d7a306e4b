"""Counts and times every backend hook call, per backend plugin (an example plugin)."""

from ._stats import HookStats, reset, snapshot

__all__ = ["HookStats", "reset", "snapshot"]
