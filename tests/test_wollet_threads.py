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
from shared_data import unique_name
from stores import KINDS, Kind, opened

from lwk_core import Network, Update, UpdateError, Wollet

ROUNDS = 60


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
