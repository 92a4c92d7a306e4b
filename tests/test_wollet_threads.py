"""One update at a time: two updates computed from the same state, applied by two threads.

Exactly one wins, the other gets the typed "different state" UpdateError, and the wallet
in memory is the one on disk.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from lwk_memory_backend import MemoryChain, MemoryClient, register_chain
from lwk_regtest.testing import new_wallet_descriptor
from shared_data import load_fixture, unique_name
from stores import KINDS, Kind, opened

from lwk_core import Network, Update, UpdateError, Wollet
from lwk_core._transaction import Transaction

ROUNDS = 60
FIXTURE = load_fixture("liquid-testnet-wallet.json")


@pytest.fixture(autouse=True)
def _switch_often() -> Iterator[None]:
    """Threads switch every microsecond, so an unguarded check-then-set interleaves."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def race(wollet: Wollet, updates: list[Update]) -> list[BaseException | None]:
    """Apply each update in its own thread, all released at once; each one's outcome."""
    outcomes: list[BaseException | None] = [None] * len(updates)
    start = threading.Barrier(len(updates))

    def apply(i: int) -> None:
        start.wait()
        try:
            wollet.apply_update(updates[i])
        except BaseException as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=apply, args=(i,)) for i in range(len(updates))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("kept", ["memory", *KINDS])
def test_of_two_updates_from_one_state_exactly_one_is_applied(
    tmp_path: Path, kept: Kind | Literal["memory"]
) -> None:
    chain = MemoryChain(Network.ELEMENTS_REGTEST)
    name = unique_name("threads")
    register_chain(name, chain)
    client = MemoryClient(name)
    descriptor = new_wallet_descriptor()
    with contextlib.ExitStack() as stack:
        store = None if kept == "memory" else stack.enter_context(opened(kept, tmp_path))
        wollet = Wollet(Network.ELEMENTS_REGTEST, descriptor, store=store)
        for height in range(1, ROUNDS + 1):
            chain.tip_height = height
            first, second = client.full_scan(wollet), client.full_scan(wollet)
            assert first is not None and second is not None
            assert first.base_status == second.base_status == wollet.state.status
            outcomes = race(wollet, [first, second])
            refused = [exc for exc in outcomes if exc is not None]
            assert len(refused) == 1, outcomes
            assert isinstance(refused[0], UpdateError)
            assert "computed from another state of this wallet" in str(refused[0])
            tip = wollet.tip()
            assert tip is not None and tip.height == height
        if store is not None:
            wollet.close()
            reopened = Wollet(Network.ELEMENTS_REGTEST, descriptor, store=store)
            assert reopened.state.status == wollet.state.status
            assert reopened.tip() == wollet.tip()
            reopened.close()


def test_queries_read_one_state_while_another_thread_swaps_it() -> None:
    """Each query answers from one state: while a thread swaps the wallet between the fixture's
    two steps (as `apply_update` swaps states), every answer is one of LWK's two, never a mix
    and never a KeyError for a transaction the other state lacks."""
    chain = MemoryChain(Network.LIQUID_TESTNET)
    name = unique_name("snapshots")
    register_chain(name, chain)
    wollet = Wollet(Network.LIQUID_TESTNET, FIXTURE["descriptor"])
    states, expected = [], []
    for step in FIXTURE["steps"]:
        for txid in step["txids"]:
            entry = FIXTURE["transactions"][txid]
            chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])
        update = MemoryClient(name).full_scan(wollet)
        assert update is not None
        wollet.apply_update(update)
        states.append(wollet.state)
        lwk = step["expected"]
        expected.append((lwk["balance"], lwk["tx_count"], lwk["utxo_count"], lwk["txo_count"]))
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            for state in states:
                wollet._state = state  # what apply_update does under its lock

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        answers = [
            (
                dict(wollet.balance()),
                len(wollet.transactions()),
                len(wollet.utxos()),
                len(wollet.txos()),
            )
            for _ in range(300)
        ]
    finally:
        stop.set()
        swapper.join()
    # each query's own answer is one of the two (queries of one round may see either state)
    assert {tuple(sorted(a[0].items())) for a in answers} <= {
        tuple(sorted(e[0].items())) for e in expected
    }
    assert {a[1] for a in answers} <= {e[1] for e in expected}
    assert {a[2] for a in answers} <= {e[2] for e in expected}
    assert {a[3] for a in answers} <= {e[3] for e in expected}
