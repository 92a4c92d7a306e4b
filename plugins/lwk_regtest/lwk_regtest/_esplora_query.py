"""What the Esplora REST server knows, read from a RegtestChain the way electrs indexes it.

Histories are paged exactly as electrs pages them (electrs' `src/rest.rs` and
`src/new_index/query.rs`): the confirmed history newest first in electrs' index order, 25 per
page after a `last_seen` txid; the mempool history in arrival order, capped at 50. Callers hold
`chain.lock` across one request so that every fact in an answer comes from the same chain state.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any, Final, Protocol

from lwk_core import BlockHeader, Network, Transaction, TxOut

from ._esplora_json import (
    Json,
    block_status_value,
    block_value,
    spending_value,
    status_value,
    tx_value,
    utxo_value,
)

__all__ = [
    "CHAIN_TXS_PER_PAGE",
    "MAX_MEMPOOL_TXS",
    "ChainView",
    "EsploraQuery",
]

CHAIN_TXS_PER_PAGE: Final = 25
MAX_MEMPOOL_TXS: Final = 50
_MTP_SPAN: Final = 11  # blocks in the median time past


class ChainView(Protocol):
    """The part of RegtestChain that the Esplora server reads."""

    @property
    def network(self) -> Network: ...
    @property
    def lock(self) -> AbstractContextManager[Any]: ...
    @property
    def version(self) -> int: ...
    @property
    def genesis_hash(self) -> str: ...

    def tip_height(self) -> int: ...
    def tip_hash(self) -> str: ...
    def block_hash(self, height: int) -> str | None: ...
    def block_height(self, block_hash: str) -> int | None: ...
    def header(self, height: int) -> bytes: ...
    def block_time(self, height: int) -> int: ...
    def block_txids(self, height: int) -> list[str]: ...
    def tx_raw(self, txid: str) -> bytes | None: ...
    def tx_height(self, txid: str) -> int | None: ...
    def in_mempool(self, txid: str) -> bool: ...
    def mempool_txids(self) -> list[str]: ...
    def tx_fee(self, txid: str) -> int: ...
    def script_for_sha256(self, digest: bytes) -> bytes | None: ...
    def history(self, script_pubkey: bytes) -> list[tuple[str, int]]: ...
    def merkle_proof(self, txid: str) -> tuple[int, list[str], int]: ...
    def broadcast(self, raw: bytes) -> str: ...


def _is_spendable(out: TxOut) -> bool:
    """electrs indexes neither fee outputs nor provably unspendable (OP_RETURN) scripts."""
    return not out.is_fee and out.script_pubkey[:1] != b"\x6a"


class EsploraQuery:
    """Answers of the REST routes, computed from the chain (caller holds the chain lock)."""

    def __init__(self, chain: ChainView) -> None:
        self._chain = chain
        self._parsed: dict[str, Transaction] = {}
        self._orders: dict[bytes, tuple[int, list[str], list[str]]] = {}

    @property
    def network(self) -> Network:
        return self._chain.network

    # transactions

    def tx(self, txid: str) -> Transaction | None:
        """A chain or mempool transaction (parsed once: a txid's bytes never change)."""
        tx = self._parsed.get(txid)
        if tx is not None:
            return tx if self._chain.tx_raw(txid) is not None else None
        raw = self._chain.tx_raw(txid)
        if raw is None:
            return None
        tx = Transaction.from_bytes(raw)
        self._parsed[txid] = tx
        return tx

    def tx_status(self, txid: str) -> Json:
        height = self._chain.tx_height(txid)
        if height is None:
            return status_value(None, None, None)
        return status_value(height, self._chain.block_hash(height), self._chain.block_time(height))

    def _prevouts(self, tx: Transaction) -> dict[int, TxOut]:
        prevouts = {}
        for n, txin in enumerate(tx.inputs):
            if txin.is_coinbase or txin.is_pegin:
                continue
            parent = self.tx(txin.prevout.txid)
            if parent is not None and txin.prevout.vout < len(parent.outputs):
                prevouts[n] = parent.outputs[txin.prevout.vout]
        return prevouts

    def tx_json(self, txid: str) -> Json | None:
        tx = self.tx(txid)
        if tx is None:
            return None
        fee = self._chain.tx_fee(txid)
        return tx_value(tx, self._prevouts(tx), fee, self.tx_status(txid), self.network)

    def _txs_json(self, txids: Iterable[str]) -> list[Json]:
        return [value for value in map(self.tx_json, txids) if value is not None]

    def outspends(self, txid: str) -> list[Json] | None:
        """Who spends each output of a known transaction."""
        tx = self.tx(txid)
        if tx is None:
            return None
        return [self.outspend(txid, vout) for vout in range(len(tx.outputs))]

    def outspend(self, txid: str, vout: int) -> Json:
        """The spender of one output: a confirmed one first, else a mempool one."""
        tx = self.tx(txid)
        if tx is None or vout >= len(tx.outputs) or not _is_spendable(tx.outputs[vout]):
            return spending_value(None)
        return spending_value(self._find_spend(txid, vout, tx.outputs[vout].script_pubkey))

    def _find_spend(self, txid: str, vout: int, spk: bytes) -> tuple[str, int, Json] | None:
        confirmed, mempool = self._history(spk)
        for spender in [*confirmed, *mempool]:
            spending_tx = self.tx(spender)
            if spending_tx is None:
                continue
            for vin, txin in enumerate(spending_tx.inputs):
                if txin.prevout.txid == txid and txin.prevout.vout == vout and not txin.is_pegin:
                    return spender, vin, self.tx_status(spender)
        return None

    # script histories

    def script_for_scripthash(self, digest: bytes) -> bytes | None:
        return self._chain.script_for_sha256(digest)

    def _history(self, spk: bytes) -> tuple[list[str], list[str]]:
        """(confirmed txids newest first in electrs' index order, mempool txids in arrival order).

        electrs walks its history rows backwards: by height, then spending rows before funding
        rows, then by txid bytes; a transaction shows up at its first row.
        """
        version = self._chain.version
        cached = self._orders.get(spk)
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        confirmed: list[tuple[int, bool, bytes, str]] = []
        mempool = []
        for txid, height in self._chain.history(spk):
            if not self._chain.in_mempool(txid):
                tx = self.tx(txid)
                spends = tx is not None and any(
                    out.script_pubkey == spk for out in self._prevouts(tx).values()
                )
                confirmed.append((height, spends, bytes.fromhex(txid)[::-1], txid))
            else:
                mempool.append(txid)
        confirmed.sort(reverse=True)
        order = [entry[3] for entry in confirmed]
        if len(self._orders) > 10_000:
            self._orders.clear()
        self._orders[spk] = (version, order, mempool)
        return order, mempool

    def chain_txs(self, spk: bytes, last_seen: str | None) -> list[Json]:
        """One page of confirmed history; empty if `last_seen` is not in it."""
        order, _ = self._history(spk)
        start = 0
        if last_seen is not None:
            if last_seen not in order:
                return []
            start = order.index(last_seen) + 1
        return self._txs_json(order[start : start + CHAIN_TXS_PER_PAGE])

    def mempool_txs(self, spk: bytes) -> list[Json]:
        _, mempool = self._history(spk)
        return self._txs_json(mempool[:MAX_MEMPOOL_TXS])

    def txs(self, spk: bytes) -> list[Json]:
        """`/txs`: up to 50 mempool transactions, then the first confirmed page."""
        return self.mempool_txs(spk) + self.chain_txs(spk, None)

    def _rows(self, txids: list[str], spk: bytes) -> tuple[int, int]:
        """(funding outputs, spending inputs) of `spk` in these transactions."""
        funded = spent = 0
        for txid in txids:
            tx = self.tx(txid)
            if tx is None:
                continue
            funded += sum(1 for o in tx.outputs if o.script_pubkey == spk and _is_spendable(o))
            spent += sum(1 for o in self._prevouts(tx).values() if o.script_pubkey == spk)
        return funded, spent

    def stats(self, spk: bytes) -> tuple[Json, Json]:
        """(chain_stats, mempool_stats) with the Liquid fields only (no sums)."""
        confirmed, mempool = self._history(spk)
        result = []
        for txids in (confirmed, mempool):
            funded, spent = self._rows(txids, spk)
            result.append(
                {"tx_count": len(txids), "funded_txo_count": funded, "spent_txo_count": spent}
            )
        return result[0], result[1]

    def utxos(self, spk: bytes) -> list[Json]:
        """Unspent outputs of `spk`: confirmed ones oldest first, then mempool ones."""
        confirmed, mempool = self._history(spk)
        funded: list[tuple[str, int, TxOut]] = []
        spent: set[tuple[str, int]] = set()
        for txid in [*reversed(confirmed), *mempool]:
            tx = self.tx(txid)
            if tx is None:
                continue
            funded += [
                (txid, n, o)
                for n, o in enumerate(tx.outputs)
                if o.script_pubkey == spk and _is_spendable(o)
            ]
            spent.update(
                (tx.inputs[n].prevout.txid, tx.inputs[n].prevout.vout)
                for n, o in self._prevouts(tx).items()
                if o.script_pubkey == spk
            )
        return [
            utxo_value(txid, n, out, self.tx_status(txid))
            for txid, n, out in funded
            if (txid, n) not in spent
        ]

    # blocks

    def block_json(self, block_hash: str) -> Json | None:
        height = self._chain.block_height(block_hash)
        if height is None:
            return None
        txs = [tx for tx in map(self.tx, self._chain.block_txids(height)) if tx is not None]
        times = sorted(
            self._chain.block_time(h) for h in range(max(0, height - _MTP_SPAN + 1), height + 1)
        )
        header = BlockHeader.parse(self._chain.header(height))
        return block_value(header, height, txs, times[len(times) // 2])

    def block_status(self, block_hash: str) -> Json:
        height = self._chain.block_height(block_hash)
        next_best = None if height is None else self._chain.block_hash(height + 1)
        return block_status_value(height, next_best)

    def other_tx(self, txid: str) -> bytes | None:
        """Some transaction other than `txid`, for the wrong_tx fault."""
        tip = self._chain.tip_height()
        candidates = [
            *self._chain.mempool_txids(),
            *self._chain.block_txids(tip),
            *self._chain.block_txids(0),
        ]
        other = next((c for c in candidates if c != txid), None)
        return None if other is None else self._chain.tx_raw(other)
