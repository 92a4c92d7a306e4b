"""The backend conformance suite: checks a backend against what the chain really holds.

Each check is written once, against blocking calls. A plugin's async flavour runs the same
checks through `_Awaited`, which runs each call of its AsyncClient to completion on the
test's own event loop (`asyncio.Runner`), so both flavours meet exactly the same checks.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pytest

from lwk_core import (
    AsyncBackendChain,
    AsyncClient,
    BackendChain,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    BroadcastRejected,
    Client,
    Tip,
    Transaction,
    Update,
    Wollet,
    connect,
    connect_async,
)

if TYPE_CHECKING:
    from .. import Regtest

__all__ = ["BackendConformance", "new_wallet_descriptor"]

Flavour = Literal["blocking", "async"]
T = TypeVar("T")

_DEAD_URL = "tcp://127.0.0.1:9"  # nothing listens on the discard port: a dead backend


def new_wallet_descriptor(seed: bytes | None = None) -> str:
    """A fresh regtest CT descriptor (slip77 + elwpkh, multipath) from `seed` or randomness."""
    from embit import bip32
    from embit.networks import NETWORKS

    seed = seed if seed is not None else os.urandom(32)
    root = bip32.HDKey.from_seed(seed, version=NETWORKS["test"]["xprv"])
    account = root.derive("m/84h/1h/0h").to_public()
    tpub = account.to_string(version=NETWORKS["test"]["xpub"])
    slip77 = hashlib.sha256(b"lwk-testing slip77" + seed).hexdigest()
    fingerprint = root.my_fingerprint.hex()
    return f"ct(slip77({slip77}),elwpkh([{fingerprint}/84'/1'/0']{tpub}/<0;1>/*))"


class _Awaited:
    """An AsyncClient or AsyncBackendChain behind the blocking methods the checks call,
    each awaited to completion on one event loop (the one the async client belongs to)."""

    def __init__(self, client: AsyncClient | AsyncBackendChain, runner: asyncio.Runner) -> None:
        self.client = client
        self.runner = runner

    def _run(self, call: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(call)

    def ping(self) -> None:
        self._run(self.client.ping())

    def genesis_hash(self) -> str:
        assert isinstance(self.client, AsyncClient)
        return self._run(self.client.genesis_hash())

    def tip(self) -> Tip:
        return self._run(self.client.tip())

    def get_tx(self, txid: str) -> Transaction:
        return self._run(self.client.get_tx(txid))

    def broadcast(self, tx: bytes) -> str:
        return self._run(self.client.broadcast(tx))

    def full_scan(self, wollet: Wollet) -> Update | None:
        return self._run(self.client.full_scan(wollet))

    def block_headers(self, heights: list[int]) -> dict[int, bytes]:
        assert isinstance(self.client, AsyncClient)
        return self._run(self.client.block_headers(heights))

    @property
    def verify_merkle(self) -> bool:
        assert isinstance(self.client, AsyncClient)
        return self.client.verify_merkle

    @verify_merkle.setter
    def verify_merkle(self, on: bool) -> None:
        assert isinstance(self.client, AsyncClient)
        self.client.verify_merkle = on

    def close(self) -> None:
        self._run(self.client.close())


Backend = Client | _Awaited


class BackendConformance:
    """Checks every behaviour the sync orchestrator and BackendChain rely on.

    Every check runs against the client `make_backend` returns (test ids ending in
    `[blocking]`) and, if the subclass implements `make_async_backend`, against that
    async client too (`[async]`).
    """

    timeout: float = 2.0
    offers_spv: bool = False
    """Whether the plugin answers `lwk_merkle_proofs` (SPV): the SPV check then runs too."""

    def make_backend(self, rt: Regtest, *, timeout: float) -> Client:
        """Return your client, connected to the servers of `rt` (no I/O needed yet)."""
        raise NotImplementedError("implement make_backend in your BackendConformance subclass")

    def make_async_backend(self, rt: Regtest, *, timeout: float) -> AsyncClient:
        """Optional: return your async flavour's client for the same server (no I/O yet);
        every check then runs against it too, its calls awaited on the test's event loop."""
        raise NotImplementedError("this plugin offers no async flavour")

    @classmethod
    def flavours(cls) -> list[Flavour]:
        """The flavours the subclass offers: blocking, and async if it makes one."""
        offers_async = cls.make_async_backend is not BackendConformance.make_async_backend
        return ["blocking", "async"] if offers_async else ["blocking"]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "flavour" in metafunc.fixturenames:
            metafunc.parametrize("flavour", self.flavours())
        if "spv" in metafunc.fixturenames:  # only for plugins offering it
            metafunc.parametrize("spv", [True] if self.offers_spv else [], ids=["spv"])

    def set_fault(self, rt: Regtest, mode: str | None, remaining: int | None = None) -> None:
        """Make the server your backend talks to misbehave (see regtest Faults modes)."""
        rt.electrum_faults.set(mode, remaining)
        rt.esplora_faults.set(mode, remaining)

    # -- fixtures ------------------------------------------------------------------------

    @pytest.fixture
    def rt(self, lwk_regtest: Regtest) -> Iterator[Regtest]:
        yield lwk_regtest
        self.set_fault(lwk_regtest, None)

    @pytest.fixture
    def backend(self, rt: Regtest, flavour: Flavour) -> Iterator[Backend]:
        if flavour == "blocking":
            client = self.make_backend(rt, timeout=self.timeout)
            yield client
            client.close()
            return
        with asyncio.Runner() as runner:
            awaited = _Awaited(self.make_async_backend(rt, timeout=self.timeout), runner)
            yield awaited
            awaited.close()

    @pytest.fixture
    def wollet(self, rt: Regtest) -> Wollet:
        return Wollet(rt.network, new_wallet_descriptor())

    def _chain_after_a_dead_backend(self, rt: Regtest, backend: Backend) -> Backend | BackendChain:
        """A failover chain of `backend`'s flavour: a dead server first, then `backend`."""
        if isinstance(backend, _Awaited):
            assert isinstance(backend.client, AsyncClient)
            dead = connect_async(_DEAD_URL, rt.network, timeout=1.0)
            return _Awaited(AsyncBackendChain([dead, backend.client]), backend.runner)
        return BackendChain([connect(_DEAD_URL, rt.network, timeout=1.0), backend])

    def _sync(self, backend: Backend | BackendChain, wollet: Wollet) -> None:
        update = backend.full_scan(wollet)
        if update is not None:
            wollet.apply_update(update)

    # -- the suite -----------------------------------------------------------------------

    def test_tip_is_the_chains_tip(self, rt: Regtest, backend: Backend) -> None:
        tip = backend.tip()
        assert (tip.height, tip.block_hash()) == (rt.chain.tip_height(), rt.chain.tip_hash())
        assert tip.timestamp == rt.chain.block_time(tip.height)

    def test_genesis_is_the_chains(self, rt: Regtest, backend: Backend) -> None:
        """Core refuses a scan from a server that cannot say which chain it serves."""
        assert backend.genesis_hash() == rt.chain.genesis_hash

    def test_ping_asks_the_server(self, rt: Regtest, backend: Backend) -> None:
        backend.ping()
        self.set_fault(rt, "refuse")  # every connection closed unanswered
        with pytest.raises(BackendError):
            backend.ping()

    def test_scan_finds_every_payment(self, rt: Regtest, backend: Backend, wollet: Wollet) -> None:
        paid = [1_000, 20_000, 300_000]
        txids = {rt.faucet(wollet.address(i).address(), sats) for i, sats in enumerate(paid)}
        rt.mine(1)
        self._sync(backend, wollet)
        assert {t.txid for t in wollet.transactions()} == txids
        assert wollet.balance().btc_balance() == sum(paid)
        assert all(t.type == "incoming" and t.height is not None for t in wollet.transactions())

    def test_mempool_then_confirmation(self, rt: Regtest, backend: Backend, wollet: Wollet) -> None:
        txid = rt.faucet(wollet.address().address(), 5_000)
        self._sync(backend, wollet)
        tx = wollet.transaction(txid)
        assert tx is not None and tx.height is None
        rt.mine(1)
        self._sync(backend, wollet)
        tx = wollet.transaction(txid)
        assert tx is not None and tx.height == rt.chain.tip_height()
        assert tx.timestamp == rt.chain.block_time(rt.chain.tip_height())

    def test_block_headers_are_the_chains(self, rt: Regtest, backend: Backend) -> None:
        """Block times (and SPV proofs) are checked against these headers."""
        rt.mine(2)
        heights = [1, rt.chain.tip_height() - 1]
        assert backend.block_headers(heights) == {h: rt.chain.header(h) for h in heights}

    def test_spv_proves_each_confirmation(
        self, rt: Regtest, backend: Backend, wollet: Wollet, spv: bool
    ) -> None:
        backend.verify_merkle = spv
        txids = {rt.faucet(wollet.address(i).address(), 1_000 + i) for i in range(3)}
        rt.mine(1)
        rt.mine(1)  # the payments' block below the tip: its header is asked too
        self._sync(backend, wollet)
        height = rt.chain.tip_height() - 1
        assert {t.txid: t.height for t in wollet.transactions()} == dict.fromkeys(txids, height)
        assert {t.timestamp for t in wollet.transactions()} == {rt.chain.block_time(height)}

    def test_large_history_of_one_script(
        self, rt: Regtest, backend: Backend, wollet: Wollet
    ) -> None:
        address = wollet.address(0).address()
        confirmed = {rt.faucet(address, 1_000 + i) for i in range(30)}
        rt.mine(1)
        mempool = {rt.faucet(address, 2_000 + i) for i in range(50)}  # Esplora lists 50
        self._sync(backend, wollet)
        found = {t.txid: t.height for t in wollet.transactions()}
        assert set(found) == confirmed | mempool
        assert all(found[t] is None for t in mempool)
        assert wollet.balance().btc_balance() == sum(1_000 + i for i in range(30)) + sum(
            2_000 + i for i in range(50)
        )

    def test_get_tx_returns_the_verified_bytes(self, rt: Regtest, backend: Backend) -> None:
        txid = rt.faucet(new_address(rt), 1_234)
        tx = backend.get_tx(txid)
        assert tx.txid == txid and tx.to_bytes() == rt.chain.tx_raw(txid)

    def test_a_wrong_transaction_is_refused(self, rt: Regtest, backend: Backend) -> None:
        txid = rt.faucet(new_address(rt), 1_235)
        rt.faucet(new_address(rt), 1_236)
        self.set_fault(rt, "wrong_tx")
        with pytest.raises(BackendProtocolError):
            backend.get_tx(txid)

    def test_unknown_transaction_is_a_backend_error(self, backend: Backend) -> None:
        with pytest.raises(BackendError):
            backend.get_tx("00" * 32)

    def test_broadcast_reaches_the_chain(
        self, rt: Regtest, backend: Backend, wollet: Wollet
    ) -> None:
        raw = rt.build_payment(wollet.address().address(), 2_500)
        txid = backend.broadcast(raw)
        assert rt.chain.tx_raw(txid) == raw
        self._sync(backend, wollet)
        assert wollet.balance().btc_balance() == 2_500

    def test_broadcast_rejection_is_typed(self, rt: Regtest, backend: Backend) -> None:
        txid = rt.faucet(new_address(rt), 4_321)
        rt.mine(1)
        raw = rt.chain.tx_raw(txid)
        assert raw is not None
        with pytest.raises(BroadcastRejected) as info:
            backend.broadcast(raw)  # already confirmed: its inputs are spent
        assert info.value.reason

    def test_reorg_is_followed(self, rt: Regtest, backend: Backend, wollet: Wollet) -> None:
        txid = rt.faucet(wollet.address().address(), 7_000)
        rt.mine(1)
        self._sync(backend, wollet)
        rt.chain.reorg(2)  # the last two blocks replaced; their txs confirm again
        rt.mine(1)
        self._sync(backend, wollet)
        tx = wollet.transaction(txid)
        assert tx is not None and tx.height == rt.chain.tx_height(txid)
        assert wollet.tip() is not None
        assert wollet.tip().block_hash() == rt.chain.tip_hash()  # type: ignore[union-attr]

    def test_a_hung_server_times_out(self, rt: Regtest, backend: Backend) -> None:
        self.set_fault(rt, "hang")
        started = time.monotonic()
        with pytest.raises(BackendTimeout):
            backend.tip()
        assert time.monotonic() - started < self.timeout * 3 + 1

    def test_a_chain_fails_over_to_this_backend(
        self, rt: Regtest, backend: Backend, wollet: Wollet
    ) -> None:
        rt.faucet(wollet.address().address(), 9_000)
        self._sync(self._chain_after_a_dead_backend(rt, backend), wollet)
        assert wollet.balance().btc_balance() == 9_000


def new_address(rt: Regtest) -> str:
    """A confidential address of a throwaway wallet on `rt`'s network."""
    return Wollet(rt.network, new_wallet_descriptor()).address(0).address()
