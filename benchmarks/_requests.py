"""Electrum requests per method of one first scan and one rescan, ours against LWK.

`python -m benchmarks._requests --sizes 200 2000` builds each benchmark wallet on the regtest
servers (in their own process), then each implementation scans it once with a new client
and once more with the same client; the server's counters give the requests per JSON-RPC
method. No timing: these counts do not depend on the machine. The last column projects our
first scan with block headers fetched by range (`blockchain.block.headers`, one request per
contiguous run of at most 2016 heights) instead of one `blockchain.block.header` each.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any

from ._clients import Impl, Lwk, Ours
from ._server import ServerProcess
from ._wallets import build_wallet

__all__ = ["header_runs", "main"]

_HEADER = "blockchain.block.header"
_MAX_RANGE = 2016  # blockchain.block.headers' most headers per request (Electrum protocol)


def header_runs(heights: Iterable[int]) -> int:
    """Requests for `heights` by range: contiguous runs, each cut every 2016 heights."""
    runs, previous, length = 0, None, 0
    for height in sorted(set(heights)):
        if previous is None or height != previous + 1 or length == _MAX_RANGE:
            runs, length = runs + 1, 0
        previous, length = height, length + 1
    return runs


def _counted(server: ServerProcess, action: Callable[[], None]) -> dict[str, int]:
    before = server.electrum_methods()
    action()
    after = server.electrum_methods()
    return {m: n - before.get(m, 0) for m, n in after.items() if n != before.get(m, 0)}


def _measure(server: ServerProcess, impl: Impl, descriptor: str) -> dict[str, Any]:
    """The first scan counted from the client's construction (LWK's connects then)."""
    wollet = impl.new_wollet(descriptor)
    clients = []

    def first_scan() -> None:
        clients.append(impl.new_client("electrum", server.urls["electrum"]))
        impl.scan(clients[0], wollet)

    try:
        first = _counted(server, first_scan)
        rescan = _counted(server, lambda: impl.scan(clients[0], wollet))
    finally:
        for client in clients:
            impl.close(client)
    return {"first": first, "rescan": rescan, "wollet": wollet}


def _row(name: str, counts: dict[str, int]) -> str:
    methods = ", ".join(f"{m.removeprefix('blockchain.')} {n}" for m, n in sorted(counts.items()))
    return f"  {name:<13} {sum(counts.values()):>6}  {methods or '-'}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._requests", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--cache-dir", default=None)
    options = parser.parse_args(argv)
    with ServerProcess(options.cache_dir) as server:
        for size in options.sizes:
            wallet = build_wallet(server, size)
            ours = _measure(server, Ours(), wallet.descriptor)
            lwk = _measure(server, Lwk(), wallet.descriptor)
            tip = server.rt.tip_height()
            heights = [
                t.height for t in ours["wollet"].transactions() if t.height not in (None, tip)
            ]
            by_range = dict(ours["first"])
            if _HEADER in by_range:
                by_range[_HEADER] = header_runs(heights)
            total_ours, total_lwk = sum(ours["first"].values()), sum(lwk["first"].values())
            print(
                f"{size} txs: first scan ours/LWK {total_ours}/{total_lwk} = "
                f"{total_ours / total_lwk:.3f}; with headers by range "
                f"{sum(by_range.values())}/{total_lwk} = {sum(by_range.values()) / total_lwk:.3f}"
            )
            print(_row("ours first", ours["first"]))
            print(_row("LWK first", lwk["first"]))
            print(_row("ours rescan", ours["rescan"]))
            print(_row("LWK rescan", lwk["rescan"]))


if __name__ == "__main__":
    main()
