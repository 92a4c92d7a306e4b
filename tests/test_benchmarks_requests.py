"""`python -m benchmarks._requests`' projection of header requests by range (nothing
measured): the Electrum protocol's `blockchain.block.headers` returns at most 2016
consecutive headers, so each contiguous run of heights costs one request per 2016."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("heights", "requests"),
    [
        ([], 0),
        ([7], 1),
        ([9, 7, 8, 8], 1),  # unordered and repeated heights: one run
        ([5, 7], 2),
        ([1, 2, 3, 10, 11, 40], 3),
        (range(100, 100 + 2016), 1),
        (range(100, 100 + 2017), 2),
        (range(1, 1 + 2 * 2016 + 1), 3),
    ],
)
def test_each_contiguous_run_costs_one_request_per_2016_heights(
    monkeypatch: pytest.MonkeyPatch, heights: Iterable[int], requests: int
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks._requests import header_runs

    assert header_runs(heights) == requests
