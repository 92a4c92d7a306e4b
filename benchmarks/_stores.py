"""`python -m benchmarks._stores`: saving one update to a large wallet, and loading it, with
the file store and the SQLite store.

The wallet state is built from the real Liquid testnet fixture (tests/data,
liquid-testnet-wallet.json): its 64 transactions, each output of the wallet unblinded with the
descriptor's blinding keys, then cloned with other version fields (distinct txids, real
sizes, real range proofs, the same unblinded secrets) until it has `--txs` transactions.
Each measured save stores the state after one Update: one new transaction (another clone,
unconfirmed) and its secrets, and a new tip, applied with `WolletState.applied`, as
`Wollet.apply_update` would; each store saved the state before it first (not timed).
A load is a new store object opening the wallet and reading the whole state; "open +
balance" is a restart as a user sees it: `Wollet(..., store=...)` then `balance()` (which
reads every transaction: the SQLite store's load leaves them to be parsed on first use).
Times are the median and worst of `--runs`; every load is checked equal to the state saved.
The SQLite store is measured with synchronous="full" (its default) and "normal".
`--json PATH` writes the results (benchmarks/results/stores.json by default), which
`python -m benchmarks --write-docs` reports against issue 18's targets.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import attrs

from lwk_core import (
    Chain,
    FileStore,
    Network,
    OutPoint,
    SqliteStore,
    Store,
    Tip,
    Transaction,
    TxOutSecrets,
    UnblindError,
    Update,
    Wollet,
    WolletDescriptor,
)
from lwk_core._state import WolletState

from ._report import revision

_FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "liquid-testnet-wallet.json"
_NETWORK = Network.LIQUID_TESTNET
_SCRIPTS_PER_CHAIN = 200
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "stores.json"


def _clones(txs: list[Transaction]) -> Iterator[Transaction]:
    """The fixture's transactions again and again, each time with another version field."""
    version = 2
    while True:
        version += 1
        for tx in txs:
            yield Transaction.from_bytes(struct.pack("<i", version) + tx.to_bytes()[4:])


def _secrets_of(
    tx: Transaction, scripts: dict[bytes, tuple[Chain, int]], d: WolletDescriptor
) -> dict[OutPoint, TxOutSecrets]:
    found = {}
    for vout, out in enumerate(tx.outputs):
        if out.is_blinded and out.script_pubkey in scripts:
            try:
                secrets = tx.unblind(vout, d.blinding_private_key(out.script_pubkey))
            except UnblindError:
                continue
            found[OutPoint(tx.txid, vout)] = secrets
    return found


def build_state(count: int) -> tuple[WolletState, Iterator[Transaction], dict[str, int]]:
    """A `count`-tx state of the fixture wallet, the clones still unused, the fixture's heights
    by txid."""
    fixture = json.loads(_FIXTURE.read_text())
    d = WolletDescriptor(fixture["descriptor"])
    scripts = {
        d.script_pubkey(chain, i): (chain, i)
        for chain in (Chain.EXTERNAL, Chain.INTERNAL)
        for i in range(_SCRIPTS_PER_CHAIN)
    }
    entries = fixture["transactions"].values()
    originals = [Transaction.from_hex(entry["hex"]) for entry in entries]
    heights = [entry["height"] for entry in entries]
    times = {entry["height"]: entry["timestamp"] for entry in entries}
    # A clone's outputs are the original's: so are their secrets (unblinded once).
    secrets = [_secrets_of(tx, scripts, d) for tx in originals]
    clones = _clones(originals)
    txs: dict[str, Transaction] = {}
    tx_heights: dict[str, int | None] = {}
    unblinded: dict[OutPoint, TxOutSecrets] = {}
    for n in range(count):
        tx = next(clones)
        txs[tx.txid] = tx
        tx_heights[tx.txid] = heights[n % len(heights)]
        for outpoint, found in secrets[n % len(originals)].items():
            unblinded[OutPoint(tx.txid, outpoint.vout)] = found
    top = max(heights)
    state = WolletState(
        descriptor=d,
        network=_NETWORK,
        txs=txs,
        heights=tx_heights,
        timestamps=times,
        scripts=scripts,
        unblinded=unblinded,
        last_unused={Chain.EXTERNAL: 100, Chain.INTERNAL: 100},
        tip=Tip(height=top, hash="ab" * 32, timestamp=times[top]),
    )
    return state, clones, {"unblinded": len(unblinded), "scripts": len(scripts)}


