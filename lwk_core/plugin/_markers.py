"""The pluggy project name, the entry-point group, and the hook markers."""

from __future__ import annotations

import pluggy

__all__ = ["ENTRY_POINT_GROUP", "NAME", "hookimpl", "hookspec"]

NAME = "lwk"
ENTRY_POINT_GROUP = "lwk.backends"

hookspec = pluggy.HookspecMarker(NAME)
hookimpl = pluggy.HookimplMarker(NAME)
