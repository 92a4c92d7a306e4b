"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lwk_core.plugin.manager import reset_plugin_manager


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A plugin manager rebuilt from the environment for this test, and reset after it."""
    monkeypatch.delenv("LWK_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("LWK_LOAD_PLUGINS", raising=False)
    reset_plugin_manager()
    yield
    reset_plugin_manager()
