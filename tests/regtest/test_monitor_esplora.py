"""A monitor over an Esplora client syncs only the wallets something changed, as over an
Electrum client (test_monitor_skips.py): here the client tells which scripts changed from
the chain state's moves (lwk_esplora._fresh), read once per round.

Ground truth: the txid the faucet paid, the regtest chain's tip, the Esplora server's
request counter, and the count of `scan_wallet` calls (the engine runs once per call).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from typing import Any

import pytest
from counting import AsyncCountingScans, CountingScans
from lwk_esplora import AsyncEsploraClient, EsploraClient
from lwk_oracle import new_wallet
from lwk_regtest import Regtest

from lwk_core import (
    AsyncMonitor,
    BalanceChanged,
    Chain,
    Monitor,
    Network,
    NewTx,
    TxConfirmed,
    Wollet,
)

POLICY = Network.ELEMENTS_REGTEST.policy_asset
WALLETS = 20


class CountingClient(CountingScans, EsploraClient):
    pass


class AsyncCountingClient(AsyncCountingScans, AsyncEsploraClient):
    pass


@pytest.fixture
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


@pytest.mark.parametrize("form", ["blocking", "async"])
def test_a_round_scans_only_the_wallets_something_changed(rt: Regtest, form: str) -> None:
    wollets = [
        Wollet(rt.network, new_wallet(f"esplora {form} {i}").descriptor) for i in range(WALLETS)
    ]
    url = rt.esplora_url + "/api"
    loop = asyncio.new_event_loop() if form == "async" else None
    client: Any = (
        CountingClient(url, rt.network) if loop is None else AsyncCountingClient(url, rt.network)
    )
    monitor: Any = Monitor(client, wollets) if loop is None else AsyncMonitor(client, wollets)

    def round_() -> list[Any]:
        pairs: list[Any] = (
            monitor.round() if loop is None else loop.run_until_complete(monitor.round())
        )
        return pairs

    try:
        round_()
        assert client.scans == WALLETS

        paid = wollets[7]
        txid = rt.faucet(paid.descriptor.address(Chain.EXTERNAL, 3, rt.network), 21_000)
        assert round_() == [
            (paid, NewTx(txid, None, {POLICY: 21_000})),
            (paid, BalanceChanged(POLICY, 0, 21_000)),
        ]
        assert client.scans == WALLETS + 1

        before = collections.Counter(rt.esplora_server.requests)
        assert round_() == []  # nothing new: no scan; the chain state read once
        assert client.scans == WALLETS + 1
        assert rt.esplora_server.requests - before == {
            "GET /blocks/tip/hash": 1,
            "GET /mempool/txids": 1,
        }

        [block] = rt.mine(1)  # a new tip: every wallet syncs and follows it
        height = rt.tip_height()
        pairs = round_()
        assert client.scans == 2 * WALLETS + 1
        assert (paid, TxConfirmed(txid, height)) in pairs
        assert {(w.tip().height, w.tip().hash) for w in wollets} == {(height, block)}  # type: ignore[union-attr]

        rt.evict(rt.faucet(paid.descriptor.address(Chain.EXTERNAL, 4, rt.network), 5_000))
        assert round_() == []  # came and went between two rounds: nothing to sync
        assert client.scans == 2 * WALLETS + 1
    finally:
        if loop is None:
            client.close()
        else:
            loop.run_until_complete(client.close())
            loop.close()
