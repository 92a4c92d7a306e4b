"""Test helpers of lwk-waterfalls: one wallet's view, as ours and as LWK's."""

from __future__ import annotations

from typing import Any

import lwk

from lwk_core import BackendChain, Client, Wollet

View = tuple[dict[str, int], dict[str, tuple[Any, ...]], set[tuple[str, int, int]]]


def scanned(client: Client | BackendChain, wollet: Wollet, *, to_index: int = 0) -> Wollet:
    update = client.full_scan(wollet, to_index=to_index)
    if update is not None:
        wollet.apply_update(update)
    return wollet


def view(wollet: Wollet) -> View:
    """Balance, each tx (type, balance, fee, height, timestamp) and the utxos (outpoint,
    value) of a wallet of ours."""
    txs = {
        t.txid: (t.type, dict(t.balance), t.fee, t.height, t.timestamp)
        for t in wollet.transactions()
    }
    utxos = {(u.outpoint.txid, u.outpoint.vout, u.value) for u in wollet.utxos()}
    return {a: v for a, v in wollet.balance().items() if v}, txs, utxos


def lwk_view(wollet: lwk.Wollet) -> View:
    """The same from LWK 0.19's Wollet."""
    txs = {
        str(t.txid()): (t.type(), dict(t.balance()), t.fee(), t.height(), t.timestamp())
        for t in wollet.transactions()
    }
    utxos = {
        (str(u.outpoint().txid()), u.outpoint().vout(), u.unblinded().value())
        for u in wollet.utxos()
    }
    return {a: v for a, v in wollet.balance().items() if v}, txs, utxos


def lwk_waterfalls_view(url: str, network: lwk.Network, descriptor: str) -> View:
    """Scan with LWK's own WaterfallsClient (it sends the encrypted descriptor)."""
    wollet = lwk.Wollet(network, lwk.WolletDescriptor(descriptor), None)
    update = lwk.WaterfallsClient(url.removeprefix("waterfalls+"), network).full_scan(wollet)
    if update is not None:
        wollet.apply_update(update)
    return lwk_view(wollet)
