"""Child process of test_crash_safety: syncs a persistent wallet step by step until killed.

    python crash_child.py DATADIR FIRST_STEP STORE_KIND

Step `s` serves the oldest `served(s)` fixture transactions from an in-process memory chain
(growing by 3 per step, back to 3 after the full history, so transactions also vanish), runs a
full scan and applies it to a Wollet kept in DATADIR by a store of STORE_KIND (file or
sqlite, see stores.py), which saves before it returns.
Each event is one flushed JSON line on stdout: "ready" (the state loaded at start), "saving"
(the state about to be written) and "committed" (apply_update returned).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, cast

from lwk_memory_backend import MemoryChain, register_chain
from shared_data import load_fixture
from stores import Kind, opened

from lwk_core import Client, Network, connect
from lwk_core._state import WolletState
from lwk_core._state_codec import encode_state
from lwk_core._transaction import Transaction
from lwk_core._wollet import Wollet

FIXTURE = load_fixture("liquid-testnet-wallet.json")
NETWORK = Network.LIQUID_TESTNET
# Oldest first: a wallet discovers spends after the outputs they spend, as in real life.
TXIDS = sorted(
    FIXTURE["steps"][1]["txids"], key=lambda t: (FIXTURE["transactions"][t]["height"], t)
)
_PER_STEP = 3
_CYCLE = -(-len(TXIDS) // _PER_STEP) + 1  # steps per cycle (the last one changes nothing)


def served(step: int) -> int:
    """How many of the oldest fixture transactions the chain serves at `step`."""
    return min(len(TXIDS), _PER_STEP * (step % _CYCLE + 1))


_TIP = max(FIXTURE["transactions"][t]["height"] for t in TXIDS)


def chain_of(count: int) -> MemoryChain:
    """The first `count` txs; the tip stays at the top even when txs vanish, as on a real
    chain (a tip far below confirmed history is refused as a stale server)."""
    chain = MemoryChain(NETWORK)
    for txid in TXIDS[:count]:
        entry = FIXTURE["transactions"][txid]
        chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])
    chain.tip_height = _TIP
    return chain


def summary(state: WolletState) -> dict[str, Any]:
    """What identifies a state: its status and counts, and a digest of all its content."""
    return {
        "status": state.status,
        "txs": len(state.heights),
        "unblinded": len(state.unblinded),
        "scripts": len(state.scripts),
        "digest": hashlib.sha256(encode_state(state)).hexdigest(),
    }


def _emit(event: str, step: int, state: WolletState) -> None:
    print(json.dumps({"event": event, "step": step, "state": summary(state)}), flush=True)


def main(datadir: str, step: int, kind: Kind) -> None:
    name = "crash-child"
    client = connect(f"memory://{name}", NETWORK)
    with opened(kind, Path(datadir)) as store:
        _run(client, Wollet(NETWORK, FIXTURE["descriptor"], store=store), name, step)


def _run(client: Client, wollet: Wollet, name: str, step: int) -> None:
    _emit("ready", step, wollet.state)
    while True:
        register_chain(name, chain_of(served(step)))
        update = client.full_scan(wollet)
        if update is not None:
            _emit("saving", step, wollet.state.applied(update))
            wollet.apply_update(update)
            _emit("committed", step, wollet.state)
        step += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), cast(Kind, sys.argv[3]))
