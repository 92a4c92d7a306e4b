"""Paths to the shared fixtures (computed by LWK) and small naming helpers for tests."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"

_names = itertools.count()


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def unique_name(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"
