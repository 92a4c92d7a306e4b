"""`python -m benchmarks._unblind`: unblinding per output, ours against LWK's, on real Liquid
outputs; and a large scan's outputs in one thread against a thread pool.

The outputs are those paying the fixture wallet (tests/data/liquid-testnet-wallet.json: 133
blinded outputs of 64 real Liquid testnet transactions), each with its SLIP-77 blinding key.
Per output, the best of `--runs` passes over all of them, in this thread's CPU time (on a
shared machine wall time also measures the neighbours; it is printed beside it):

- ours: `Transaction.unblind` (lwk_core), all in C where the extension lwk_core._native was
  built (lwk_core/_native.c), and as without it (the Python opening and stream);
- LWK: the lwk wheel's `TxOut.unblind` (rust-elements: the library's verifying rewind);
- the library's `secp256k1_rangeproof_rewind` through our binding (it verifies the proof);
- ours in parts: the ECDH nonce, the prover's random stream (RFC 6979 HMAC-SHA256: C over
  OpenSSL's SHA-256, Python over hashlib), the checks that the secrets open both commitments.

Pool: `--outputs` jobs (the outputs over and over) through `unblind_many`, and through a
thread pool of `--threads` over chunks of `--chunk`, wall and process CPU time, the best of
`--runs`. Every implementation must find the same secrets, or the run fails.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import lwk

from lwk_core import Chain, Transaction, TxOutSecrets, UnblindError, WolletDescriptor, _rangeproof
from lwk_core._rangeproof import _python_draws, _read_proof, native_stream
from lwk_core._secp import get_secp
from lwk_core._transaction import TxOut
from lwk_core._unblind import (
    _check_opens,
    _parse_value_commitment,
    _rewind_nonce,
    _rewind_verified,
    unblind_many,
)

from ._report import busy_cpu_seconds, machine, revision

_FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "liquid-testnet-wallet.json"
_SCRIPTS_PER_CHAIN = 70  # the fixture's outputs reach index 59

Job = tuple[TxOut, bytes]


class _Output:
    """One wallet output: ours, LWK's, its key, the secrets LWK finds."""

    def __init__(self, tx: Transaction, vout: int, key: bytes) -> None:
        self.tx, self.vout, self.key = tx, vout, key
        self.out = tx.outputs[vout]
        self.lwk_out = lwk.Transaction.from_bytes(tx.to_bytes()).outputs()[vout]
        self.lwk_key = lwk.SecretKey.from_bytes(key)


def fixture_outputs() -> list[_Output]:
    data = json.loads(_FIXTURE.read_text())
    d = WolletDescriptor(data["descriptor"])
    keys = {
        spk: d.blinding_private_key(spk)
        for chain in (Chain.EXTERNAL, Chain.INTERNAL)
        for index in range(_SCRIPTS_PER_CHAIN)
        for spk in [d.script_pubkey(chain, index)]
    }
    found = []
    for entry in data["transactions"].values():
        tx = Transaction.from_hex(entry["hex"])
        for vout, out in enumerate(tx.outputs):
            if out.script_pubkey in keys and out.is_blinded:
                found.append(_Output(tx, vout, keys[out.script_pubkey]))
    return found


def ours_secrets(o: _Output) -> TxOutSecrets:
    return o.tx.unblind(o.vout, o.key)


def lwk_secrets(o: _Output) -> TxOutSecrets:
    s = o.lwk_out.unblind(o.lwk_key)
    return TxOutSecrets(str(s.asset()), s.value(), str(s.asset_bf()), str(s.value_bf()))


def library_rewind(o: _Output) -> tuple[int, bytes, bytes]:
    s = get_secp()
    nonce = _rewind_nonce(s, o.out.nonce_commitment, o.key)
    gen = ctypes.create_string_buffer(64)
    if s.lib.secp256k1_generator_parse(s.ctx, gen, o.out.asset_commitment) != 1:
        raise UnblindError("invalid asset commitment")
    commit = _parse_value_commitment(s, o.out.value_commitment)
    return _rewind_verified(s, o.out, nonce, commit, gen)


def per_output(
    outputs: Sequence[_Output], work: Callable[[_Output], object], runs: int
) -> dict[str, float]:
    """The best pass over every output: ms per output, CPU of this thread and wall."""
    cpu = wall = float("inf")
    for _ in range(runs):
        c, w = time.thread_time(), time.perf_counter()
        for o in outputs:
            work(o)
        cpu = min(cpu, time.thread_time() - c)
        wall = min(wall, time.perf_counter() - w)
    return {"cpu_ms": 1e3 * cpu / len(outputs), "wall_ms": 1e3 * wall / len(outputs)}


