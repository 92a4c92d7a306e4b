"""Helpers shared by the CLI tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
from lwk_memory_backend import MemoryChain
from shared_data import load_fixture

from lwk_core._transaction import Transaction

FIXTURE = load_fixture("liquid-testnet-wallet.json")
STEP1, STEP2 = FIXTURE["steps"]
DESCRIPTOR: str = FIXTURE["descriptor"]
# Pieces of the descriptor that must never be printed: the blinding key and the tpub.
SECRET_PARTS = [
    part for part in DESCRIPTOR.replace("(", ",").replace(")", ",").split(",") if len(part) > 40
]


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Run = Callable[..., Result]


def add_fixture_tx(chain: MemoryChain, txid: str) -> None:
    entry = FIXTURE["transactions"][txid]
    chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for part in SECRET_PARTS:
            assert part not in text


def one_line(text: str) -> str:
    """The single line of `text` (fails if there are more)."""
    lines = text.strip("\n").split("\n")
    assert len(lines) == 1, text
    return lines[0]
