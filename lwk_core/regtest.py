"""The embedded regtest chain, from the separate `lwk-regtest` distribution.

    from lwk_core.regtest import Regtest     # needs: pip install lwk-regtest

The chain, its Electrum and Esplora servers, the faucet and the conformance kit live in
`lwk_regtest` (plugins/lwk_regtest), so that installing lwk-core adds no test servers. This
module re-exports its public names on first use, and raises `RegtestNotInstalled` (an
ImportError naming the distribution to install) when it is missing. It is the only place
where lwk-core refers to `lwk_regtest`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import PluginError

if TYPE_CHECKING:
    from lwk_regtest import Faults, Regtest, RegtestChain, RegtestRejected

__all__ = ["Faults", "Regtest", "RegtestChain", "RegtestNotInstalled", "RegtestRejected"]

_REEXPORTED = frozenset(__all__) - {"RegtestNotInstalled"}


class RegtestNotInstalled(PluginError, ImportError):
    """The embedded regtest chain was asked for, but lwk-regtest is not installed."""


def __getattr__(name: str) -> Any:
    if name not in _REEXPORTED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module("lwk_regtest")
    except ModuleNotFoundError as exc:
        if exc.name != "lwk_regtest":
            raise  # lwk-regtest is there, something it needs is not: show that
        raise RegtestNotInstalled(
            f"lwk_core.regtest.{name} comes with the lwk-regtest distribution, "
            "which is not installed: pip install lwk-regtest",
            name="lwk_regtest",
        ) from None  # the only cause: the distribution is absent
    return getattr(module, name)


def __dir__() -> list[str]:
    return sorted(__all__)
