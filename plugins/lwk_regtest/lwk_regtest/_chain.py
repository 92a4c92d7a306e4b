"""An in-memory Liquid regtest chain: blocks, mempool, script index, reorgs.

The Electrum and Esplora servers read it through its public methods (the Esplora server's
part is `_esplora_query.ChainView`). Those used by the faucet and the fixture loader:

- `RegtestChain(network)`: the genesis block carries one coinbase-shaped transaction
  (`genesis_txid`) with `PREMINE_OUTPUTS` explicit policy-asset outputs to `FAUCET_SCRIPT`,
  so the faucet never has to chain unconfirmed change.
- `append_block(raws, *, height=None, time=None, validate=True)`: confirm given transactions
  in a new block at `height` (empty blocks fill any gap, hashed lazily: see EmptyRun).
  `validate=False` accepts transactions whose inputs are unknown (fixture data).
- `replace(old_txid, raw)`: explicit RBF.
- `unspent(script_pubkey)`: the unspent outputs paying a script, confirmed first.

Blocks carry no coinbase (the genesis premine aside): a block holds exactly the
transactions it confirms. Signatures and amounts are not validated; inputs are.
"""

from __future__ import annotations

import threading
import time as _time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

import attrs
from embit import ec

from lwk_core import DecodeError, Network, Transaction
from lwk_core.primitives import hash160, merkle_branch, merkle_root, sha256

from ._blocks import EmptyRun, build_header, explicit_coinbase_tx
from ._signing import BlockSigners

__all__ = [
    "FAUCET_SCRIPT",
    "GENESIS_TIME",
    "PREMINE_OUTPUTS",
    "PREMINE_VALUE",
    "RegtestChain",
    "RegtestRejected",
]

GENESIS_TIME = 1296688602  # the regtest genesis time of Bitcoin and Elements
PREMINE_OUTPUTS = 500
PREMINE_VALUE = 2_000_000_000_000  # sats per premine output (20 000 L-BTC)
_FILLER_MEMO = 100_000  # filler-block hashes remembered for block_height()
# The faucet's P2WPKH script (its key is public knowledge: signatures are not checked).
FAUCET_SCRIPT = b"\x00\x14" + hash160(ec.PrivateKey(sha256(b"lwk-core regtest faucet")).sec())


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
class _Tx:
    parsed: ParsedTx
    raw: bytes = attrs.field(repr=False)
    height: int | None = None  # None: mempool
    pos: int = 0  # position in its block

    @property
    def txid(self) -> str:
        return self.parsed.txid


@attrs.define
class _Block:
    height: int
    hash: bytes  # internal order
    header: bytes
    time: int
    txids: list[str]


