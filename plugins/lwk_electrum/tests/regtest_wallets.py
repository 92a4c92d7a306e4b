"""Regtest wallets for the Electrum tests: LWK-derived descriptors, addresses, the views
of a wallet (ours and LWK's) that the comparisons use, and the server faults (regtest
fault modes) each client must turn into typed errors."""

from __future__ import annotations

import gc
import hashlib
from typing import Any

import lwk

from lwk_core import (
    BackendConnectError,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    Chain,
    Network,
    Wollet,
)

SERVER_FAULTS: list[tuple[str, type[BackendError]]] = [
    ("refuse", BackendConnectError),
    ("hang", BackendTimeout),
    ("reset", BackendConnectError),
    ("truncate", BackendConnectError),
    ("garbage", BackendProtocolError),
    ("oversized", BackendProtocolError),
]


def descriptor(name: str) -> str:
    """A fresh regtest slip77 + elwpkh wallet (LWK's signer derives it from `name`)."""
    network = lwk.Network.regtest_default()
    mnemonic = lwk.Mnemonic.from_entropy(hashlib.sha256(name.encode()).digest()[:16])
    return str(lwk.Signer(mnemonic, network).wpkh_slip77_descriptor())


def address(wollet: Wollet, index: int, chain: Chain = Chain.EXTERNAL) -> str:
    return wollet.descriptor.address(chain, index, Network.ELEMENTS_REGTEST)


def lwk_view(wollet: lwk.Wollet) -> dict[str, Any]:
    return {
        "balance": {a: v for a, v in wollet.balance().items() if v},
        "txs": [
            (str(t.txid()), t.height(), t.timestamp(), t.type(), t.fee(), dict(t.balance()))
            for t in wollet.transactions()
        ],
        "utxos": sorted(
            (
                str(u.outpoint().txid()),
                u.outpoint().vout(),
                u.unblinded().asset(),
                u.unblinded().value(),
            )
            for u in wollet.utxos()
        ),
    }


def our_view(wollet: Wollet) -> dict[str, Any]:
    return {
        "balance": {a: v for a, v in wollet.balance().items() if v},
        "txs": [
            (t.txid, t.height, t.timestamp, t.type, t.fee, dict(t.balance))
            for t in wollet.transactions()
        ],
        "utxos": sorted(
            (u.outpoint.txid, u.outpoint.vout, u.asset, u.value) for u in wollet.utxos()
        ),
    }


def assert_as_lwk(electrum_url: str, wollet: Wollet) -> None:
    """Our view of the wallet equals LWK's, its client scanning the same server."""
    theirs = lwk.Wollet(
        lwk.Network.regtest_default(), lwk.WolletDescriptor(str(wollet.descriptor)), None
    )
    theirs.apply_update(lwk.ElectrumClient.from_url(electrum_url).full_scan(theirs))
    gc.collect()  # LWK's client closes its connection when collected
    mine, lwks = our_view(wollet), lwk_view(theirs)
    assert mine["balance"] == lwks["balance"]
    assert mine["utxos"] == lwks["utxos"]
    assert sorted(mine["txs"], key=str) == sorted(lwks["txs"], key=str)
