"""`utxo_only=True`: the server lists only the wallet's unspent outputs (RCasatta/waterfalls
`src/server/route.rs`, `filter_utxo_only`); the wallet gets LWK's balance and utxos from
a full scan, and lists only the transactions that made those utxos."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request

import lwk
import pytest
from lwk_regtest import Regtest
from lwk_regtest.testing import new_wallet_descriptor
from lwk_waterfalls import AsyncWaterfallsClient, WaterfallsClient
from waterfalls_views import lwk_waterfalls_view, scanned, view

from lwk_core import Chain, InvalidArgument, Wollet, WolletDescriptor, connect
from lwk_core.primitives import script_to_address


def _elsewhere(rt: Regtest) -> str:
    return str(WolletDescriptor(new_wallet_descriptor()).address(Chain.EXTERNAL, 0, rt.network))


def _wallet_with_spends(rt: Regtest) -> str:
    """Three receives; one spent with change back, one spent with nothing back (a tx
    that only spends), one untouched; and a receive still in the mempool."""
    mnemonic = lwk.Mnemonic.from_entropy(os.urandom(16))
    descriptor = str(lwk.Signer(mnemonic, lwk.Network.regtest_default()).wpkh_slip77_descriptor())
    d = WolletDescriptor(descriptor)
    for index, sats in ((0, 2_000), (19, 3_000), (30, 4_000)):
        rt.faucet(d.address(Chain.EXTERNAL, index, rt.network), sats)
    rt.mine(1)
    utxos = {
        u.value: u
        for u in scanned(connect(rt.esplora_url, rt.network), Wollet(rt.network, d)).utxos()
    }
    spend = [(utxos[2_000].outpoint, utxos[2_000].unblinded)]
    rt.spend(spend, _elsewhere(rt), 500, change_address=d.address(Chain.INTERNAL, 1, rt.network))
    spend = [(utxos[3_000].outpoint, utxos[3_000].unblinded)]
    rt.spend(spend, _elsewhere(rt), 500, change_address=_elsewhere(rt))
    rt.mine(1)
    rt.faucet(d.address(Chain.INTERNAL, 5, rt.network), 1_500)  # stays in the mempool
    return descriptor


@pytest.mark.lwk
@pytest.mark.parametrize("flavour", ["blocking", "async"])
def test_utxo_only_gives_lwks_balance_and_utxos(lwk_regtest: Regtest, flavour: str) -> None:
    rt = lwk_regtest
    descriptor = _wallet_with_spends(rt)
    full = view(
        scanned(
            WaterfallsClient(rt.waterfalls_url, rt.network, True), Wollet(rt.network, descriptor)
        )
    )
    wollet = Wollet(rt.network, descriptor)
    if flavour == "blocking":
        scanned(WaterfallsClient(rt.waterfalls_url, rt.network, True, utxo_only=True), wollet)
    else:

        async def main() -> None:
            async with AsyncWaterfallsClient(
                rt.waterfalls_url, rt.network, True, utxo_only=True
            ) as client:
                update = await client.full_scan(wollet)
            assert update is not None
            wollet.apply_update(update)

        asyncio.run(main())
    balance, txs, utxos = view(wollet)
    lwk_balance, lwk_txs, lwk_utxos = lwk_waterfalls_view(
        rt.waterfalls_url, lwk.Network.regtest_default(), descriptor
    )
    assert (lwk_balance, lwk_txs, lwk_utxos) == full  # LWK and our full scan agree
    assert balance == lwk_balance and utxos == lwk_utxos
    assert len(utxos) == 3  # 4,000 untouched, the change, the mempool receive
    # the transactions shown: exactly those that made an unspent output
    assert set(txs) == {txid for txid, _, _ in utxos}
    assert set(txs) < set(lwk_txs) and len(lwk_txs) == 6


def test_the_server_filters_as_upstream(lwk_regtest: Regtest) -> None:
    """Spent confirmed outputs leave; mempool outputs come one per output with v = vout + 1."""
    rt = lwk_regtest
    d = WolletDescriptor(new_wallet_descriptor())
    address = d.address(Chain.EXTERNAL, 0, rt.network)
    received = rt.faucet(address, 2_000)
    rt.mine(1)
    utxo = scanned(connect(rt.esplora_url, rt.network), Wollet(rt.network, d)).utxos()[0]
    spent = rt.spend(
        [(utxo.outpoint, utxo.unblinded)], _elsewhere(rt), 500, change_address=_elsewhere(rt)
    )
    rt.mine(1)
    pending = rt.faucet(address, 700)
    plain = script_to_address(d.script_pubkey(Chain.EXTERNAL, 0), None, rt.network)

    def entries(utxo_only: str) -> list[tuple[str, int, int | None]]:
        url = f"{rt.waterfalls_url.removeprefix('waterfalls+')}/v2/waterfalls?addresses={plain}"
        with urllib.request.urlopen(f"{url}&utxo_only={utxo_only}") as reply:
            (history,) = json.load(reply)["txs_seen"]["addresses"]
        return [(e["txid"], e["height"], e.get("v")) for e in history]

    height = rt.chain.tip_height()
    assert entries("false") == [
        (received, height - 1, None),
        (spent, height, None),
        (pending, 0, 0),
    ]
    raw = rt.chain.tx_raw(pending)
    assert raw is not None
    from lwk_core import Transaction

    vouts = [
        n
        for n, out in enumerate(Transaction.from_bytes(raw).outputs)
        if out.script_pubkey == d.script_pubkey(Chain.EXTERNAL, 0)
    ]
    assert entries("true") == [(pending, 0, n + 1) for n in vouts] and len(vouts) == 1


def test_utxo_only_needs_the_descriptor(lwk_regtest: Regtest) -> None:
    with pytest.raises(InvalidArgument, match="send_descriptor"):
        WaterfallsClient(lwk_regtest.waterfalls_url, lwk_regtest.network, utxo_only=True)
    with pytest.raises(TypeError):
        WaterfallsClient(lwk_regtest.waterfalls_url, lwk_regtest.network, True, utxo_only=1)  # type: ignore[arg-type]