class RegtestChain:
    """A Liquid regtest chain held in memory, safe to share between threads."""

    def __init__(
        self,
        network: Network = Network.ELEMENTS_REGTEST,
        *,
        genesis_time: int = GENESIS_TIME,
        signers: BlockSigners | None = None,
    ) -> None:
        self.network = network
        self.signers = signers  # who signs the blocks (None: challenge OP_TRUE, unsigned)
        self.lock = threading.RLock()
        self.version = 0
        self._txs: dict[str, _Tx] = {}
        self._mempool: dict[str, None] = {}
        self._blocks: dict[int, _Block] = {}
        self._runs: list[EmptyRun] = []
        self._by_hash: dict[bytes, int] = {}
        self._filler_memo: OrderedDict[bytes, int] = OrderedDict()
        self._spent: dict[tuple[str, int], str] = {}
        self._scripts: dict[bytes, dict[str, None]] = {}
        self._sha_to_script: dict[bytes, bytes] = {}
        self._callbacks: list[Callable[[], None]] = []
        self._tip = -1
        self._last_time = genesis_time
        policy = bytes.fromhex(network.policy_asset)[::-1]
        premine = [(policy, PREMINE_VALUE, FAUCET_SCRIPT)] * PREMINE_OUTPUTS
        genesis = explicit_coinbase_tx(b"lwk-core regtest premine", premine)
        self.genesis_txid = self._confirm_block([genesis], genesis_time, validate=False)[0]

    # ------------------------------------------------------------------ reading
    def tip_height(self) -> int:
        with self.lock:
            return self._tip

    def tip_hash(self) -> str:
        with self.lock:
            return self._hash_at(self._tip)[::-1].hex()

    def block_hash(self, height: int) -> str | None:
        with self.lock:
            if not 0 <= height <= self._tip:
                return None
            return self._hash_at(height)[::-1].hex()

    def block_height(self, block_hash: str) -> int | None:
        try:
            key = bytes.fromhex(block_hash)[::-1]
        except ValueError:
            return None
        with self.lock:
            height = self._by_hash.get(key)
            if height is None:
                height = self._filler_memo.get(key)
            if height is None or height > self._tip or self._hash_at(height) != key:
                return None
            return height

    def header(self, height: int) -> bytes:
        """The consensus-serialized header at `height`; KeyError outside the best chain."""
        with self.lock:
            return self._header_at(height)[0]

    def block_time(self, height: int) -> int:
        with self.lock:
            self._check_height(height)
            block = self._blocks.get(height)
            return block.time if block else self._run_at(height).time(height)

    def block_txids(self, height: int) -> list[str]:
        with self.lock:
            self._check_height(height)
            block = self._blocks.get(height)
            return list(block.txids) if block else []

    def tx_raw(self, txid: str) -> bytes | None:
        with self.lock:
            tx = self._txs.get(txid)
            return tx.raw if tx else None

    def tx_height(self, txid: str) -> int | None:
        with self.lock:
            tx = self._txs.get(txid)
            return tx.height if tx else None

    def in_mempool(self, txid: str) -> bool:
        with self.lock:
            return txid in self._mempool

    def mempool_txids(self) -> list[str]:
        with self.lock:
            return list(self._mempool)

    def tx_fee(self, txid: str) -> int:
        """Sum of the explicit policy-asset fee outputs; KeyError for an unknown txid."""
        with self.lock:
            return self._txs[txid].parsed.fee

    def script_for_sha256(self, digest: bytes) -> bytes | None:
        with self.lock:
            return self._sha_to_script.get(digest)

    def history(self, script_pubkey: bytes) -> list[tuple[str, int]]:
        with self.lock:
            txids = self._scripts.get(script_pubkey, {})
            confirmed: list[tuple[int, int, str]] = []
            mempool: list[str] = []
            for txid in txids:
                tx = self._txs[txid]
                if tx.height is None:
                    mempool.append(txid)
                else:
                    confirmed.append((tx.height, tx.pos, txid))
            confirmed.sort()
            order = {txid: i for i, txid in enumerate(self._mempool)}
            mempool.sort(key=order.__getitem__)
            out = [(txid, height) for height, _, txid in confirmed]
            out += [(txid, -1 if self._has_unconfirmed_parent(txid) else 0) for txid in mempool]
            return out

    def merkle_proof(self, txid: str) -> tuple[int, list[str], int]:
        """(height, branch in display hex, position); KeyError if not confirmed."""
        with self.lock:
            tx = self._txs.get(txid)
            if tx is None or tx.height is None:
                raise KeyError(txid)
            return tx.height, merkle_branch(self._blocks[tx.height].txids, tx.pos), tx.pos

    def unspent(self, script_pubkey: bytes) -> list[tuple[str, int]]:
        """Unspent outputs (txid, vout) paying `script_pubkey`: confirmed first, by height."""
        with self.lock:
            outs: list[tuple[int, int, str, int]] = []
            for txid in self._scripts.get(script_pubkey, {}):
                tx = self._txs[txid]
                rank = (tx.height, tx.pos) if tx.height is not None else (1 << 40, 0)
                for vout, spk in enumerate(tx.parsed.script_pubkeys):
                    if spk == script_pubkey and (txid, vout) not in self._spent:
                        outs.append((*rank, txid, vout))
            order = {txid: i for i, txid in enumerate(self._mempool)}
            outs.sort(key=lambda o: (o[0], o[1], order.get(o[2], 0), o[3]))
            return [(txid, vout) for _, _, txid, vout in outs]

    # ---------------------------------------------------------------- changing
    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every change; returns a function that unsubscribes.

        The callback runs in the thread that changed the chain, possibly with `lock` held
        (the faucet holds it while it builds and broadcasts): it must not block.
        """
        with self.lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self.lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def broadcast(self, raw: bytes) -> str:
        """Add a transaction to the mempool, replacing mempool transactions it conflicts with."""
        with self.lock:
            parsed = self._parse(raw)
            if parsed.txid in self._mempool:
                return parsed.txid  # like sendrawtransaction: already accepted is success
            conflicts = self._check_inputs(parsed)
            for txid in conflicts:
                self._drop(txid)
            self._add(_Tx(parsed, raw))
            self._mempool[parsed.txid] = None
        self._changed()
        return parsed.txid

    def replace(self, old_txid: str, raw: bytes) -> str:
        """Replace a mempool transaction (and its descendants) by `raw` (RBF)."""
        with self.lock:
            if old_txid not in self._mempool:
                raise KeyError(old_txid)
            parsed = self._parse(raw)
            conflicts = self._check_inputs(parsed, replacing=self._descendants(old_txid))
            for txid in [old_txid, *conflicts]:
                if txid in self._txs:
                    self._drop(txid)
            self._add(_Tx(parsed, raw))
            self._mempool[parsed.txid] = None
        self._changed()
        return parsed.txid

    def evict(self, txid: str) -> None:
        """Drop a mempool transaction and its descendants; KeyError if not in the mempool."""
        with self.lock:
            if txid not in self._mempool:
                raise KeyError(txid)
            self._drop(txid)
        self._changed()

    def mine(self, n: int = 1) -> list[str]:
        """Mine `n` blocks; the first confirms the whole mempool. Returns the block hashes."""
        if n < 1:
            raise ValueError("mine at least one block")
        hashes: list[str] = []
        with self.lock:
            for i in range(n):
                txids = list(self._mempool) if i == 0 else []
                self._mempool.clear()
                height = self._confirm_txids(txids, self._next_time())
                hashes.append(self._hash_at(height)[::-1].hex())
        self._changed()
        return hashes

    def append_block(
        self,
        raws: Sequence[bytes],
        *,
        height: int | None = None,
        time: int | None = None,
        validate: bool = True,
    ) -> str:
        """Confirm `raws` in a new block at `height` (default: tip + 1); returns its hash.

        Transactions already in the mempool leave it. With `validate=False` inputs that
        spend unknown outputs are accepted (real transactions loaded from a fixture).
        """
        with self.lock:
            height = self._tip + 1 if height is None else height
            if height <= self._tip:
                raise ValueError(f"height {height} is not above the tip {self._tip}")
            block_time = self._next_time() if time is None else time
            if height > self._tip + 1:
                self._add_run(height - 1, block_time)
            self._confirm_block(list(raws), block_time, validate=validate)
            block_hash = self._hash_at(height)[::-1].hex()
        self._changed()
        return block_hash

    def reorg(self, depth: int, *, keep_txs: bool = True, same_heights: bool = False) -> None:
        """Replace the last `depth` blocks by `depth + 1` new ones (with new block times).

        keep_txs=True: their transactions confirm again, all in the last new block (so at
        a new height, the old tip + 1), or with `same_heights` each at its old height, in
        the new block that replaces its own. keep_txs=False: they vanish with their mempool
        descendants. The mempool is otherwise left as it is.
        """
        with self.lock:
            if not 1 <= depth <= self._tip:
                raise ValueError(f"cannot reorg {depth} blocks of a chain of height {self._tip}")
            fork = self._tip - depth
            blocks = [self.block_txids(h) for h in range(fork + 1, self._tip + 1)]
            removed = [txid for txids in blocks for txid in txids]
            self._truncate(fork)
            if not keep_txs:
                for txid in reversed(removed):
                    if txid in self._txs:
                        self._drop(txid)
            new_blocks: list[list[str]] = [[] for _ in blocks] + [removed if keep_txs else []]
            if keep_txs and same_heights:
                new_blocks = [*blocks, []]
            for txids in new_blocks:
                self._confirm_txids(txids, self._next_time())
        self._changed()

    # --------------------------------------------------------------- internals
    def _changed(self) -> None:
        with self.lock:
            self.version += 1
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def _next_time(self) -> int:
        self._last_time = max(self._last_time + 1, int(_time.time()))
        return self._last_time

    def _parse(self, raw: bytes) -> ParsedTx:
        try:
            return parse_tx(raw, self.network.policy_asset)
        except DecodeError as exc:
            raise RegtestRejected("TX decode failed", -22) from exc

    def _check_inputs(self, parsed: ParsedTx, replacing: Iterable[str] = ()) -> list[str]:
        """Validate a new transaction's inputs; return the mempool txs it replaces."""
        if parsed.txid in self._txs and self._txs[parsed.txid].height is not None:
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
            parent = self._txs.get(prevout[0])
            if (
                parent is None
                or prevout[0] in gone
                or prevout[1] >= len(parent.parsed.script_pubkeys)
            ):
                raise RegtestRejected("bad-txns-inputs-missingorspent", -25)
            spender = self._spent.get(prevout)
            if spender is None or spender in gone:
                continue
            if spender not in self._mempool:
                raise RegtestRejected("bad-txns-inputs-missingorspent", -25)
            for txid in self._descendants(spender):
                if txid not in gone:
                    gone.add(txid)
                    conflicts.append(txid)
        for prevout in parsed.prevouts:
            if prevout[0] in conflicts:
                raise RegtestRejected("bad-txns-spends-conflicting-tx")
        return conflicts

    def _descendants(self, txid: str) -> list[str]:
        """`txid` and every transaction spending its outputs, recursively, parents first."""
        out: list[str] = []
        todo = [txid]
        seen = {txid}
        while todo:
            current = todo.pop(0)
            out.append(current)
            for vout in range(len(self._txs[current].parsed.script_pubkeys)):
                child = self._spent.get((current, vout))
                if child is not None and child not in seen:
                    seen.add(child)
                    todo.append(child)
        return out

    def _has_unconfirmed_parent(self, txid: str) -> bool:
        return any(p[0] in self._mempool for p in self._txs[txid].parsed.prevouts)

    def _add(self, tx: _Tx) -> None:
        """Index a transaction: its outputs' scripts, and the scripts and outputs it spends."""
        self._txs[tx.txid] = tx
        for spk in tx.parsed.script_pubkeys:
            self._index(spk, tx.txid)
        for prevout in tx.parsed.prevouts:
            parent = self._txs.get(prevout[0])
            if parent is not None and prevout[1] < len(parent.parsed.script_pubkeys):
                self._spent[prevout] = tx.txid
                self._index(parent.parsed.script_pubkeys[prevout[1]], tx.txid)

    def _index(self, spk: bytes, txid: str) -> None:
        entry = self._scripts.get(spk)
        if entry is None:
            entry = self._scripts[spk] = {}
            self._sha_to_script[sha256(spk)] = spk
        entry[txid] = None

    def _drop(self, txid: str) -> None:
        """Forget a transaction and its descendants (mempool or chain)."""
        for current in reversed(self._descendants(txid)):
            tx = self._txs.pop(current)
            self._mempool.pop(current, None)
            for spk in tx.parsed.script_pubkeys:
                self._scripts.get(spk, {}).pop(current, None)
            for prevout in tx.parsed.prevouts:
                if self._spent.get(prevout) == current:
                    del self._spent[prevout]
                    parent = self._txs.get(prevout[0])
                    if parent is not None:
                        spk = parent.parsed.script_pubkeys[prevout[1]]
                        self._scripts.get(spk, {}).pop(current, None)

    def _confirm_block(self, raws: list[bytes], block_time: int, *, validate: bool) -> list[str]:
        """Confirm transactions in a new block; a rejection leaves the chain as it was
        (except mempool transactions the block's earlier transactions conflicted with)."""
        txids: list[str] = []
        added: list[str] = []
        mempool = dict(self._mempool)
        try:
            for raw in raws:
                parsed = self._parse(raw)
                known = self._txs.get(parsed.txid)
                if known is not None and known.height is not None:
                    raise RegtestRejected("Transaction already in block chain", -27)
                if parsed.txid in self._mempool:
                    del self._mempool[parsed.txid]
                elif known is None:
                    if validate:  # a block evicts the mempool transactions it conflicts with
                        for txid in self._check_inputs(parsed):
                            self._drop(txid)
                    self._add(_Tx(parsed, raw))
                    added.append(parsed.txid)
                txids.append(parsed.txid)
        except RegtestRejected:
            for txid in reversed(added):
                self._drop(txid)
            self._mempool = {t: None for t in mempool if t in self._txs}
            raise
        self._confirm_txids(txids, block_time)
        return txids

    def _confirm_txids(self, txids: list[str], block_time: int) -> int:
        height = self._tip + 1
        prev = self._hash_at(self._tip) if self._tip >= 0 else bytes(32)
        # mined blocks carry no coinbase: an empty block's root is all zeros
        root = bytes.fromhex(merkle_root(txids))[::-1] if txids else bytes(32)
        header, block_hash = build_header(prev, root, block_time, height, self.signers)
        self._blocks[height] = _Block(height, block_hash, header, block_time, txids)
        self._by_hash[block_hash] = height
        for pos, txid in enumerate(txids):
            self._mempool.pop(txid, None)
            tx = self._txs[txid]
            tx.height, tx.pos = height, pos
        self._tip = height
        self._last_time = max(self._last_time, block_time)
        return height

    def _add_run(self, last: int, time_after: int) -> None:
        first = self._tip + 1
        run, _ = EmptyRun.build(
            first,
            last,
            self._hash_at(self._tip),
            self.block_time(self._tip),
            time_after,
            self.signers,
        )
        self._runs.append(run)
        self._tip = last

    def _truncate(self, fork: int) -> None:
        """Remove every block above `fork`; their transactions stay known, unconfirmed."""
        for height in range(fork + 1, self._tip + 1):
            block = self._blocks.pop(height, None)
            if block is None:
                continue
            del self._by_hash[block.hash]
            for txid in block.txids:
                tx = self._txs.get(txid)
                if tx is not None:
                    tx.height = None
        self._runs = [run for run in self._runs if run.first <= fork]
        if self._runs and self._runs[-1].last > fork:
            self._runs[-1].truncate(fork)
        self._tip = fork

    def _check_height(self, height: int) -> None:
        if not 0 <= height <= self._tip:
            raise KeyError(height)

    def _run_at(self, height: int) -> EmptyRun:
        for run in reversed(self._runs):
            if run.first <= height <= run.last:
                return run
        raise KeyError(height)

    def _header_at(self, height: int) -> tuple[bytes, bytes]:
        self._check_height(height)
        block = self._blocks.get(height)
        if block is not None:
            return block.header, block.hash
        header, block_hash = self._run_at(height).header(height)
        self._filler_memo[block_hash] = height
        if len(self._filler_memo) > _FILLER_MEMO:
            self._filler_memo.popitem(last=False)
        return header, block_hash

    def _hash_at(self, height: int) -> bytes:
        return self._header_at(height)[1]
