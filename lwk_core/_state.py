"""WolletState: the immutable snapshot of what a wallet knows, and how an Update changes it."""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterable, Mapping
from functools import cached_property

import attrs

from ._descriptor import WolletDescriptor
from ._errors import NetworkMismatch, UpdateError
from ._network import Chain, Network
from ._transaction import Transaction
from ._types import OutPoint, Tip, TxOutSecrets
from ._update import Update

__all__ = ["WolletState"]


def _index_elsewhere(
    index: dict[bytes, tuple[OutPoint, ...]],
    txs: Iterable[Transaction],
    scripts: Mapping[bytes, object],
) -> None:
    """Add the outputs of `txs` to scripts not in `scripts` to `index` (script -> outpoints);
    fee outputs (an empty script) pay no one."""
    found: dict[bytes, list[OutPoint]] = {}
    for tx in txs:
        for vout, out in enumerate(tx.outputs):
            if out.script_pubkey and out.script_pubkey not in scripts:
                found.setdefault(out.script_pubkey, []).append(OutPoint(tx.txid, vout))
    for script, outpoints in found.items():
        index[script] = (*index.get(script, ()), *outpoints)


def _network_genesis(state: WolletState) -> str | None:
    """The genesis a wallet follows from the start: its network's, except on regtest,
    where chains of any genesis exist and the first server synced from pins one."""
    return None if state.network is Network.ELEMENTS_REGTEST else state.network.genesis_hash