def one_update(state: WolletState, tx: Transaction) -> WolletState:
    """`state` after an Update bringing one new unconfirmed transaction and a new tip."""
    assert state.tip is not None
    update = Update(
        wallet_id=state.descriptor.wallet_id,
        base_status=state.status,
        tip=attrs.evolve(state.tip, height=state.tip.height + 1),
        new_txs=[tx],
        txid_height_new={tx.txid: None},
        unblinded=_secrets_of(tx, dict(state.scripts), state.descriptor),
        genesis_hash=state.genesis_hash,
    )
    return state.applied(update)


def _timed(action: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of `action` (on a shared machine the CPU time of this
    process is the steadier figure; the wall clock includes waiting for a core and fsync)."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(
    name: str, make: Callable[[Path], Store], state: WolletState, clones: Iterator[Transaction],
    runs: int, workdir: Path,
) -> dict[str, object]:  # fmt: skip
    """Save `state`, then `runs` one-update saves (timed), then `runs` loads (timed)."""
    d, network = state.descriptor, state.network
    store = make(workdir)
    wallet = store.open(d, network)
    first, _ = _timed(lambda: wallet.save(state))
    saves = []
    for _ in range(runs):
        state = one_update(state, next(clones))
        saves.append(_timed(partial(wallet.save, state)))
    wallet.close()
    _close(store)
    loads = []
    for _ in range(runs):
        store = make(workdir)
        loaded: list[WolletState | None] = []
        loads.append(_timed(partial(_load_into, loaded, store, d, network)))
        if loaded != [state]:
            raise SystemExit(f"{name}: the loaded state is not the one saved")
        _close(store)
    store = make(workdir)
    opened = _timed(partial(_open_and_balance, store, d, network))
    _close(store)
    size = sum(p.stat().st_size for p in workdir.rglob("*") if p.is_file())
    return {
        "store": name,
        "txs": len(state.txs),
        "first_save_s": first,
        "save_ms": _summary(saves, 1e3),
        "load_s": _summary(loads, 1),
        "open_and_balance_s": _summary([opened], 1),
        "bytes_on_disk": size,
    }


def _load_into(
    loaded: list[WolletState | None], store: Store, d: WolletDescriptor, network: Network
) -> None:
    """Open the wallet in `store` and load it (what a restart does)."""
    wallet = store.open(d, network)
    loaded.append(wallet.load())
    wallet.close()


def _open_and_balance(store: Store, d: WolletDescriptor, network: Network) -> None:
    with Wollet(network, d, store=store) as wollet:
        wollet.balance()


def _summary(times: list[tuple[float, float]], scale: float) -> dict[str, float]:
    walls, cpus = [w * scale for w, _ in times], [c * scale for _, c in times]
    return {
        "median": statistics.median(walls),
        "max": max(walls),
        "cpu_median": statistics.median(cpus),
    }


def _close(store: Store) -> None:
    if isinstance(store, SqliteStore):
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._stores", description=__doc__)
    parser.add_argument("--txs", type=int, default=10_000, help="wallet size (default 10000)")
    parser.add_argument("--runs", type=int, default=5, help="timed saves and loads (default 5)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="write the results here")
    args = parser.parse_args(argv)
    if args.txs < 1 or args.runs < 1:
        parser.error("--txs and --runs must be at least 1")
    start = time.perf_counter()
    state, clones, counts = build_state(args.txs)
    print(
        f"state: {len(state.txs)} txs, {counts['unblinded']} unblinded outputs, "
        f"{counts['scripts']} scripts (built in {time.perf_counter() - start:.1f} s)"
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in (
            ("file", lambda p: FileStore(p / "datadir")),
            ("sqlite", lambda p: SqliteStore(p / "wallets.db")),
            ("sqlite-normal", lambda p: SqliteStore(p / "wallets.db", synchronous="normal")),
        ):
            workdir = Path(tmp) / name
            workdir.mkdir()
            results.append(measure(name, make, state, clones, args.runs, workdir))
    print("store          first save | save of 1 update: median / max (CPU) | "
          "load: median / max (CPU) | open + balance (CPU) | on disk")  # fmt: skip
    for r in results:
        save, load, opened = r["save_ms"], r["load_s"], r["open_and_balance_s"]
        assert isinstance(save, dict) and isinstance(load, dict) and isinstance(opened, dict)
        print(
            f"{r['store']:14} {r['first_save_s']:>9.2f} s | "
            f"{save['median']:>9.1f} / {save['max']:.1f} ms ({save['cpu_median']:.1f} ms) | "
            f"{load['median']:.2f} / {load['max']:.2f} s ({load['cpu_median']:.2f} s) | "
            f"{opened['median']:.2f} s ({opened['cpu_median']:.2f} s) | "
            f"{int(str(r['bytes_on_disk'])) / 1e6:.1f} MB"
        )
    machine = {"revision": revision(), "loadavg": [round(x, 2) for x in os.getloadavg()]}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([{**r, **machine} for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
