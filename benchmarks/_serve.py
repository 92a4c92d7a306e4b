"""`python -m benchmarks._serve`: the regtest chain and its servers, in their own process.

Like `python -m lwk_core.regtest`, but the control channel (JSON lines on stdin/stdout) also
answers `requests`: the request counters of the Electrum (tcp) and Esplora servers, which a
benchmark reads before and after each scan to count what the scan asked for.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lwk_core.regtest import Regtest


def _counters(rt: Regtest) -> dict[str, Any]:
    return {
        "electrum": {
            "total": rt.electrum_faults.requests,
            "methods": dict(rt.electrum_server.requests),
        },
        "esplora": {"total": rt.esplora_faults.requests},
    }


def _reply(rt: Regtest, request: dict[str, Any]) -> dict[str, Any]:
    method, params = request.get("method"), request.get("params", [])
    try:
        result = _counters(rt) if method == "requests" else rt.handle(str(method), list(params))
    except Exception as exc:  # report every failure to the parent, keep serving
        return {"id": request.get("id"), "error": f"{type(exc).__name__}: {exc}"}
    return {"id": request.get("id"), "result": result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._serve", description=__doc__)
    parser.add_argument("--cache-dir", help="where the faucet caches built transactions")
    args = parser.parse_args(argv)
    with Regtest(cache_dir=args.cache_dir) as rt:
        info = {"electrum_url": rt.electrum_url, "esplora_url": rt.esplora_url}
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(_reply(rt, json.loads(line))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
