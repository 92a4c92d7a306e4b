"""Every server fault, on both backends: a typed error in bounded time and an untouched
wallet when the faulty backend is alone; the clean result when a healthy backend follows.

Also: lying tips (what the orchestrator detects, and what it cannot), a stale backend whose
tip went backwards, and a reorg in the middle of a scan.

Set LWK_RELIABILITY_TABLE=/some/file.md to have the measured matrix written there
(docs/reliability.md shows one such run).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from lwk_electrum import ElectrumClient
from lwk_esplora import EsploraClient
from lwk_regtest import Faults, Regtest
from reliability_support import (
    FundedWallet,
    chain_height_of,
    chain_tip,
    fund,
    summary,
    sync_into,
)

from lwk_core import (
    BackendChain,
    BackendConnectError,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    BadBlockSignature,
    Chain,
    Client,
    HistoryEntry,
    LwkError,
    RateLimited,
    Tip,
    Transaction,
    Update,
    Wollet,
)
from lwk_core._scan import REORG_WINDOW
from lwk_core.plugin import USED, hookimpl
from lwk_core.plugin.manager import get_plugin_manager, register_plugin

TIMEOUT = 1.0  # every client of this module; a hang must cost about this, not more
MARGIN = 1.5  # scheduling slack on a loaded 2-core machine
BACKENDS = ("electrum", "esplora")
LYING_TIP_AHEAD = 1000  # both embedded servers lie by this many blocks

# fault -> expected error per backend (None: the fault does not apply to that protocol).
EXPECTED: dict[str, dict[str, type[BackendError] | None]] = {
    "dead port": {"electrum": BackendConnectError, "esplora": BackendConnectError},
    "refuse": {"electrum": BackendConnectError, "esplora": BackendConnectError},
    "hang": {"electrum": BackendTimeout, "esplora": BackendTimeout},
    "reset": {"electrum": BackendConnectError, "esplora": BackendConnectError},
    "truncate": {"electrum": BackendConnectError, "esplora": BackendConnectError},
    "garbage": {"electrum": BackendProtocolError, "esplora": BackendProtocolError},
    "oversized": {"electrum": BackendProtocolError, "esplora": BackendProtocolError},
    "wrong_tx": {"electrum": BackendProtocolError, "esplora": BackendProtocolError},
    "http429": {"electrum": None, "esplora": RateLimited},
    "http500": {"electrum": None, "esplora": BackendProtocolError},
    # the embedded chain's blocks are signed and the clients know by whom (tox's
    # LWK_BLOCK_SIGNERS): a made-up tip header is refused (see test_lying_tip_*)
    "lying_tip": {"electrum": BackendProtocolError, "esplora": BadBlockSignature},
    "unsigned_tip": {"electrum": BadBlockSignature, "esplora": None},
}
CASES = [
    pytest.param(fault, backend, id=f"{fault.replace(' ', '_')}-{backend}")
    for fault, per_backend in EXPECTED.items()
    for backend in BACKENDS
    if per_backend[backend] is not None
]


def bound(backend: str) -> float:
    """Longest a persistent fault may take to surface as an error.

    Electrum: one request timeout. Esplora: a timed-out request is retried once (2 x timeout);
    dropped connections are retried max_retries (1 here) times.
    """
    return (1 if backend == "electrum" else 2) * TIMEOUT + MARGIN


# -- servers, clients, wallet ---------------------------------------------------------------


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        regtest.esplora_faults.retry_after = 0.2
        yield regtest


@pytest.fixture(autouse=True)
def no_faults(rt: Regtest) -> Iterator[None]:
    yield
    for faults in (rt.electrum_faults, rt.esplora_faults):
        faults.clear()
        faults.latency = 0.0


@pytest.fixture(scope="module")
def funded(rt: Regtest) -> tuple[FundedWallet, Update]:
    """Confirmed payments on both chains (one of an issued asset) and one in the mempool,
    the Update of a clean scan of them, and then news: a block and a new payment."""
    wallet = fund(rt, 1, [100_000, 50_000, 25_000])
    wallet.pay(rt, 12_000, chain=Chain.INTERNAL, index=0)
    wallet.pay_asset(rt, 7_777, index=4)
    rt.mine(2)
    wallet.pay(rt, 3_000, index=1)
    with make_client(rt, "electrum") as client:
        baseline = client.full_scan(wallet.wollet())
    assert baseline is not None
    rt.mine(1)
    wallet.pay(rt, 500, index=2)
    return wallet, baseline


@pytest.fixture
def wallet(funded: tuple[FundedWallet, Update]) -> FundedWallet:
    return funded[0]


@pytest.fixture
def synced(funded: tuple[FundedWallet, Update]) -> Wollet:
    """The wallet as synced before the news: a scan has something to change."""
    wallet, baseline = funded
    wollet = wallet.wollet()
    wollet.apply_update(baseline)
    return wollet


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_clean_scan_gives_the_chains_truth(
    rt: Regtest, wallet: FundedWallet, synced: Wollet, backend: str
) -> None:
    """What "identical to a clean scan" below means: the chain's own facts."""
    truth = wallet.truth(chain_height_of(rt), chain_tip(rt))
    assert summary(synced) != truth
    with make_client(rt, backend) as client:
        sync_into(client, synced)
        fresh = wallet.wollet()
        sync_into(client, fresh)
    assert summary(synced) == summary(fresh) == truth


