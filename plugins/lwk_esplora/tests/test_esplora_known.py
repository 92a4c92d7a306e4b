"""What a known confirmed history may stand in for: the cases a fake server cannot stage."""

from __future__ import annotations

import pytest
from lwk_esplora import _known
from lwk_esplora._known import KnownHistories
from lwk_esplora._parse import PageEntry

A, B, C = "aa" * 32, "bb" * 32, "cc" * 32  # block hashes at heights 3, 2, 1


def tx(n: int, height: int, block: str) -> PageEntry:
    return PageEntry(f"{n:064x}", height, 1_700_000_000 + height, block)


KNOWN = [tx(5, 3, A), tx(4, 2, B), tx(3, 2, B), tx(2, 1, C), tx(1, 1, C)]  # newest first


def known() -> KnownHistories:
    histories = KnownHistories()
    histories.remember("s", KNOWN)
    return histories


def test_the_txs_below_a_known_tx_of_the_same_block_are_the_known_ones() -> None:
    assert known().older("s", KNOWN[:3]) == KNOWN[3:]
    assert known().older("s", [tx(9, 4, "dd" * 32), *KNOWN[:2]]) == KNOWN[2:]


def test_a_page_ending_in_another_block_proves_nothing() -> None:
    assert known().older("s", [*KNOWN[:2], tx(3, 2, "ee" * 32)]) is None
    assert known().older("s", [*KNOWN[:2], tx(3, 7, B)]) is None  # another height
    assert known().older("s", [PageEntry(KNOWN[1].txid, 2, None, None)]) is None  # no hash


def test_a_tx_of_the_same_block_missing_from_both_sides_proves_nothing() -> None:
    """tx 4 of block B is neither on the page nor below its last tx (a server that
    reorders a block's txs would otherwise hide it beyond the page)."""
    assert known().older("s", [KNOWN[0], KNOWN[2]]) is None


def test_a_tx_on_the_page_and_below_it_proves_nothing() -> None:
    assert known().older("s", [KNOWN[4], KNOWN[0], KNOWN[1]]) is None


def test_unknown_scripts_and_txs_and_empty_pages_prove_nothing() -> None:
    assert known().older("other", KNOWN[:2]) is None
    assert known().older("s", [tx(9, 3, A)]) is None
    assert known().older("s", []) is None


def test_an_empty_history_forgets_the_script() -> None:
    histories = known()
    histories.remember("s", [])
    assert histories.older("s", KNOWN[:2]) is None


def test_the_oldest_histories_go_first_past_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_known, "_MAX_ENTRIES", 7)
    histories = KnownHistories()
    histories.remember("old", KNOWN[3:])  # 2 entries
    histories.remember("s", KNOWN)  # 5: 7 in all
    assert histories.older("old", KNOWN[3:4]) == KNOWN[4:]
    histories.remember("new", KNOWN[4:])  # 8 would be over: "old" is dropped
    assert histories.older("old", KNOWN[3:4]) is None
    assert histories.older("s", KNOWN[:3]) == KNOWN[3:]
    assert histories.older("new", KNOWN[4:]) == []
