"""Crash safety of the persistent wallet: SIGKILL at random moments never loses or breaks it.

A child process (crash_child.py) keeps syncing a persistent Wollet against a memory
chain whose history grows (and, once complete, shrinks back), announcing each state before it
is saved ("saving") and after `apply_update` returned ("committed"). The parent kills it at a
random moment, then loads the datadir itself. The loaded state must be the last committed one,
or the one whose save was in flight: never an older one (a committed state was lost), never a
torn one (StoreCorrupted would fail the test), and the lock must not outlive the process.
A final sync from the survivor reaches LWK's figures for the full fixture history.
Each test runs against both stores: the file store and the SQLite store (stores.py), the
latter in both synchronous modes (a killed process loses no commit in either).
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from crash_child import FIXTURE, NETWORK, TXIDS, chain_of, summary
from lwk_memory_backend import register_chain
from shared_data import unique_name
from stores import CRASH_KINDS, DATABASE, Kind, opened, state_files

from lwk_core import connect
from lwk_core._wollet import Wollet

CHILD = Path(__file__).with_name("crash_child.py")
# Kill within this many seconds after the child reports it is running; a step (scan + save)
# takes tens of milliseconds, so kills land in every phase of many steps.
MAX_DELAY = 0.6


def _loaded(datadir: Path, kind: Kind) -> dict[str, Any]:
    with opened(kind, datadir) as store, Wollet(NETWORK, FIXTURE["descriptor"], store=store) as w:
        return summary(w.state)


def _kill_once(
    datadir: Path, kind: Kind, step: int, delay: float, stderr: Path
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the child from `step`, SIGKILL it `delay` seconds after it is ready; its events."""
    with stderr.open("wb") as err:
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(datadir), str(step), kind],
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=CHILD.parent,
        )
    assert child.stdout is not None
    try:
        ready = child.stdout.readline()
        assert ready.endswith(b"\n"), f"child died at start: {stderr.read_text()[-2000:]}"
        time.sleep(delay)  # the random moment of the crash, not a synchronisation
        child.send_signal(signal.SIGKILL)
        child.wait()
        output = child.stdout.read()
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL, f"child failed: {stderr.read_text()[-2000:]}"
    # A line cut by the kill is dropped: the state it announced was also announced as saving.
    events = [json.loads(line) for line in output.split(b"\n")[:-1]]
    return json.loads(ready), events


def _crash_loop(tmp_path: Path, kind: Kind, kills: int, seed: int) -> Counter[str]:
    rng = random.Random(seed)
    datadir = tmp_path / "data"
    stats: Counter[str] = Counter()
    committed = summary(Wollet(NETWORK, FIXTURE["descriptor"]).state)  # nothing saved yet
    step = 0
    for _ in range(kills):
        ready, events = _kill_once(datadir, kind, step, rng.uniform(0, MAX_DELAY), tmp_path / "err")
        assert ready["state"] == committed  # the child restarted from what was committed
        in_flight = None
        for event in events:
            if event["event"] == "saving":
                in_flight = event
            elif event["event"] == "committed":
                assert in_flight is not None and event["state"] == in_flight["state"]
                committed, step, in_flight = event["state"], event["step"] + 1, None
                stats["commits"] += 1
        loaded = _loaded(datadir, kind)
        if in_flight is not None:
            stats["killed while saving"] += 1
            if loaded == in_flight["state"]:
                stats["in-flight save survived"] += 1
                committed, step = loaded, in_flight["step"] + 1
                continue
        assert loaded == committed, "the state on disk is not the last committed one"
    return stats


def _finish_and_check(datadir: Path, kind: Kind) -> None:
    """A sync against the whole history from the survivor gives LWK's figures."""
    name = unique_name("crash-final")
    register_chain(name, chain_of(len(TXIDS)))
    with opened(kind, datadir) as store, Wollet(NETWORK, FIXTURE["descriptor"], store=store) as w:
        update = connect(f"memory://{name}", NETWORK).full_scan(w)
        if update is not None:
            w.apply_update(update)
        final = summary(w.state)
    expected = FIXTURE["steps"][1]["expected"]
    with opened(kind, datadir) as store, Wollet(NETWORK, FIXTURE["descriptor"], store=store) as w:
        assert summary(w.state) == final
        assert dict(w.balance()) == expected["balance"]
        assert len(w.transactions()) == expected["tx_count"]
        assert len(w.utxos()) == expected["utxo_count"]


def _report(kills: int, stats: Counter[str]) -> None:
    print(f"\n{kills} kills: {dict(stats)}", file=sys.stderr)


@pytest.mark.parametrize("kind", CRASH_KINDS)
def test_random_kills_never_lose_or_break_the_wallet(tmp_path: Path, kind: Kind) -> None:
    stats = _crash_loop(tmp_path, kind, kills=15, seed=1)
    _report(15, stats)
    assert stats["commits"] > 15  # the children did make progress between kills
    kept = {p.name for p in state_files(tmp_path / "data")}
    assert kept == ({DATABASE} if kind != "file" else {"lock", "state"})
    _finish_and_check(tmp_path / "data", kind)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("kind", CRASH_KINDS)
def test_200_random_kills(tmp_path: Path, kind: Kind) -> None:
    stats = _crash_loop(tmp_path, kind, kills=200, seed=2)
    _report(200, stats)
    assert stats["killed while saving"] > 0  # some kills did land inside a save
    _finish_and_check(tmp_path / "data", kind)
