"""The embedded chain is its own distribution: lwk-core ships no servers and no pytest
plugin, and `lwk_core.regtest` re-exports lwk_regtest or says which distribution to install."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Iterator

import lwk_regtest
import pytest

import lwk_core
import lwk_core.regtest
from lwk_core import LwkError


@pytest.fixture
def unimported_lwk_regtest(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """lwk_regtest and its submodules not imported yet; the originals are put back after."""
    for name in [n for n in sys.modules if n == "lwk_regtest" or n.startswith("lwk_regtest.")]:
        monkeypatch.delitem(sys.modules, name)
    yield
    for name in [n for n in sys.modules if n == "lwk_regtest" or n.startswith("lwk_regtest.")]:
        del sys.modules[name]  # half-imported leftovers; monkeypatch restores the originals


def test_lwk_core_ships_no_server_code_and_no_pytest_plugin() -> None:
    assert not hasattr(lwk_core.regtest, "__path__")  # one module, not the old package
    assert importlib.util.find_spec("lwk_core.testing") is None
    core = importlib.metadata.distribution("lwk-core").entry_points
    assert [ep for ep in core if ep.group == "pytest11"] == []
    regtest = importlib.metadata.distribution("lwk-regtest").entry_points
    assert [(ep.name, ep.value) for ep in regtest if ep.group == "pytest11"] == [
        ("lwk", "lwk_regtest.testing._plugin")
    ]


def test_lwk_core_regtest_reexports_lwk_regtest() -> None:
    from lwk_core.regtest import Faults, Regtest, RegtestChain, RegtestRejected

    assert (Faults, Regtest, RegtestChain, RegtestRejected) == (
        lwk_regtest.Faults,
        lwk_regtest.Regtest,
        lwk_regtest.RegtestChain,
        lwk_regtest.RegtestRejected,
    )
    with pytest.raises(AttributeError, match="has no attribute 'ElectrumServer'"):
        lwk_core.regtest.ElectrumServer  # noqa: B018  (only the public names)


def test_without_lwk_regtest_the_import_names_the_distribution(
    unimported_lwk_regtest: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "lwk_regtest", None)  # what an absent package looks like
    with pytest.raises(lwk_core.regtest.RegtestNotInstalled) as caught:
        from lwk_core.regtest import Regtest  # noqa: F401
    assert isinstance(caught.value, ImportError)
    assert isinstance(caught.value, LwkError)
    assert caught.value.name == "lwk_regtest"
    assert str(caught.value) == (
        "lwk_core.regtest.Regtest comes with the lwk-regtest distribution, which is not "
        "installed: pip install lwk-regtest"
    )


def test_a_missing_module_inside_lwk_regtest_is_not_reported_as_not_installed(
    unimported_lwk_regtest: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "lwk_regtest._tls", None)
    with pytest.raises(ModuleNotFoundError) as caught:
        lwk_core.regtest.Regtest  # noqa: B018
    assert not isinstance(caught.value, lwk_core.regtest.RegtestNotInstalled)
    assert caught.value.name == "lwk_regtest._tls"
