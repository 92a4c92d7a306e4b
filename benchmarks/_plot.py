"""The figure of docs/benchmarks.md: scan time against wallet size, ours and LWK.

matplotlib is needed only here (the `bench` extra, `tox -e bench`), with its Agg backend:
no display, a PNG file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

__all__ = ["PlotUnavailable", "require_matplotlib", "write_plot"]

_IMPLS = {"ours": ("lwk-core", "tab:blue"), "lwk": ("LWK 0.19", "tab:orange")}
_SCENARIOS = {
    "first_scan": ("first scan", "-", "o"),
    "rescan_nothing": ("rescan, nothing new", "--", "s"),
}


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def require_matplotlib() -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise PlotUnavailable(
            "the plot needs matplotlib: pip install -e .[bench] (or tox -e bench)"
        )


def write_plot(result: dict[str, Any], path: Path) -> None:
    """One subplot per backend (rows) and latency (columns): median seconds per wallet size,
    log-log, for first scans and rescans with nothing new."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    rows = result["rows"]
    backends = sorted({r["backend"] for r in rows})
    latencies = sorted({r["latency_ms"] for r in rows})
    sizes = sorted({r["size"] for r in rows})
    figure, axes = pyplot.subplots(
        len(backends),
        len(latencies),
        figsize=(5 * len(latencies), 3.6 * len(backends) + 0.5),
        squeeze=False,
        sharex=True,
    )
    for i, backend in enumerate(backends):
        for j, latency in enumerate(latencies):
            ax = axes[i][j]
            for scenario, (what, style, marker) in _SCENARIOS.items():
                case = sorted(
                    (
                        r
                        for r in rows
                        if (r["backend"], r["latency_ms"], r["scenario"])
                        == (backend, latency, scenario)
                    ),
                    key=lambda r: r["size"],
                )
                for impl, (name, color) in _IMPLS.items():
                    ax.plot(
                        [r["size"] for r in case],
                        [r[impl]["median_s"] for r in case],
                        linestyle=style,
                        marker=marker,
                        color=color,
                        label=f"{name}, {what}",
                    )
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{backend}, {latency} ms added per reply")
            ax.set_xticks(sizes, [str(size) for size in sizes])
            ax.minorticks_off()
            if i == len(backends) - 1:
                ax.set_xlabel("wallet size (transactions)")
            ax.set_ylabel("median time (s)")
            ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize="small")
    figure.suptitle(
        f"lwk-core vs LWK 0.19, lower is better ({result.get('revision', 'unknown')},"
        f" {result.get('date', '')[:10]})"
    )
    figure.tight_layout(rect=(0, 0.05, 1, 1))  # the legend below the subplots
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
