"""The memory benchmark's children hold one side each: ours without the `lwk` wheel, LWK's
without lwk-core, neither with the regtest chain (a fair peak-RSS comparison)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.lwk


def modules_after_import(module: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after importing `module`."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return {name.partition(".")[0] for name in json.loads(done.stdout)}


def test_our_side_imports_no_lwk_wheel_nor_regtest_chain() -> None:
    held = modules_after_import("benchmarks._ours")
    assert "lwk_core" in held
    assert "lwk" not in held
    assert "lwk_regtest" not in held


def test_lwk_side_imports_no_lwk_core() -> None:
    held = modules_after_import("benchmarks._lwk")
    assert "lwk" in held
    assert not {"lwk_core", "lwk_regtest", "lwk_electrum", "lwk_esplora"} & held


def test_memory_child_module_imports_neither_side() -> None:
    held = modules_after_import("benchmarks._memory")
    assert not {"lwk", "lwk_core", "lwk_regtest"} & held
