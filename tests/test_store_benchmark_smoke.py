"""The store benchmark (python -m benchmarks._stores) end to end on a tiny wallet: it runs,
checks every load against the state saved, and reports both stores, the SQLite one in both
synchronous modes (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_store_benchmark_runs_on_a_small_wallet(tmp_path: Path) -> None:
    out = tmp_path / "stores.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._stores", "--txs", "100", "--runs", "2", "--json",
         str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "state: 100 txs" in done.stdout
    results = json.loads(out.read_text())
    assert [r["store"] for r in results] == ["file", "sqlite", "sqlite-normal"]
    assert all(r["txs"] == 102 for r in results)  # 100, then one update per timed save
