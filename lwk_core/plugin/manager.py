"""Discovery and registration of backend plugins (entry-point group `lwk.backends`).

Environment:
- `LWK_DISABLE_PLUGINS=a,b` blocks the named plugins;
- `LWK_LOAD_PLUGINS=a,b` loads only the named plugins (set but empty: none).

A plugin that fails to import is logged and skipped; a plugin implementing a hook that
does not exist (a typo) or claiming a scheme another plugin owns is a PluginError.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import threading
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

import attrs
import pluggy

from .._errors import PluginError, UnknownScheme
from .._network import Network
from . import ENTRY_POINT_GROUP, NAME, spec

__all__ = [
    "PluginInfo",
    "connect",
    "get_plugin_manager",
    "list_plugins",
    "register_plugin",
    "reset_plugin_manager",
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


def connect(url: str, network: Network | None = None, **options: Any) -> Any:
    """Return a client for `url` from the plugin that owns its scheme (no I/O yet)."""
    from .._client import Client

    scheme = urlsplit(url).scheme.lower()
    pm = get_plugin_manager()
    client = pm.hook.lwk_connect(url=url, network=network, options=_frozen(options))
    if client is None:
        owners = _scheme_owners(pm)
        installed = ", ".join(f"{s}:// ({o})" for s, o in sorted(owners.items())) or "none"
        hint = _SCHEME_HINTS.get(scheme)
        advice = f"; install {hint} for {scheme}://" if hint and scheme not in owners else ""
        shown = f"{scheme}://" if scheme else "a URL without a scheme"
        raise UnknownScheme(f"no backend plugin handles {shown} (installed: {installed}){advice}")
    if not isinstance(client, Client):
        raise PluginError(f"the plugin owning {scheme}:// returned {type(client).__name__}")
    return client


def _frozen(options: Mapping[str, Any]) -> Mapping[str, Any]:
    from types import MappingProxyType

    return MappingProxyType(dict(options))
