"""`python -m lwk_regtest`: run a regtest chain with its servers until stdin closes.

Prints one JSON line with the URLs (electrum_url, electrum_ssl_url, esplora_url), the TLS
certificate (cert_pem, cert_fingerprint) and the network, then answers control commands read
from stdin as JSON lines, `{"id": 1, "method": "faucet", "params": [address, sats]}` ->
`{"id": 1, "result": txid}`; see `Regtest.handle` for the methods.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lwk_core import Network

from . import DEFAULT_SIGNERS, BlockSigners, Regtest, RegtestRejected


def _reply(rt: Regtest, request: dict[str, Any]) -> dict[str, Any]:
    try:
        result = rt.handle(request["method"], request.get("params", []))
    except RegtestRejected as exc:
        error = {"type": "RegtestRejected", "reason": exc.reason, "code": exc.code}
        return {"id": request.get("id"), "error": error}
    except Exception as exc:  # report every failure to the parent, keep serving
        return {"id": request.get("id"), "error": {"type": type(exc).__name__, "message": str(exc)}}
    return {"id": request.get("id"), "result": result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lwk_regtest", description=__doc__)
    parser.add_argument("--network", default="elementsregtest")
    parser.add_argument(
        "--genesis-hash", help="the genesis the servers declare (default: the network's)"
    )
    parser.add_argument("--fixture", help="a wallet fixture JSON file to serve")
    parser.add_argument("--step", type=int, default=1, help="fixture step to serve")
    parser.add_argument("--cache-dir", help="where built transactions are cached")
    parser.add_argument("--no-cache", action="store_true", help="do not cache transactions")
    parser.add_argument(
        "--example-wallet", action="store_true", help="fund the example wallet, print it"
    )
    parser.add_argument(
        "--electrum-max-subscriptions",
        type=int,
        help="script subscriptions each Electrum connection may hold (default: no cap)",
    )
    signing = parser.add_mutually_exclusive_group()
    signing.add_argument(
        "--signers", help="the block signers as JSON (BlockSigners.to_json; default: 2 of 3)"
    )
    signing.add_argument("--unsigned", action="store_true", help="unsigned OP_TRUE blocks")
    args = parser.parse_args(argv)
    signers: BlockSigners | None = DEFAULT_SIGNERS
    if args.unsigned or args.signers:
        signers = BlockSigners.from_json(json.loads(args.signers)) if args.signers else None
    options: dict[str, Any] = {
        "cache": not args.no_cache,
        "cache_dir": args.cache_dir,
        "signers": signers,
    }
    if args.fixture:
        rt = Regtest.from_fixture(args.fixture, step=args.step, **options)
    else:
        rt = Regtest(
            Network.from_name(args.network),
            genesis_hash=args.genesis_hash,
            electrum_max_subscriptions=args.electrum_max_subscriptions,
            **options,
        )
    with rt:
        info: dict[str, Any] = {
            "network": rt.network.value,
            "electrum_url": rt.electrum_url,
            "electrum_ssl_url": rt.electrum_ssl_url,
            "esplora_url": rt.esplora_url,
            "waterfalls_url": rt.waterfalls_url,
            "cert_fingerprint": rt.cert_fingerprint,
            "cert_pem": rt.cert_pem.decode(),
        }
        if args.example_wallet:
            info["example_wallet"] = rt.example_wallet()
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            if line.strip():
                try:
                    request = json.loads(line)
                except ValueError:
                    request = {"id": None, "method": "", "params": []}
                print(json.dumps(_reply(rt, request)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
