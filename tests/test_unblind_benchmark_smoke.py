"""The unblinding benchmark (python -m benchmarks._unblind) end to end on a few fixture
outputs: it runs, ours, LWK's and the pool's secrets agree (it fails otherwise), and every
case is reported (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lwk_core._rangeproof import native_stream

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.lwk
def test_the_unblinding_benchmark_runs_on_a_few_outputs(tmp_path: Path) -> None:
    out = tmp_path / "unblind.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._unblind", "--limit", "4", "--outputs", "10",
         "--runs", "1", "--chunk", "3", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ours/LWK (CPU)" in done.stdout
    result = json.loads(out.read_text())
    assert result["outputs"] == 4
    native = ["part: random stream (C)"] if native_stream() else []
    assert result["native_stream"] is native_stream()
    assert list(result["per_output"]) == [
        "ours",
        "ours, without the extension",
        "LWK (lwk wheel)",
        "library rewind",
        "part: ECDH nonce",
        *native,
        "part: random stream (Python)",
        "part: commitment checks (Python)",
    ]
    assert result["pool"] == {"jobs": 10, "threads": 2, "chunk": 3}
