"""An in-memory Liquid regtest chain: blocks, mempool, script index, reorgs.

The blocks are kept by `_block_store.BlockStore`, the transactions, mempool and script index by
`_tx_index.TxIndex`; this module ties them together under one lock and notifies changes.

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

The chain stands in for its network: the servers declare `genesis_hash` (by default the
network's, as `Network.genesis_hash` gives it) where a client asks which chain they serve
(Electrum `server.features`, Esplora `/block-height/0`). Block 0 itself is built here (its
premine is this chain's own), so its header hashes to another value, which the servers
give everywhere else (headers, tips, `blockchain.block.header`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from embit import ec

from lwk_core import DecodeError, Network
from lwk_core.primitives import MerkleTree, hash160, sha256

from ._block_store import BlockStore
from ._blocks import explicit_coinbase_tx
from ._signing import DEFAULT_SIGNERS, BlockSigners
from ._tx_index import ParsedTx, RegtestRejected, StoredTx, TxIndex, parse_tx

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
# The faucet's P2WPKH script (its key is public knowledge: signatures are not checked).
FAUCET_SCRIPT = b"\x00\x14" + hash160(ec.PrivateKey(sha256(b"lwk-core regtest faucet")).sec())


_MERKLE_TREES = 16  # blocks whose Merkle tree is kept for proofs


class RegtestChain:
    """A Liquid regtest chain held in memory, safe to share between threads."""

    def __init__(
        self,
        network: Network = Network.ELEMENTS_REGTEST,
        *,
        genesis_time: int = GENESIS_TIME,
        genesis_hash: str | None = None,
        signers: BlockSigners | None = DEFAULT_SIGNERS,
    ) -> None:
        self.network = network
        self.genesis_hash = genesis_hash or network.genesis_hash  # which chain it declares
        self.signers = signers  # who signs the blocks (None: challenge OP_TRUE, unsigned)
        self.lock = threading.RLock()
        self.version = 0
        self._blocks = BlockStore(genesis_time, signers)
        self._index = TxIndex()
        self._merkle_trees: dict[bytes, MerkleTree] = {}
        self._callbacks: list[Callable[[], None]] = []
        policy = bytes.fromhex(network.policy_asset)[::-1]
        premine = [(policy, PREMINE_VALUE, FAUCET_SCRIPT)] * PREMINE_OUTPUTS
        genesis = explicit_coinbase_tx(b"lwk-core regtest premine", premine)
        self.genesis_txid = self._confirm_block([genesis], genesis_time, validate=False)[0]

    # ------------------------------------------------------------------ reading
    def tip_height(self) -> int:
        with self.lock:
            return self._blocks.tip

    def tip_hash(self) -> str:
        with self.lock:
            return self._blocks.hash_at(self._blocks.tip)[::-1].hex()

    def block_hash(self, height: int) -> str | None:
        with self.lock:
            if not 0 <= height <= self._blocks.tip:
                return None
            return self._blocks.hash_at(height)[::-1].hex()

    def block_height(self, block_hash: str) -> int | None:
        try:
            key = bytes.fromhex(block_hash)[::-1]
        except ValueError:
            return None
        with self.lock:
            return self._blocks.height_of(key)

    def header(self, height: int) -> bytes:
        """The consensus-serialized header at `height`; KeyError outside the best chain."""
        with self.lock:
            return self._blocks.header_at(height)[0]

    def block_time(self, height: int) -> int:
        with self.lock:
            return self._blocks.time_at(height)

    def block_txids(self, height: int) -> list[str]:
        with self.lock:
            return self._blocks.txids_at(height)

    def tx_raw(self, txid: str) -> bytes | None:
        with self.lock:
            tx = self._index.txs.get(txid)
            return tx.raw if tx else None

    def tx_height(self, txid: str) -> int | None:
        with self.lock:
            tx = self._index.txs.get(txid)
            return tx.height if tx else None

    def in_mempool(self, txid: str) -> bool:
        with self.lock:
            return txid in self._index.mempool

    def mempool_txids(self) -> list[str]:
        with self.lock:
            return list(self._index.mempool)

    def tx_fee(self, txid: str) -> int:
        """Sum of the explicit policy-asset fee outputs; KeyError for an unknown txid."""
        with self.lock:
            return self._index.txs[txid].parsed.fee

    def script_for_sha256(self, digest: bytes) -> bytes | None:
        with self.lock:
            return self._index.script_for_sha256(digest)

    def history(self, script_pubkey: bytes) -> list[tuple[str, int]]:
        with self.lock:
            return self._index.history(script_pubkey)

    def merkle_proof(self, txid: str) -> tuple[int, list[str], int]:
        """(height, branch in display hex, position); KeyError if not confirmed."""
        with self.lock:
            tx = self._index.txs.get(txid)
            if tx is None or tx.height is None:
                raise KeyError(txid)
            block = self._blocks.hash_at(tx.height)
            tree = self._merkle_trees.get(block)
            if tree is None:  # built once per block: proving each of its txs stays cheap
                if len(self._merkle_trees) >= _MERKLE_TREES:
                    self._merkle_trees.clear()
                tree = MerkleTree(self._blocks.txids_at(tx.height))
                self._merkle_trees[block] = tree  # by block hash: a reorg's blocks are others
            return tx.height, tree.branch(tx.pos), tx.pos

    def unspent(self, script_pubkey: bytes) -> list[tuple[str, int]]:
        """Unspent outputs (txid, vout) paying `script_pubkey`: confirmed first, by height."""
        with self.lock:
            return self._index.unspent(script_pubkey)

    # ---------------------------------------------------------------- changing
    def set_signers(self, signers: BlockSigners | None) -> None:
        """Sign the blocks made from now on with `signers` (a federation handing over)."""
        with self.lock:
            self.signers = self._blocks.signers = signers

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
            if parsed.txid in self._index.mempool:
                return parsed.txid  # like sendrawtransaction: already accepted is success
            conflicts = self._index.check_inputs(parsed)
            for txid in conflicts:
                self._index.drop(txid)
            self._index.add(StoredTx(parsed, raw))
            self._index.mempool[parsed.txid] = None
        self._changed()
        return parsed.txid

    def replace(self, old_txid: str, raw: bytes) -> str:
        """Replace a mempool transaction (and its descendants) by `raw` (RBF)."""
        with self.lock:
            if old_txid not in self._index.mempool:
                raise KeyError(old_txid)
            parsed = self._parse(raw)
            conflicts = self._index.check_inputs(
                parsed, replacing=self._index.descendants(old_txid)
            )
            for txid in [old_txid, *conflicts]:
                if txid in self._index.txs:
                    self._index.drop(txid)
            self._index.add(StoredTx(parsed, raw))
            self._index.mempool[parsed.txid] = None
        self._changed()
        return parsed.txid

    def evict(self, txid: str) -> None:
        """Drop a mempool transaction and its descendants; KeyError if not in the mempool."""
        with self.lock:
            if txid not in self._index.mempool:
                raise KeyError(txid)
            self._index.drop(txid)
        self._changed()

    def mine(self, n: int = 1) -> list[str]:
        """Mine `n` blocks; the first confirms the whole mempool. Returns the block hashes."""
        if n < 1:
            raise ValueError("mine at least one block")
        hashes: list[str] = []
        with self.lock:
            for i in range(n):
                txids = list(self._index.mempool) if i == 0 else []
                self._index.mempool.clear()
                height = self._confirm_txids(txids, self._blocks.next_time())
                hashes.append(self._blocks.hash_at(height)[::-1].hex())
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
            height = self._blocks.tip + 1 if height is None else height
            if height <= self._blocks.tip:
                raise ValueError(f"height {height} is not above the tip {self._blocks.tip}")
            block_time = self._blocks.next_time() if time is None else time
            if height > self._blocks.tip + 1:
                self._blocks.add_run(height - 1, block_time)
            self._confirm_block(list(raws), block_time, validate=validate)
            block_hash = self._blocks.hash_at(height)[::-1].hex()
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
            if not 1 <= depth <= self._blocks.tip:
                raise ValueError(
                    f"cannot reorg {depth} blocks of a chain of height {self._blocks.tip}"
                )
            fork = self._blocks.tip - depth
            blocks = [self._blocks.txids_at(h) for h in range(fork + 1, self._blocks.tip + 1)]
            removed = [txid for txids in blocks for txid in txids]
            for txid in self._blocks.truncate(fork):  # they stay known, unconfirmed
                tx = self._index.txs.get(txid)
                if tx is not None:
                    tx.height = None
            if not keep_txs:
                for txid in reversed(removed):
                    if txid in self._index.txs:
                        self._index.drop(txid)
            new_blocks: list[list[str]] = [[] for _ in blocks] + [removed if keep_txs else []]
            if keep_txs and same_heights:
                new_blocks = [*blocks, []]
            for txids in new_blocks:
                self._confirm_txids(txids, self._blocks.next_time())
        self._changed()

    # --------------------------------------------------------------- internals
    def _changed(self) -> None:
        with self.lock:
            self.version += 1
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def _parse(self, raw: bytes) -> ParsedTx:
        try:
            return parse_tx(raw, self.network.policy_asset)
        except DecodeError as exc:
            raise RegtestRejected("TX decode failed", -22) from exc

    def _confirm_block(self, raws: list[bytes], block_time: int, *, validate: bool) -> list[str]:
        """Confirm transactions in a new block; a rejection leaves the chain as it was
        (except mempool transactions the block's earlier transactions conflicted with)."""
        txids: list[str] = []
        added: list[str] = []
        mempool = dict(self._index.mempool)
        try:
            for raw in raws:
                parsed = self._parse(raw)
                known = self._index.txs.get(parsed.txid)
                if known is not None and known.height is not None:
                    raise RegtestRejected("Transaction already in block chain", -27)
                if parsed.txid in self._index.mempool:
                    del self._index.mempool[parsed.txid]
                elif known is None:
                    if validate:  # a block evicts the mempool transactions it conflicts with
                        for txid in self._index.check_inputs(parsed):
                            self._index.drop(txid)
                    self._index.add(StoredTx(parsed, raw))
                    added.append(parsed.txid)
                txids.append(parsed.txid)
        except RegtestRejected:
            for txid in reversed(added):
                self._index.drop(txid)
            self._index.mempool = {t: None for t in mempool if t in self._index.txs}
            raise
        self._confirm_txids(txids, block_time)
        return txids

    def _confirm_txids(self, txids: list[str], block_time: int) -> int:
        height = self._blocks.append(txids, block_time)
        for pos, txid in enumerate(txids):
            self._index.mempool.pop(txid, None)
            tx = self._index.txs[txid]
            tx.height, tx.pos = height, pos
        return height
