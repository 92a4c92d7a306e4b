"""What a wallet reports, in one plain shape for LWK's Wollet and ours.

Wallet balances leave out zero amounts (LWK lists an asset whose coins were all spent with 0);
transaction balances are compared as reported, zeros included.
"""

from __future__ import annotations

import attrs
import lwk

from lwk_core import Wollet


@attrs.frozen
class TxRow:
    txid: str
    height: int | None
    timestamp: int | None
    type: str
    fee: int
    balance: tuple[tuple[str, int], ...]


@attrs.frozen
class OutRow:
    txid: str
    vout: int
    height: int | None
    asset: str
    value: int
    asset_bf: str
    value_bf: str
    chain: str
    index: int


@attrs.frozen
class View:
    balance: tuple[tuple[str, int], ...]
    txs: tuple[TxRow, ...]
    utxos: tuple[OutRow, ...]
    txos: tuple[OutRow, ...]
    address: tuple[int, str]
    # LWK only, for the rules: txid -> outpoints it spends / its fee outputs (asset, value)
    spends: dict[str, tuple[tuple[str, int], ...]] = attrs.field(factory=dict, eq=False)
    fee_outputs: dict[str, tuple[tuple[str, int], ...]] = attrs.field(factory=dict, eq=False)

    def tx(self, txid: str) -> TxRow | None:
        return next((t for t in self.txs if t.txid == txid), None)


def balance_of(utxos: tuple[OutRow, ...]) -> tuple[tuple[str, int], ...]:
    amounts: dict[str, int] = {}
    for out in utxos:
        amounts[out.asset] = amounts.get(out.asset, 0) + out.value
    return tuple(sorted((a, v) for a, v in amounts.items() if v))


def ours_view(wollet: Wollet) -> View:
    def row(o: object) -> OutRow:
        s = o.unblinded  # type: ignore[attr-defined]
        p = o.outpoint  # type: ignore[attr-defined]
        return OutRow(
            p.txid,
            p.vout,
            o.height,  # type: ignore[attr-defined]
            s.asset,
            s.value,
            s.asset_bf,
            s.value_bf,
            o.chain.name,  # type: ignore[attr-defined]
            o.wildcard_index,  # type: ignore[attr-defined]
        )

    address = wollet.address()
    return View(
        balance=tuple(sorted((a, v) for a, v in wollet.balance().items() if v)),
        txs=tuple(
            TxRow(t.txid, t.height, t.timestamp, t.type, t.fee, tuple(sorted(t.balance.items())))
            for t in wollet.transactions()
        ),
        utxos=tuple(row(o) for o in wollet.utxos()),
        txos=tuple(row(o) for o in wollet.txos()),
        address=(address.index(), address.address()),
    )


def lwk_view(wollet: lwk.Wollet) -> View:
    def row(o: lwk.WalletTxOut) -> OutRow:
        s = o.unblinded()
        p = o.outpoint()
        return OutRow(
            str(p.txid()),
            p.vout(),
            o.height(),
            str(s.asset()),
            s.value(),
            str(s.asset_bf()),
            str(s.value_bf()),
            "EXTERNAL" if o.ext_int() == lwk.Chain.EXTERNAL else "INTERNAL",
            o.wildcard_index(),
        )

    txs = wollet.transactions()
    address = wollet.address(None)
    spends: dict[str, tuple[tuple[str, int], ...]] = {}
    fee_outputs: dict[str, tuple[tuple[str, int], ...]] = {}
    for t in txs:
        tx = t.tx()
        txid = str(t.txid())
        spends[txid] = tuple((str(i.outpoint().txid()), i.outpoint().vout()) for i in tx.inputs())
        fee_outputs[txid] = tuple(
            (str(o.asset()), int(o.value() or 0)) for o in tx.outputs() if o.is_fee()
        )
    return View(
        balance=tuple(sorted((str(a), v) for a, v in wollet.balance().items() if v)),
        txs=tuple(
            TxRow(
                str(t.txid()),
                t.height(),
                t.timestamp(),
                t.type(),
                t.fee(),
                tuple(sorted((str(a), v) for a, v in t.balance().items())),
            )
            for t in txs
        ),
        utxos=tuple(row(o) for o in wollet.utxos()),
        txos=tuple(row(o) for o in wollet.txos()),
        address=(address.index(), str(address.address())),
        spends=spends,
        fee_outputs=fee_outputs,
    )
