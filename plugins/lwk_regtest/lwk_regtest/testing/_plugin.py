"""The pytest fixtures of the kit (registered through the `pytest11` entry point)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .. import Regtest


@pytest.fixture(scope="session")
def lwk_regtest() -> Iterator[Regtest]:
    """One embedded regtest chain with Electrum and Esplora servers for the session."""
    from .. import Regtest

    with Regtest() as rt:
        yield rt
