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


def regtest_wallet_descriptor() -> str:
    """A slip77 wpkh descriptor of elementsregtest with both chains, from LWK's vectors."""
    return str(
        next(
            v["descriptor"]
            for v in load_fixture("descriptor-vectors.json")["vectors"]
            if v["network"] == "elementsregtest"
            and v["shape"].startswith("wpkh")
            and "slip77" in v["descriptor"]
            and "<0;1>" in v["descriptor"]
        )
    )