def _parts(outputs: Sequence[_Output]) -> dict[str, Callable[[_Output], object]]:
    """Each part of our unblinding on its own (inputs of the later parts computed before)."""
    s = get_secp()
    nonces = {id(o): _rewind_nonce(s, o.out.nonce_commitment, o.key) for o in outputs}
    secrets = {id(o): o.tx.unblind(o.vout, o.key) for o in outputs}

    def stream(draws: Callable[[bytes, bytes], bytes]) -> Callable[[_Output], object]:
        def replay(o: _Output) -> object:
            proof = _read_proof(o.out.range_proof)
            commit, gen = o.out.value_commitment, o.out.asset_commitment
            seed = nonces[id(o)] + bytes([commit[0] & 1]) + commit[1:]
            seed += bytes([gen[0] & 1]) + gen[1:] + proof.header
            return draws(seed, bytes(proof.sizes))

        return replay

    def checks(o: _Output) -> None:
        found = secrets[id(o)]
        gen = ctypes.create_string_buffer(64)
        s.lib.secp256k1_generator_parse(s.ctx, gen, o.out.asset_commitment)
        message = bytes.fromhex(found.asset)[::-1] + bytes.fromhex(found.asset_bf)[::-1]
        vbf = bytes.fromhex(found.value_bf)[::-1]
        _check_opens(s, o.out, found.value, vbf, gen, message)

    native = {"part: random stream (C)": stream(_rangeproof._draws)} if native_stream() else {}
    return {
        "part: ECDH nonce": lambda o: _rewind_nonce(s, o.out.nonce_commitment, o.key),
        **native,
        "part: random stream (Python)": stream(_python_draws),
        "part: commitment checks (Python)": checks,
    }


def without_extension(work: Callable[[_Output], object]) -> Callable[[_Output], object]:
    """`work` as where the C extension was not built (the fallback's cost)."""
    s = get_secp()

    def run(o: _Output) -> object:
        chosen, _rangeproof._draws = _rangeproof._draws, _python_draws
        native, s.native_unblind = s.native_unblind, None
        try:
            return work(o)
        finally:
            _rangeproof._draws = chosen
            s.native_unblind = native

    return run


def pooled(jobs: Sequence[Job], threads: int, chunk: int) -> list[TxOutSecrets | UnblindError]:
    """unblind_many over chunks in a thread pool, results in order."""
    chunks = [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)]
    with ThreadPoolExecutor(threads) as pool:
        return [r for part in pool.map(unblind_many, chunks) for r in part]


def timed(work: Callable[[], list[TxOutSecrets | UnblindError]], runs: int) -> dict[str, Any]:
    wall = cpu = float("inf")
    result: list[TxOutSecrets | UnblindError] = []
    for _ in range(runs):
        c, w = time.process_time(), time.perf_counter()
        result = work()
        cpu = min(cpu, time.process_time() - c)
        wall = min(wall, time.perf_counter() - w)
    return {"wall_s": wall, "cpu_s": cpu, "result": result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._unblind", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="passes; the best is kept")
    parser.add_argument("--limit", type=int, help="only the first N fixture outputs")
    parser.add_argument("--outputs", type=int, default=2000, help="jobs of the pool run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=50, help="jobs per pool task")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    if min(args.runs, args.outputs, args.threads, args.chunk) < 1:
        parser.error("--runs, --outputs, --threads and --chunk must be positive")
    outputs = fixture_outputs()[: args.limit]
    if not outputs:
        parser.error("no output to unblind")
    ours = [ours_secrets(o) for o in outputs]
    if ours != [lwk_secrets(o) for o in outputs]:
        print("ours and LWK's secrets differ", file=sys.stderr)
        return 1
    if ours != [without_extension(ours_secrets)(o) for o in outputs]:
        print("ours with and without the C extension differ", file=sys.stderr)
        return 1
    busy = busy_cpu_seconds()
    started = time.perf_counter()
    cases: dict[str, Callable[[_Output], object]] = {
        "ours": ours_secrets,
        "ours, without the extension": without_extension(ours_secrets),
        "LWK (lwk wheel)": lwk_secrets,
        "library rewind": library_rewind,
        **_parts(outputs),
    }
    rows = {name: per_output(outputs, work, args.runs) for name, work in cases.items()}
    jobs = [
        (outputs[i % len(outputs)].out, outputs[i % len(outputs)].key) for i in range(args.outputs)
    ]
    single = timed(lambda: unblind_many(jobs), args.runs)
    pool = timed(lambda: pooled(jobs, args.threads, args.chunk), args.runs)
    if single.pop("result") != pool.pop("result"):
        print("the pool's results differ from unblind_many's", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    result = {
        "machine": machine(),
        "revision": revision(),
        "outputs": len(outputs),
        "native_stream": native_stream(),
        "cores_busy": (busy_cpu_seconds() - busy) / elapsed if elapsed > 0 else 0.0,
        "per_output": rows,
        "ours_over_lwk_cpu": rows["ours"]["cpu_ms"] / rows["LWK (lwk wheel)"]["cpu_ms"],
        "pool": {"jobs": len(jobs), "threads": args.threads, "chunk": args.chunk},
        "single": single,
        "pooled": pool,
    }
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['outputs']} real Liquid outputs, best of the runs; machine: "
        f"{result['machine']['nproc']} cores, {result['cores_busy']:.2f} kept busy meanwhile "
        f"(everyone), revision {result['revision']}; the C extension "
        f"{'built' if result['native_stream'] else 'not built'}",
        f"{'per output':32} {'CPU ms':>8} {'wall ms':>8}",
    ]
    for name, row in result["per_output"].items():
        lines.append(f"{name:32} {row['cpu_ms']:8.3f} {row['wall_ms']:8.3f}")
    lines.append(f"ours/LWK (CPU): {result['ours_over_lwk_cpu']:.3f}")
    pool = result["pool"]
    lines.append(f"{pool['jobs']} outputs: wall s, process CPU s")
    for name, key in (
        ("unblind_many", "single"),
        (f"pool of {pool['threads']} (chunks of {pool['chunk']})", "pooled"),
    ):
        lines.append(f"  {name:32} {result[key]['wall_s']:7.3f} {result[key]['cpu_s']:7.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
