"""The test data folder (`tests/data`, see its README.md) and small naming helpers for tests.

Every test tree (core, plugins) imports this module: pyproject.toml puts `tests/` on pytest's
`pythonpath`, so this is the one place that knows where the data lives.
"""

from __future__ import annotations

import itertools
import json
import signal
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"

_names = itertools.count()


def load_fixture(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def unique_name(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def regtest_wallet_descriptor() -> str:
    """A slip77 wpkh descriptor of elementsregtest with both chains, from LWK's vectors."""
    return str(
        next(
            v["descriptor"]
            for v in load_fixture("descriptor-vectors.json")["vectors"]
            if v["network"] == "elementsregtest"
            and v["shape"].startswith("wpkh")
            and "slip77" in v["descriptor"]
            and "<0;1>" in v["descriptor"]
        )
    )


def interruptible() -> None:
    """`preexec_fn` for a child that a test stops with SIGINT: Ctrl-C's default action, as
    in a terminal (a suite started in the background, `cmd &` or nohup, passes SIGINT on
    ignored, and Python then never raises KeyboardInterrupt in the child)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def funded_round_trip_wallet(rt: Any, n_txs: int, seed: bytes = bytes(range(16))) -> str:
    """The descriptor (LWK's signer, from `seed`) of a wallet the round-trip tests scan on
    the Regtest `rt`: `n_txs` payments to `n_txs // 4` addresses, 10 a block, then one more
    block (every payment confirmed below the tip)."""
    import lwk

    network = lwk.Network.regtest_default()
    signer = lwk.Signer(lwk.Mnemonic.from_entropy(seed), network)
    descriptor = str(signer.wpkh_slip77_descriptor())
    rt.fund_wallet(descriptor, n_txs, n_addresses=n_txs // 4, txs_per_block=10)
    rt.mine(1)
    return descriptor
