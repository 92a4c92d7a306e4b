"""What a backend plugin author imports: the `hookimpl` marker and the project name.

A backend plugin is a module registered under the entry-point group `lwk.backends` whose
functions are decorated with `@hookimpl` and named after the hooks of `lwk_core.plugin.spec`.
"""

from __future__ import annotations

import pluggy

__all__ = ["ENTRY_POINT_GROUP", "NAME", "hookimpl", "hookspec"]

NAME = "lwk"
ENTRY_POINT_GROUP = "lwk.backends"

hookspec = pluggy.HookspecMarker(NAME)
hookimpl = pluggy.HookimplMarker(NAME)
