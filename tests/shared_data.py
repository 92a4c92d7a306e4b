"""The test data folder (`tests/data`, see its README.md) and small naming helpers for tests.

Every test tree (core, plugins) imports this module: pyproject.toml puts `tests/` on pytest's
`pythonpath`, so this is the one place that knows where the data lives.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"

_names = itertools.count()


def load_fixture(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def unique_name(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"