@attrs.frozen(slots=False)
class WolletState:
    """An immutable snapshot of everything the wallet knows; apply_update replaces it.

    `genesis_hash` is the chain the wallet follows (None: a regtest wallet not pinned yet).
    """

    descriptor: WolletDescriptor
    network: Network
    txs: Mapping[str, Transaction] = attrs.field(factory=dict)
    heights: Mapping[str, int | None] = attrs.field(factory=dict)
    timestamps: Mapping[int, int] = attrs.field(factory=dict)
    scripts: Mapping[bytes, tuple[Chain, int]] = attrs.field(factory=dict)
    unblinded: Mapping[OutPoint, TxOutSecrets] = attrs.field(factory=dict)
    last_unused: Mapping[Chain, int] = attrs.field(factory=dict)
    tip: Tip | None = None
    genesis_hash: str | None = attrs.field(default=attrs.Factory(_network_genesis, takes_self=True))

    @genesis_hash.validator
    def _check_genesis(self, _: object, value: str | None) -> None:
        network_genesis = _network_genesis(self)
        if network_genesis is not None and value != network_genesis:
            raise NetworkMismatch(
                f"{self.network.value} starts at genesis {network_genesis}, not {value}"
            )

    @cached_property
    def paths(self) -> dict[tuple[Chain, int], bytes]:
        return {path: spk for spk, path in self.scripts.items()}

    @cached_property
    def status(self) -> str:
        """A digest of the wallet's history and tip: Updates name the state they start from."""
        h = hashlib.sha256()
        for txid in sorted(self.heights):
            h.update(f"{txid}:{self.heights[txid]};".encode())
        if self.tip is not None:
            h.update(f"tip:{self.tip.height}:{self.tip.hash}".encode())
        return h.hexdigest()

    @cached_property
    def unread(self) -> frozenset[str]:
        """Txs with a blinded output to a wallet script that never unblinded (blinded to
        another key, or served with an altered range proof)."""
        return frozenset(txid for txid in self.txs if self._has_unread_output(txid))

    def _has_unread_output(self, txid: str) -> bool:
        return any(
            out.is_blinded
            and out.script_pubkey in self.scripts
            and OutPoint(txid, vout) not in self.unblinded
            for vout, out in enumerate(self.txs[txid].outputs)
        )

    @cached_property
    def spent(self) -> frozenset[OutPoint]:
        return frozenset(txin.prevout for txid in self.heights for txin in self.txs[txid].inputs)

    @cached_property
    def outputs_elsewhere(self) -> Mapping[bytes, tuple[OutPoint, ...]]:
        """The outputs of the wallet's txs to scripts it has not derived, by script: a script
        derived later (a longer gap, `to_index`) may have been paid by a known tx."""
        index: dict[bytes, tuple[OutPoint, ...]] = {}
        _index_elsewhere(index, self.txs.values(), self.scripts)
        return index

    def script_batch(self, chain: Chain, start: int, count: int) -> list[bytes]:
        """The already derived scripts of `chain` from `start`, up to `count`, contiguous."""
        batch = []
        for index in range(start, start + count):
            script = self.paths.get((chain, index))
            if script is None:
                break
            batch.append(script)
        return batch

    def applied(self, update: Update) -> WolletState:
        """The state after `update`, validated; raises UpdateError and changes nothing."""
        if update.wallet_id != self.descriptor.wallet_id:
            raise UpdateError("the update was made for another wallet")
        self._check_chain(update)
        if update.base_status != self.status:
            raise UpdateError(
                "the update was computed from another state of this wallet "
                "(applied twice, or out of order); sync again"
            )
        txs = dict(self.txs)
        for tx in update.new_txs:
            txs[tx.txid] = tx
        for txid, height in update.txid_height_new.items():
            if txid not in txs:
                raise UpdateError(f"the update gives a height for unknown transaction {txid}")
            if height is not None and not 0 < height <= update.tip.height:
                raise UpdateError(f"transaction {txid} at height {height} is above the tip")
        scripts = {**self.scripts, **update.scripts}
        for outpoint in update.unblinded:
            if outpoint.txid not in txs:
                raise UpdateError(f"the update unblinds an output of unknown tx {outpoint.txid}")
            outputs = txs[outpoint.txid].outputs
            if outpoint.vout >= len(outputs) or outputs[outpoint.vout].script_pubkey not in scripts:
                raise UpdateError(f"the update unblinds {outpoint}, not an output of the wallet")
        heights = {t: h for t, h in self.heights.items() if t not in update.txid_height_delete}
        heights.update(update.txid_height_new)
        state = WolletState(
            descriptor=self.descriptor,
            network=self.network,
            txs=txs,
            heights=heights,
            timestamps={**self.timestamps, **update.timestamps},
            scripts=scripts,
            unblinded={**self.unblinded, **update.unblinded},
            last_unused={
                chain: max(self.last_unused.get(chain, 0), update.last_unused.get(chain, 0))
                for chain in self.last_unused.keys() | update.last_unused.keys()
            },
            tip=update.tip,
            genesis_hash=self.genesis_hash or update.genesis_hash,
        )
        self._carry_derived(state, update)
        state.__dict__["_made_from"] = (weakref.ref(self), update)  # not a field: evolve drops it
        return state

    def _carry_derived(self, new: WolletState, update: Update) -> None:
        """Give `new` (this state with `update` applied) the sets derived here, changed by
        what the update adds: computed afresh, each is a pass over every transaction, on
        every scan of a large wallet. Transactions, scripts and secrets are only ever added;
        only deleted history can shrink `spent`, which is then computed afresh."""
        derived = self.__dict__
        fresh = [tx for tx in update.new_txs if tx.txid not in self.txs]
        new_scripts = [script for script in update.scripts if script not in self.scripts]
        if "outputs_elsewhere" in derived:
            index = dict(self.outputs_elsewhere)
            for script in new_scripts:
                index.pop(script, None)
            _index_elsewhere(index, fresh, new.scripts)
            new.__dict__["outputs_elsewhere"] = index
            if "unread" in derived:
                paid_later = (
                    op.txid for s in new_scripts for op in self.outputs_elsewhere.get(s, ())
                )
                candidates = {*self.unread, *(tx.txid for tx in fresh), *paid_later}
                new.__dict__["unread"] = frozenset(filter(new._has_unread_output, candidates))
        if "spent" in derived and not update.txid_height_delete:
            added = (txid for txid in new.heights if txid not in self.heights)
            prevouts = (txin.prevout for txid in added for txin in new.txs[txid].inputs)
            new.__dict__["spent"] = self.spent.union(prevouts)

    def made_from(self, state: WolletState) -> Update | None:
        """The update that `state.applied` made this state with, if it was made so: a store
        then saves what the update changed without comparing the whole states."""
        origin = self.__dict__.get("_made_from")
        if origin is None or origin[0]() is not state:
            return None
        update: Update = origin[1]
        return update

    def follows(self, genesis_hash: str) -> bool:
        """Whether a server of the chain starting at `genesis_hash` serves this wallet's:
        the pinned chain; for a regtest wallet not pinned yet, any chain but the Liquid
        networks'."""
        if self.genesis_hash is None:
            return Network.from_genesis_hash(genesis_hash) in (None, self.network)
        return genesis_hash == self.genesis_hash

    def _check_chain(self, update: Update) -> None:
        """An update must come from the wallet's chain; one whose server's chain was not
        verified may add history but never delete it (another chain's empty history would
        erase the wallet's)."""
        if update.genesis_hash is None:
            if update.txid_height_delete:
                raise UpdateError(
                    "an update from a server whose chain was not verified cannot delete "
                    "history; sync through a Client or BackendChain"
                )
        elif not self.follows(update.genesis_hash):
            pinned = f"the chain with genesis {self.genesis_hash}" if self.genesis_hash else ""
            raise UpdateError(
                f"the update comes from the chain with genesis {update.genesis_hash}; this "
                f"{self.network.value} wallet follows {pinned or 'a regtest chain'}"
            )
