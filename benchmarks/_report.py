"""Results: medians and ratios, the targets, the machine, the table and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from ._measure import Sample

__all__ = [
    "Row",
    "Target",
    "busy_cpu_seconds",
    "format_report",
    "machine",
    "revision",
    "round_trips",
    "summarize",
    "targets",
    "write_json",
]


@attrs.frozen
class Target:
    """A goal on one row's ours/LWK ratio, or on our peak memory (scenario "memory")."""

    size: int
    backend: str
    latency_ms: int
    scenario: str
    limit: float


TARGETS = (
    Target(200, "electrum", 0, "first_scan", 0.6),
    Target(200, "electrum", 50, "first_scan", 0.6),
    Target(200, "esplora", 0, "first_scan", 0.6),
    Target(200, "esplora", 50, "first_scan", 0.2),
    Target(200, "electrum", 50, "rescan_nothing", 0.3),
    Target(200, "esplora", 50, "rescan_nothing", 0.3),
    Target(200, "electrum", 50, "rescan_payment", 0.5),
    Target(200, "esplora", 50, "rescan_payment", 0.5),
    Target(2000, "electrum", 0, "memory", 300.0),
    Target(2000, "esplora", 0, "memory", 300.0),
)


def summarize(samples: dict[str, list[Sample]]) -> dict[str, Any]:
    """Median seconds and requests per implementation, and the ours/LWK ratio of medians."""
    row: dict[str, Any] = {}
    for name, runs in samples.items():
        row[name] = {
            "seconds": [round(s.seconds, 4) for s in runs],
            "median_s": round(statistics.median(s.seconds for s in runs), 4),
            "requests": round(statistics.median(s.requests for s in runs)),
        }
    row["ratio"] = round(row["ours"]["median_s"] / row["lwk"]["median_s"], 3)
    return row


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def revision() -> str:
    """The commit measured ("+dirty" when the working tree differs), or "unknown"."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=30
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "lwk_core", "plugins")
    return commit + ("+dirty" if dirty else "")


def busy_cpu_seconds() -> float:
    """CPU seconds all processes of the machine have used (non-idle time in /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0.0
    jiffies = [int(f) for f in fields]
    idle = jiffies[3] + jiffies[4]  # idle + iowait
    return (sum(jiffies[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _value(result: dict[str, Any], target: Target) -> float | None:
    if target.scenario == "memory":
        for mem in result["memory"]:
            if (mem["size"], mem["backend"], mem["impl"]) == (target.size, target.backend, "ours"):
                return float(mem["peak_mb"])
        return None
    for row in result["rows"]:
        key = (row["size"], row["backend"], row["latency_ms"], row["scenario"])
        if key == (target.size, target.backend, target.latency_ms, target.scenario):
            return float(row["ratio"])
    return None


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the measured value (None: not measured in this run) and whether met."""
    out = []
    for target in TARGETS:
        value = _value(result, target)
        out.append(
            {
                **attrs.asdict(target),
                "value": value,
                "met": None if value is None else value <= target.limit,
            }
        )
    return out


Row = dict[str, Any]


def _table(headers: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    """A Markdown table (readable as plain text too)."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return "\n".join(out)


def round_trips(rows: Sequence[Row]) -> list[Row]:
    """Sequential round trips of each scan, derived: the time a latency adds, divided by it.

    Requests sent in parallel or in one burst share a round trip, so this counts what the
    user waits for; requests are counted separately, at the servers.
    """
    base = {(r["size"], r["backend"], r["scenario"]): r for r in rows if r["latency_ms"] == 0}
    derived = []
    for r in rows:
        zero = base.get((r["size"], r["backend"], r["scenario"]))
        if r["latency_ms"] == 0 or zero is None:
            continue
        added = {
            impl: (r[impl]["median_s"] - zero[impl]["median_s"]) / (r["latency_ms"] / 1000)
            for impl in ("ours", "lwk")
        }
        derived.append({key: r[key] for key in ("size", "backend", "latency_ms", "scenario")})
        derived[-1].update(added)
    return derived


_CASE = ["txs", "backend", "latency", "scenario"]


def _case(row: Row) -> list[str]:
    """The columns naming a measured case."""
    return [
        str(row["size"]),
        row["backend"],
        f"{row['latency_ms']} ms",
        row["scenario"].replace("_", " "),
    ]


def format_report(result: dict[str, Any]) -> str:
    rows = [
        [
            *_case(r),
            f"{r['ours']['median_s']:.3f}",
            f"{r['lwk']['median_s']:.3f}",
            f"{r['ratio']:.2f}",
            str(r["ours"]["requests"]),
            str(r["lwk"]["requests"]),
        ]
        for r in result["rows"]
    ]
    parts = [_table([*_CASE, "ours s", "LWK s", "ours/LWK", "ours req", "LWK req"], rows)]
    trips = [
        [*_case(t), f"{t['ours']:.1f}", f"{t['lwk']:.1f}"] for t in round_trips(result["rows"])
    ]
    if trips:
        parts.append(_table([*_CASE, "ours round trips", "LWK round trips"], trips))
    if result["memory"]:
        mem = [
            [str(m["size"]), m["backend"], m["impl"], f"{m['peak_mb']:.0f}", f"{m['scan_mb']:.0f}"]
            for m in result["memory"]
        ]
        parts.append(_table(["txs", "backend", "impl", "peak RSS MB", "scan adds MB"], mem))
    goals = [
        [
            f"{t['size']} {t['backend']} {t['scenario'].replace('_', ' ')}"
            + ("" if t["scenario"] == "memory" else f" {t['latency_ms']} ms"),
            f"<= {t['limit']:g}",
            "-" if t["value"] is None else f"{t['value']:.2f}",
            {True: "met", False: "MISSED", None: "not run"}[t["met"]],
        ]
        for t in result["targets"]
    ]
    parts.append(_table(["target", "limit", "measured", "status"], goals))
    parts.append(
        f"{result['seconds']:.0f} s at {result.get('revision', 'unknown')}; other processes kept"
        f" {result['other_load']:.2f} of {result['machine']['nproc']} cores busy on average"
    )
    return "\n\n".join(parts)


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