def make_client(rt: Regtest, backend: str, *, dead: bool = False) -> Client:
    """A client of `backend` with a short timeout (to a port nobody listens on if `dead`)."""
    if backend == "electrum":
        url = f"tcp://127.0.0.1:{free_port()}" if dead else rt.electrum_url
        return ElectrumClient.from_url(
            url, network=rt.network, timeout=TIMEOUT, connect_timeout=TIMEOUT
        )
    url = f"http://127.0.0.1:{free_port()}" if dead else rt.esplora_url
    return EsploraClient(url, rt.network, timeout=TIMEOUT, max_retries=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def other(backend: str) -> str:
    return "esplora" if backend == "electrum" else "electrum"


def faults_of(rt: Regtest, backend: str) -> Faults:
    return rt.electrum_faults if backend == "electrum" else rt.esplora_faults


def faulty_client(rt: Regtest, fault: str, backend: str) -> Client:
    """A client whose server misbehaves with `fault` on every request from now on."""
    if fault == "dead port":
        return make_client(rt, backend, dead=True)
    faults_of(rt, backend).set(fault)
    return make_client(rt, backend)


# -- the measured matrix --------------------------------------------------------------------


@attrs.define
class Row:
    alone: str = ""
    unchanged: str = ""
    chained: str = ""


ROWS: dict[tuple[str, str], Row] = {}


@pytest.fixture(scope="module", autouse=True)
def write_table() -> Iterator[None]:
    yield
    target = os.environ.get("LWK_RELIABILITY_TABLE")
    if not target or not ROWS:
        return
    lines = [
        f"| fault | backend | alone (timeout {TIMEOUT:g} s) | wallet unchanged on failure "
        "| BackendChain([faulty, other]) |",
        "|---|---|---|---|---|",
    ]
    for fault in EXPECTED:
        for backend in BACKENDS:
            row = ROWS.get((fault, backend))
            if row is not None:
                lines.append(
                    f"| {fault} | {backend} | {row.alone} | {row.unchanged} | {row.chained} |"
                )
    Path(target).write_text("\n".join(lines) + "\n")


def row(fault: str, backend: str) -> Row:
    return ROWS.setdefault((fault, backend), Row())


# -- (a) the faulty backend alone -----------------------------------------------------------


@pytest.mark.parametrize(("fault", "backend"), CASES)
def test_faulty_backend_alone_fails_typed_in_time_and_leaves_the_wallet(
    rt: Regtest, synced: Wollet, fault: str, backend: str
) -> None:
    before = synced.state
    balance = dict(synced.balance())
    expected = EXPECTED[fault][backend]
    assert expected is not None
    with faulty_client(rt, fault, backend) as client:
        started = time.monotonic()
        with pytest.raises(BackendError) as info:
            sync_into(client, synced)
        elapsed = time.monotonic() - started
    assert isinstance(info.value, expected), f"{type(info.value).__name__}: {info.value}"
    assert elapsed < bound(backend)
    assert synced.state is before
    assert dict(synced.balance()) == balance
    row(fault, backend).alone = f"`{type(info.value).__name__}` in {elapsed:.2f} s"
    row(fault, backend).unchanged = "yes"


# -- (b) the faulty backend first in a chain ------------------------------------------------


@pytest.mark.parametrize(("fault", "backend"), CASES)
def test_chain_recovers_the_clean_result(
    rt: Regtest, wallet: FundedWallet, synced: Wollet, fault: str, backend: str
) -> None:
    faults = faults_of(rt, backend)
    requests_before = faults.requests
    healthy = make_client(rt, other(backend))
    with BackendChain([faulty_client(rt, fault, backend), healthy]) as chain:
        started = time.monotonic()
        sync_into(chain, synced)
        elapsed = time.monotonic() - started
    assert summary(synced) == wallet.truth(chain_height_of(rt), chain_tip(rt))
    assert fault == "dead port" or faults.requests > requests_before  # it was tried first
    assert elapsed < bound(backend) + MARGIN
    row(fault, backend).chained = f"recovered via failover in {elapsed:.2f} s, identical"


# -- lying tips -----------------------------------------------------------------------------


def test_lying_tip_far_above_is_not_detectable_without_block_signers(
    rt: Regtest, wallet: FundedWallet, synced: Wollet
) -> None:
    """Esplora's made-up tip header is self-consistent: a client that does not know who
    signs the chain's blocks (a chain whose signers the caller did not give, e.g. an
    elementsd regtest) has nothing on one server to contradict it.

    The histories and balance stay right; only the tip is false (and a BackendChain does
    not fail over, since nothing failed). With the signers known, the matrix's lying_tip
    row shows the lie refused.
    """
    real = chain_tip(rt)
    rt.esplora_faults.set("lying_tip")
    healthy = make_client(rt, "electrum")
    liar = make_client(rt, "esplora")
    liar.block_signers = None
    with BackendChain([liar, healthy]) as chain:
        sync_into(chain, synced)
    txs, balance, tip = summary(synced)
    truth_txs, truth_balance, _ = wallet.truth(chain_height_of(rt), real)
    assert (txs, balance) == (truth_txs, truth_balance)
    assert tip is not None and tip[0] == real[0] + LYING_TIP_AHEAD


def test_one_lying_tip_does_not_lock_the_wallet_out(
    rt: Regtest, wallet: FundedWallet, synced: Wollet
) -> None:
    """The tip-regression guard compares with confirmed history, not with the stored tip
    that one undetected liar inflated: honest backends are not refused afterwards."""
    rt.esplora_faults.set("lying_tip")
    with make_client(rt, "esplora") as liar:
        liar.block_signers = None  # the lie is undetected (see the test above)
        sync_into(liar, synced)
    lied = synced.tip()
    assert lied is not None and lied.height == chain_tip(rt)[0] + LYING_TIP_AHEAD
    rt.esplora_faults.clear()
    # every backend now agrees on the real tip: that consensus must win over the lie
    with BackendChain([make_client(rt, "electrum"), make_client(rt, "esplora")]) as chain:
        sync_into(chain, synced)
    assert summary(synced) == wallet.truth(chain_height_of(rt), chain_tip(rt))


@attrs.define(eq=False)
class Behind:
    """A wrapper plugin making `target`'s server report a tip `blocks` below the real one.

    `stale=True` also hides what was confirmed above that tip, as a server that stopped
    following the chain would; otherwise the histories stay current (a lie the orchestrator
    can catch: history above the tip).
    """

    target: object
    rt: Regtest
    blocks: int
    stale: bool = False

    @hookimpl(wrapper=True)
    def lwk_tip(self, connection: object) -> Generator[None, Any, Any]:
        tip: Tip = yield
        if connection is not self.target:
            return tip
        chain, height = self.rt.chain, tip.height - self.blocks
        block_hash = chain.block_hash(height)
        assert block_hash is not None
        return Tip(height, block_hash, chain.block_time(height), chain.header(height))

    @hookimpl(wrapper=True)
    def lwk_scan_scripts(
        self, connection: object, scripts: Sequence[bytes]
    ) -> Generator[None, Any, Any]:
        histories: list[list[HistoryEntry]] = yield
        if connection is not self.target or not self.stale:
            return histories
        limit = self.rt.chain.tip_height() - self.blocks
        return [[e for e in h if e.height is None or e.height <= limit] for h in histories]


@contextlib.contextmanager
def plugged(plugin: object) -> Iterator[None]:
    register_plugin(plugin, name=f"reliability-{id(plugin)}")
    try:
        yield
    finally:
        get_plugin_manager().unregister(plugin)


@pytest.mark.parametrize("backend", BACKENDS)
def test_history_above_a_low_tip_is_rechecked_then_refused(
    rt: Regtest, wallet: FundedWallet, synced: Wollet, backend: str
) -> None:
    """A tip below the heights of the histories: the orchestrator asks for the tip again
    (a block may have arrived mid-scan), and refuses the scan when it is still below."""
    liar = make_client(rt, backend)
    before = synced.state
    with plugged(Behind(liar.connection, rt, blocks=2)), liar:
        with pytest.raises(BackendProtocolError, match="above the tip"):
            sync_into(liar, synced)
        assert synced.state is before
        with BackendChain([liar, make_client(rt, other(backend))]) as chain:
            sync_into(chain, synced)
    assert summary(synced) == wallet.truth(chain_height_of(rt), chain_tip(rt))


@attrs.define(eq=False)
class WitnessTamper:
    """A wrapper plugin flipping one byte of every range proof `target` returns, at
    `where(proof length)`: the txid does not cover witnesses, so the transactions still pass
    the txid check."""

    target: object
    where: Callable[[int], int]

    @hookimpl(wrapper=True)
    def lwk_get_tx(self, connection: object, txids: Sequence[str]) -> Generator[None, Any, Any]:
        raws: list[bytes] = yield
        if connection is not self.target:
            return raws
        return [self.tampered(raw) for raw in raws]

    def tampered(self, raw: bytes) -> bytes:
        tx = Transaction.from_bytes(raw)
        out = bytearray(raw)
        for txout in tx.outputs:
            if txout.range_proof:
                out[raw.find(txout.range_proof) + self.where(len(txout.range_proof))] ^= 1
        assert Transaction.from_bytes(bytes(out)).txid == tx.txid
        return bytes(out)


@pytest.mark.parametrize("backend", BACKENDS)
def test_witness_tampering_that_breaks_the_opening_hides_payments_until_an_honest_scan(
    rt: Regtest, wallet: FundedWallet, backend: str
) -> None:
    truth = wallet.truth(chain_height_of(rt), chain_tip(rt))
    wollet = wallet.wollet()
    liar = make_client(rt, backend)
    last_byte = WitnessTamper(liar.connection, lambda size: size - 1)  # where the value is
    with plugged(last_byte), liar:
        sync_into(liar, wollet)
    txs, balance, _ = summary(wollet)
    assert txs == ()  # no payment listed (as LWK), none counted...
    assert all(sats == 0 for _, sats in balance)
    hidden = tuple(sorted((tx.txid, tx.height) for tx in wollet.hidden_transactions()))
    assert hidden == truth[0]  # ...but each one kept for diagnosis, at its height
    with make_client(rt, other(backend)) as honest:
        sync_into(honest, wollet)
    assert summary(wollet) == truth
    assert wollet.hidden_transactions() == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_witness_tampering_that_keeps_the_opening_changes_nothing(
    rt: Regtest, wallet: FundedWallet, backend: str
) -> None:
    """A proof altered where no opening reads it no longer verifies, but its secrets open
    the txid-covered commitments: the wallet counts the true amounts."""
    truth = wallet.truth(chain_height_of(rt), chain_tip(rt))
    wollet = wallet.wollet()
    liar = make_client(rt, backend)
    with plugged(WitnessTamper(liar.connection, lambda size: size // 2)), liar:
        sync_into(liar, wollet)
    assert summary(wollet) == truth


@pytest.fixture
def tall_rt() -> Iterator[tuple[Regtest, FundedWallet]]:
    """A chain where the wallet was paid, then 2 * REORG_WINDOW blocks later, paid again."""
    with Regtest() as regtest:
        wallet = fund(regtest, 2, [40_000])
        regtest.mine(2 * REORG_WINDOW)
        wallet.pay(regtest, 9_000, index=1)
        regtest.mine(1)
        yield regtest, wallet


@pytest.mark.parametrize("backend", BACKENDS)
def test_tip_going_back_beyond_a_reorg_window_is_refused(
    tall_rt: tuple[Regtest, FundedWallet], backend: str
) -> None:
    rt, wallet = tall_rt
    wollet = wallet.wollet()
    with make_client(rt, backend) as honest:
        sync_into(honest, wollet)
    truth = wallet.truth(chain_height_of(rt), chain_tip(rt))
    assert summary(wollet) == truth
    before = wollet.state
    stale = make_client(rt, backend)
    with plugged(Behind(stale.connection, rt, blocks=REORG_WINDOW + 1, stale=True)), stale:
        with pytest.raises(BackendProtocolError, match="tip"):
            sync_into(stale, wollet)
        assert wollet.state is before
        with BackendChain([stale, make_client(rt, other(backend))]) as chain:
            sync_into(chain, wollet)
    assert summary(wollet) == truth


# -- a reorg in the middle of a scan --------------------------------------------------------


@attrs.define(eq=False)
class OnFirstScan:
    """A wrapper plugin running `action` once, right after `target` answered the histories
    of the first script batch used (with the next batch's usage where the backend tells
    usage first)."""

    target: object
    action: Callable[[], None]
    done: bool = False

    @hookimpl(wrapper=True)
    def lwk_scan_scripts(
        self, connection: object, scripts: Sequence[bytes]
    ) -> Generator[None, Any, Any]:
        histories = yield
        self._after(histories, connection)
        return histories

    @hookimpl(wrapper=True)
    def lwk_scan_usage(
        self, connection: object, scripts: Sequence[bytes], pending: Sequence[bytes]
    ) -> Generator[None, Any, Any]:
        usage = yield  # None where not offered; Electrum's tells the histories a call late
        if usage is not None:
            self._after([*usage.pending, *(h for h in usage.scripts if h is not USED)], connection)
        return usage

    def _after(self, histories: list[list[Any]], connection: object) -> None:
        """The action, once the target answered a history of the wallet."""
        if any(histories) and connection is self.target and not self.done:
            self.done = True
            self.action()


@pytest.mark.parametrize("keep_txs", [True, False], ids=["txs-reconfirmed", "txs-dropped"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_reorg_during_a_scan_converges_on_the_next_scan(backend: str, keep_txs: bool) -> None:
    with Regtest() as rt:
        wallet = fund(rt, 3, [60_000])
        rt.mine(1)
        wallet.pay(rt, 6_000, index=1)
        wallet.pay(rt, 4_000, chain=Chain.INTERNAL, index=0)
        rt.mine(1)  # the last block: what the reorg replaces
        wallet.pay(rt, 2_000, index=2)  # and one in the mempool
        wollet = wallet.wollet()
        client = make_client(rt, backend)
        reorg = OnFirstScan(client.connection, lambda: rt.chain.reorg(1, keep_txs=keep_txs))
        with plugged(reorg), client:
            try:
                sync_into(client, wollet)  # the external batch predates the reorg
            except LwkError as exc:  # e.g. a tx of the old block vanished before its fetch
                assert isinstance(exc, BackendError), exc
            assert reorg.done
            truth = wallet.truth(chain_height_of(rt), chain_tip(rt))
            assert summary(wollet) != truth  # the scan that straddled the reorg is stale
            sync_into(client, wollet)
        assert summary(wollet) == truth
