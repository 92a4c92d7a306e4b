"""BackendChain failover with in-process backends that refuse, hang, lie or die."""

from __future__ import annotations

import logging
import time

import pytest
from lwk_memory_backend import MemoryChain, MemoryClient, register_chain
from shared_data import load_fixture, unique_name

from lwk_core import (
    AllBackendsFailed,
    BackendConnectError,
    BroadcastRejected,
    Network,
    Update,
)
from lwk_core._chain import BackendChain
from lwk_core._transaction import Transaction
from lwk_core._wollet import Wollet

FIXTURE = load_fixture("liquid-testnet-wallet.json")
NET = Network.LIQUID_TESTNET


@pytest.fixture(scope="module")
def chain_name() -> str:
    chain = MemoryChain(NET)
    for txid in FIXTURE["steps"][1]["txids"]:
        entry = FIXTURE["transactions"][txid]
        chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])
    name = unique_name("failover")
    register_chain(name, chain)
    return name


def _wollet() -> Wollet:
    return Wollet(NET, FIXTURE["descriptor"])


def _summary(update: Update | None) -> tuple[object, ...]:
    assert update is not None
    wollet = _wollet()
    wollet.apply_update(update)
    return (
        sorted(tx.txid for tx in update.new_txs),
        dict(update.txid_height_new),
        dict(wollet.balance()),
        [(t.txid, t.type, t.fee) for t in wollet.transactions()],
    )


@pytest.fixture(scope="module")
def clean(chain_name: str) -> tuple[object, ...]:
    return _summary(MemoryClient(chain_name, NET).full_scan(_wollet()))


@pytest.mark.parametrize(
    "faults",
    [{"refuse": True}, {"hang": True}, {"garbage": True}, {"wrong_tx": True}, {"die_after": 3}],
    ids=["refuse", "hang", "garbage", "wrong-tx", "dies-mid-scan"],
)
def test_chain_finishes_on_next_backend_with_identical_result(
    chain_name: str, clean: tuple[object, ...], faults: dict[str, object]
) -> None:
    bad = MemoryClient(chain_name, NET, timeout=0.3)
    bad.conn.faults.update(faults)
    good = MemoryClient(chain_name, NET)
    started = time.monotonic()
    update = BackendChain([bad, good]).full_scan(_wollet())
    assert time.monotonic() - started < 0.3 + 5.0  # the hang costs one timeout, not more
    assert _summary(update) == clean
    assert bad.conn.calls  # the first backend really was tried first


def test_failover_is_logged_with_its_cause(
    chain_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    bad = MemoryClient(chain_name, NET)
    bad.conn.faults["refuse"] = True
    with caplog.at_level(logging.WARNING, logger="lwk_core.failover"):
        BackendChain([bad, MemoryClient(chain_name, NET)]).tip()
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "BackendConnectError" in record.getMessage()
    assert "connection refused" in record.getMessage()


def test_all_backends_failing_reports_each_cause_and_leaves_the_wallet_unchanged(
    chain_name: str,
) -> None:
    a, b = MemoryClient(chain_name, NET), MemoryClient(chain_name, NET, timeout=0.1)
    a.conn.faults["refuse"] = True
    b.conn.faults["die_after"] = 2
    wollet = _wollet()
    before = wollet.state
    with pytest.raises(AllBackendsFailed) as info:
        BackendChain([a, b]).full_scan(wollet)
    assert [name for name, _ in info.value.causes] == [a.name, b.name]
    assert all(isinstance(exc, BackendConnectError) for _, exc in info.value.causes)
    assert wollet.state is before


def test_a_failed_backend_cools_down(chain_name: str) -> None:
    bad, good = MemoryClient(chain_name, NET), MemoryClient(chain_name, NET)
    bad.conn.faults["refuse"] = True
    chain = BackendChain([bad, good], cooldown=60)
    chain.tip()
    chain.tip()
    assert bad.conn.calls == ["tip"]  # skipped the second time
    assert good.conn.calls == ["tip", "tip"]


def test_cooled_down_backends_are_retried_when_nothing_else_is_left(chain_name: str) -> None:
    only = MemoryClient(chain_name, NET)
    only.conn.faults["refuse"] = True
    chain = BackendChain([only], cooldown=60)
    for _ in range(2):
        with pytest.raises(AllBackendsFailed):
            chain.tip()
    assert only.conn.calls == ["tip", "tip"]


def test_private_backends_never_fall_back_to_public_ones(chain_name: str) -> None:
    mine, public = MemoryClient(chain_name, NET), MemoryClient(chain_name, NET)
    mine.conn.faults["refuse"] = True
    chain = BackendChain([mine, public], private=1)
    with pytest.raises(AllBackendsFailed):
        chain.full_scan(_wollet())
    with pytest.raises(AllBackendsFailed):
        chain.get_tx(FIXTURE["steps"][0]["txids"][0])
    assert public.conn.calls == []
    assert chain.tip().height > 0  # the tip reveals nothing of the wallet: it may fall back
    assert public.conn.calls == ["tip"]


def test_broadcast_rejection_does_not_fail_over(chain_name: str) -> None:
    tx = Transaction.from_hex(FIXTURE["transactions"][FIXTURE["steps"][0]["txids"][0]]["hex"])
    first, second = MemoryClient(chain_name, NET), MemoryClient(chain_name, NET)
    with pytest.raises(BroadcastRejected, match="txn-already-in-mempool"):
        BackendChain([first, second]).broadcast(tx)
    assert second.conn.calls == []


def test_broadcast_after_a_transport_failure_accepts_already_known(chain_name: str) -> None:
    tx = Transaction.from_hex(FIXTURE["transactions"][FIXTURE["steps"][0]["txids"][1]]["hex"])
    dead, alive = MemoryClient(chain_name, NET), MemoryClient(chain_name, NET)
    dead.conn.faults["refuse"] = True
    assert BackendChain([dead, alive]).broadcast(tx.to_hex()) == tx.txid


def test_chain_of_urls_connects_through_plugins(chain_name: str) -> None:
    chain = BackendChain([f"memory://{chain_name}", f"memory://{chain_name}"], network=NET)
    assert chain.tip().height == max(e["height"] for e in FIXTURE["transactions"].values())
