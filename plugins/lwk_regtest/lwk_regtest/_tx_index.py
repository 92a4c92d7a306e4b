"""Every transaction the regtest chain knows (confirmed or in the mempool), what spends what,
and which transactions touch each script; the input checks of a new transaction."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from lwk_core import Transaction
from lwk_core.primitives import sha256

__all__ = ["ParsedTx", "RegtestRejected", "StoredTx", "TxIndex", "parse_tx"]


@attrs.frozen
class ParsedTx:
    """What the chain needs of a transaction."""

    txid: str
    prevouts: tuple[tuple[str, int], ...]  # empty for a coinbase
    is_coinbase: bool
    script_pubkeys: tuple[bytes, ...]
    fee: int  # explicit policy-asset fee outputs


def parse_tx(raw: bytes, policy_asset: str) -> ParsedTx:
    """Summarize an Elements transaction; DecodeError if `raw` is not exactly one."""
    tx = Transaction.from_bytes(raw)
    coinbase = any(i.is_coinbase for i in tx.inputs)
    return ParsedTx(
        txid=tx.txid,
        prevouts=() if coinbase else tuple((i.prevout.txid, i.prevout.vout) for i in tx.inputs),
        is_coinbase=coinbase,
        script_pubkeys=tuple(out.script_pubkey for out in tx.outputs),
        fee=tx.fee(policy_asset),
    )


class RegtestRejected(Exception):
    """The chain refused a transaction; `reason` is the Elements reject text.

    `code` is the JSON-RPC code elementsd's sendrawtransaction would use: -26 for policy
    and consensus rejections (RPC_VERIFY_REJECTED), -25 for missing or spent inputs
    (RPC_VERIFY_ERROR), -27 for a transaction already in the chain, -22 for bytes that
    do not decode.
    """

    def __init__(self, reason: str, code: int = -26) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@attrs.define
class StoredTx:
    parsed: ParsedTx
    raw: bytes = attrs.field(repr=False)
    height: int | None = None  # None: mempool
    pos: int = 0  # position in its block

    @property
    def txid(self) -> str:
        return self.parsed.txid


class TxIndex:
    """The known transactions and their indexes (not thread-safe: RegtestChain's lock guards
    it). `mempool` keeps the order transactions entered it."""

    def __init__(self) -> None:
        self.txs: dict[str, StoredTx] = {}
        self.mempool: dict[str, None] = {}
        self._spent: dict[tuple[str, int], str] = {}
        self._scripts: dict[bytes, dict[str, None]] = {}
        self._sha_to_script: dict[bytes, bytes] = {}

    def script_for_sha256(self, digest: bytes) -> bytes | None:
        return self._sha_to_script.get(digest)

    def history(self, script_pubkey: bytes) -> list[tuple[str, int]]:
        txids = self._scripts.get(script_pubkey, {})
        confirmed: list[tuple[int, int, str]] = []
        mempool: list[str] = []
        for txid in txids:
            tx = self.txs[txid]
            if tx.height is None:
                mempool.append(txid)
            else:
                confirmed.append((tx.height, tx.pos, txid))
        confirmed.sort()
        order = {txid: i for i, txid in enumerate(self.mempool)}
        mempool.sort(key=order.__getitem__)
        out = [(txid, height) for height, _, txid in confirmed]
        out += [(txid, -1 if self._has_unconfirmed_parent(txid) else 0) for txid in mempool]
        return out

    def unspent(self, script_pubkey: bytes) -> list[tuple[str, int]]:
        """Unspent outputs (txid, vout) paying `script_pubkey`: confirmed first, by height."""
        outs: list[tuple[int, int, str, int]] = []
        for txid in self._scripts.get(script_pubkey, {}):
            tx = self.txs[txid]
            rank = (tx.height, tx.pos) if tx.height is not None else (1 << 40, 0)
            for vout, spk in enumerate(tx.parsed.script_pubkeys):
                if spk == script_pubkey and (txid, vout) not in self._spent:
                    outs.append((*rank, txid, vout))
        order = {txid: i for i, txid in enumerate(self.mempool)}
        outs.sort(key=lambda o: (o[0], o[1], order.get(o[2], 0), o[3]))
        return [(txid, vout) for _, _, txid, vout in outs]

    def check_inputs(self, parsed: ParsedTx, replacing: Iterable[str] = ()) -> list[str]:
        """Validate a new transaction's inputs; return the mempool txs it replaces."""
        if parsed.txid in self.txs and self.txs[parsed.txid].height is not None:
            raise RegtestRejected("Transaction already in block chain", -27)
        if parsed.is_coinbase:
            raise RegtestRejected("coinbase")
        if not parsed.prevouts:
            raise RegtestRejected("bad-txns-vin-empty")
        if not parsed.script_pubkeys:
            raise RegtestRejected("bad-txns-vout-empty")
        if len(set(parsed.prevouts)) != len(parsed.prevouts):
            raise RegtestRejected("bad-txns-inputs-duplicate")
        gone = set(replacing)
        conflicts: list[str] = []
        for prevout in parsed.prevouts:
            parent = self.txs.get(prevout[0])
            if (
                parent is None
                or prevout[0] in gone
                or prevout[1] >= len(parent.parsed.script_pubkeys)
            ):
                raise RegtestRejected("bad-txns-inputs-missingorspent", -25)
            spender = self._spent.get(prevout)
            if spender is None or spender in gone:
                continue
            if spender not in self.mempool:
                raise RegtestRejected("bad-txns-inputs-missingorspent", -25)
            for txid in self.descendants(spender):
                if txid not in gone:
                    gone.add(txid)
                    conflicts.append(txid)
        for prevout in parsed.prevouts:
            if prevout[0] in conflicts:
                raise RegtestRejected("bad-txns-spends-conflicting-tx")
        return conflicts

    def descendants(self, txid: str) -> list[str]:
        """`txid` and every transaction spending its outputs, recursively, parents first."""
        out: list[str] = []
        todo = [txid]
        seen = {txid}
        while todo:
            current = todo.pop(0)
            out.append(current)
            for vout in range(len(self.txs[current].parsed.script_pubkeys)):
                child = self._spent.get((current, vout))
                if child is not None and child not in seen:
                    seen.add(child)
                    todo.append(child)
        return out

    def _has_unconfirmed_parent(self, txid: str) -> bool:
        return any(p[0] in self.mempool for p in self.txs[txid].parsed.prevouts)

    def add(self, tx: StoredTx) -> None:
        """Index a transaction: its outputs' scripts, and the scripts and outputs it spends."""
        self.txs[tx.txid] = tx
        for spk in tx.parsed.script_pubkeys:
            self._index(spk, tx.txid)
        for prevout in tx.parsed.prevouts:
            parent = self.txs.get(prevout[0])
            if parent is not None and prevout[1] < len(parent.parsed.script_pubkeys):
                self._spent[prevout] = tx.txid
                self._index(parent.parsed.script_pubkeys[prevout[1]], tx.txid)

    def _index(self, spk: bytes, txid: str) -> None:
        entry = self._scripts.get(spk)
        if entry is None:
            entry = self._scripts[spk] = {}
            self._sha_to_script[sha256(spk)] = spk
        entry[txid] = None

    def drop(self, txid: str) -> None:
        """Forget a transaction and its descendants (mempool or chain)."""
        for current in reversed(self.descendants(txid)):
            tx = self.txs.pop(current)
            self.mempool.pop(current, None)
            for spk in tx.parsed.script_pubkeys:
                self._scripts.get(spk, {}).pop(current, None)
            for prevout in tx.parsed.prevouts:
                if self._spent.get(prevout) == current:
                    del self._spent[prevout]
                    parent = self.txs.get(prevout[0])
                    if parent is not None:
                        spk = parent.parsed.script_pubkeys[prevout[1]]
                        self._scripts.get(spk, {}).pop(current, None)
