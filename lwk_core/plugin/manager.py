"""Discovery and registration of backend plugins (entry-point group `lwk.backends`).

Environment:
- `LWK_DISABLE_PLUGINS=a,b` blocks the named plugins;
- `LWK_LOAD_PLUGINS=a,b` loads only the named plugins (set but empty: none).

A plugin that fails to import is logged and skipped; a plugin implementing a hook that
does not exist (a typo) or claiming a scheme another plugin owns is a PluginError.

A call about one backend goes only to the plugin that owns it and to wrapper plugins
(`owner_hook`), so no plugin sees or answers for another's backend.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import threading
from typing import cast

import attrs
import pluggy

from .._errors import PluginError, UnknownScheme
from . import spec
from ._markers import ENTRY_POINT_GROUP, NAME

__all__ = [
    "PluginInfo",
    "get_plugin_manager",
    "list_plugins",
    "loaded",
    "owner_hook",
    "plugin_named",
    "register_plugin",
    "reset_plugin_manager",
    "scheme_owner",
]

log = logging.getLogger("lwk_core.plugins")

# Which distribution to install for a scheme no installed plugin owns.
_SCHEME_HINTS = {
    "tcp": "lwk-electrum",
    "ssl": "lwk-electrum",
    "http": "lwk-esplora",
    "https": "lwk-esplora",
}

_lock = threading.Lock()
_manager: pluggy.PluginManager | None = None
_versions: dict[str, str] = {}


@attrs.frozen
class PluginInfo:
    """An installed backend plugin as listed by `lwk plugins`."""

    name: str
    version: str
    schemes: tuple[str, ...]


def _names_from_env(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    allowed = _names_from_env("LWK_LOAD_PLUGINS")
    disabled = _names_from_env("LWK_DISABLE_PLUGINS") or set()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in disabled or (allowed is not None and ep.name not in allowed):
            pm.set_blocked(ep.name)
            log.debug("backend plugin %r disabled by the environment", ep.name)
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must never stop the wallet
            log.warning("backend plugin %r failed to load and is skipped: %s", ep.name, exc)
            continue
        pm.register(plugin, name=ep.name)
        _versions[ep.name] = ep.dist.version if ep.dist is not None else "unknown"


def _check(pm: pluggy.PluginManager) -> None:
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"backend plugin {exc.plugin!r} is invalid: {exc}") from exc
    _scheme_owners(pm)


def _scheme_owners(pm: pluggy.PluginManager) -> dict[str, str]:
    owners: dict[str, str] = {}
    for impl in pm.hook.lwk_schemes.get_hookimpls():
        claimed = cast(list[str], impl.function())
        for scheme in claimed:
            scheme = scheme.lower()
            if scheme in owners and owners[scheme] != impl.plugin_name:
                raise PluginError(
                    f"plugins {owners[scheme]!r} and {impl.plugin_name!r} both claim the "
                    f"{scheme}:// scheme; disable one with LWK_DISABLE_PLUGINS"
                )
            owners[scheme] = impl.plugin_name
    return owners


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    global _manager
    with _lock:
        if _manager is None:
            pm = pluggy.PluginManager(NAME)
            pm.add_hookspecs(spec)
            _load_entry_points(pm)
            _check(pm)
            _manager = pm
        return _manager


def reset_plugin_manager() -> None:
    """Forget the loaded plugins; the next use re-reads entry points and the environment."""
    global _manager
    with _lock:
        _manager = None
        _versions.clear()


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a plugin object by hand (tests, embedding); checked like an entry point."""
    pm = get_plugin_manager()
    pm.register(plugin, name=name)
    try:
        _check(pm)
    except PluginError:
        pm.unregister(plugin)
        raise


def list_plugins() -> list[PluginInfo]:
    """Loaded backend plugins (entry points, and schemes owners registered by hand) with
    their versions and URL schemes; wrapper plugins own no scheme."""
    pm = get_plugin_manager()
    schemes: dict[str, list[str]] = {name: [] for name in _versions}
    for scheme, owner in _scheme_owners(pm).items():
        schemes.setdefault(owner, []).append(scheme)
    return [
        PluginInfo(name, _versions.get(name, "unregistered"), tuple(sorted(found)))
        for name, found in sorted(schemes.items())
        if pm.get_plugin(name) is not None
    ]


def scheme_owner(scheme: str) -> object:
    """The loaded plugin owning `scheme`; UnknownScheme (naming what is installed) if none."""
    pm = get_plugin_manager()
    owners = _scheme_owners(pm)
    owner = owners.get(scheme.lower())
    if owner is not None:
        plugin = pm.get_plugin(owner)
        assert plugin is not None
        return plugin
    installed = ", ".join(f"{s}:// ({o})" for s, o in sorted(owners.items())) or "none"
    hint = _SCHEME_HINTS.get(scheme)
    advice = f"; install {hint} for {scheme}://" if hint else ""
    shown = f"{scheme}://" if scheme else "a URL without a scheme"
    raise UnknownScheme(f"no backend plugin handles {shown} (installed: {installed}){advice}")


def loaded(plugin: object) -> object:
    """`plugin` itself if it is registered, else a PluginError."""
    if not get_plugin_manager().is_registered(plugin):
        raise PluginError(f"backend plugin {plugin!r} is not registered")
    return plugin


def plugin_named(module: str) -> object:
    """The loaded plugin that is module `module` (a client names its plugin so).

    A PluginError if it is not loaded: a client built by hand does not load its plugin
    behind the manager's back, so LWK_DISABLE_PLUGINS / LWK_LOAD_PLUGINS hold for it too.
    """
    pm = get_plugin_manager()
    for _, plugin in pm.list_name_plugin():
        if getattr(plugin, "__name__", None) == module:
            return plugin
    names = [
        ep.name
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.module == module
    ]
    shown = f"backend plugin {names[0]!r}" if names else f"backend plugin module {module!r}"
    raise PluginError(
        f"{shown} is not loaded (disabled by LWK_DISABLE_PLUGINS or not in LWK_LOAD_PLUGINS?);"
        " its clients cannot be used while it is off"
    )


def owner_hook(hook: str, owner: object) -> pluggy.HookCaller:
    """The caller of `hook` reaching only `owner` and the wrapper implementations."""
    pm = get_plugin_manager()
    caller: pluggy.HookCaller = getattr(pm.hook, hook)
    others = {
        impl.plugin
        for impl in caller.get_hookimpls()
        if impl.plugin is not owner and not (impl.wrapper or impl.hookwrapper)
    }
    return pm.subset_hook_caller(hook, others)
