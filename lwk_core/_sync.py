"""The sync orchestrator: one scan of a wallet through one backend, producing an Update.

It follows LWK's algorithm so results match it exactly: per chain, scripts are derived in
batches of `gap_limit` and their histories fetched; the scan of a chain stops after a
batch with no history once it has covered `to_index` and the last known used index. Then
only unknown transactions are fetched (each txid re-hashed), wallet outputs unblinded, and
block times fetched for heights not known yet. Beyond LWK, deletions and height changes
alone also make an Update, and histories are checked against the tip.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, MutableMapping, Sequence
from typing import TYPE_CHECKING

from ._errors import BackendProtocolError, DecodeError, TxidMismatch, UnblindError
from ._network import Chain
from ._transaction import Transaction
from ._types import HistoryEntry, OutPoint, Tip, TxOutSecrets
from ._unblind import unblind_many
from ._update import Update

if TYPE_CHECKING:
    from ._source import ScanSource
    from ._state import WolletState
    from ._types import Progress
    from ._wollet import Wollet

__all__ = ["REORG_WINDOW", "decode_fetched", "scan"]

REORG_WINDOW = 10
"""How far below the wallet's confirmed transactions a tip may be before the backend is
refused as stale or lying (Liquid's signed blocks do not reorganise deeper than a block or
two)."""

log = logging.getLogger("lwk_core.sync")


def decode_fetched(
    client: ScanSource, txids: Sequence[str], raws: Sequence[bytes]
) -> list[Transaction]:
    """Parse transactions a backend returned and check each hashes to the txid asked for."""
    if len(raws) != len(txids):
        raise BackendProtocolError(
            f"asked for {len(txids)} transactions, got {len(raws)}", backend=client.name
        )
    txs = []
    for txid, raw in zip(txids, raws, strict=True):
        try:
            txs.append(Transaction.from_bytes(raw, expected_txid=txid))
        except TxidMismatch as exc:
            raise BackendProtocolError(
                f"returned a transaction hashing to {exc.actual} for {txid}", backend=client.name
            ) from exc
        except DecodeError as exc:
            raise BackendProtocolError(
                f"returned undecodable bytes for transaction {txid}: {exc}", backend=client.name
            ) from exc
    return txs


class _Scan:
    """The state of one scan; `run` returns the Update or None."""

    def __init__(
        self,
        client: ScanSource,
        state: WolletState,
        *,
        gap_limit: int,
        to_index: int,
        progress: Progress | None,
        tx_cache: MutableMapping[str, Transaction] | None = None,
    ) -> None:
        if gap_limit < 1:
            raise ValueError("gap_limit must be at least 1")
        if to_index < 0:
            raise ValueError("to_index must not be negative")
        self.client = client
        self.state = state
        self.gap_limit = gap_limit
        self.to_index = to_index
        self.progress = progress or (lambda stage, done, total: None)
        self.tx_cache = tx_cache if tx_cache is not None else {}
        self.txid_height: dict[str, int | None] = {}
        self.block_times: dict[int, int] = {}
        self.new_scripts: dict[bytes, tuple[Chain, int]] = {}
        self.last_unused: dict[Chain, int] = {chain: 0 for chain in state.descriptor.chains}

    def run(self) -> Update | None:
        self._scan_histories()
        # The tip after the histories: a backend that keeps the tip from pushed headers has
        # by now read every header its server sent before answering them.
        self._set_tip(self.client.tip())
        fetched = self._fetch_new_txs()
        unblinded = self._unblind(fetched)
        # A re-fetched tx counts as new only if it now unblinds something (else the same
        # badly blinded payment would make every rescan return an Update).
        progressed = {outpoint.txid for outpoint in unblinded}
        new_txs = [tx for tx in fetched if tx.txid not in self.state.txs or tx.txid in progressed]
        timestamps = self._timestamps()
        return self._update(new_txs, unblinded, timestamps)

    # -- histories ---------------------------------------------------------------------

    def _certain_batches(self, chain: Chain) -> int:
        """How many batches LWK's loop scans whatever the histories say: every batch that
        starts below goal - 1, plus the next one."""
        if not self.state.descriptor.has_wildcard:
            return 1
        goal = max(self.to_index, self.state.last_unused.get(chain, 0))
        return max(0, -(-(goal - 1) // self.gap_limit)) + 1

    def _scan_histories(self) -> None:
        """Each chain batch by batch with LWK's stop rule, but all chains in one request per
        round, the first round covering every batch the rule is sure to reach (for a rescan:
        every used script and the gap after them, in one round trip)."""
        chains = list(self.state.descriptor.chains)
        goal = {c: max(self.to_index, self.state.last_unused.get(c, 0)) for c in chains}
        start = dict.fromkeys(chains, 0)
        ahead = {c: self._certain_batches(c) for c in chains}
        while ahead:
            plan = [(c, start[c] + k * self.gap_limit) for c, n in ahead.items() for k in range(n)]
            batches = [self._scripts(c, batch_start) for c, batch_start in plan]
            scripts = [script for batch in batches for script in batch]
            histories = self.client.scan_scripts(scripts)
            if len(histories) != len(scripts):
                raise BackendProtocolError(
                    f"asked for {len(scripts)} histories, got {len(histories)}",
                    backend=self.client.name,
                )
            done: set[Chain] = set()
            offset = 0
            for (c, batch_start), batch in zip(plan, batches, strict=True):
                found_in = histories[offset : offset + len(batch)]
                offset += len(batch)
                used = [i for i, history in enumerate(found_in) if history]
                if used:
                    self.last_unused[c] = batch_start + max(used) + 1
                found = [entry for history in found_in for entry in history]
                end = batch_start + len(batch)
                self.progress("scripts", end, max(goal[c], end))
                for entry in found:
                    self._record(entry)
                start[c] = batch_start + self.gap_limit
                if not self.state.descriptor.has_wildcard or (
                    not found and goal[c] <= 1 + batch_start
                ):
                    done.add(c)  # only the last planned batch of a chain can end it
            ahead = {c: 1 for c in ahead if c not in done}

    def _scripts(self, chain: Chain, start: int) -> list[bytes]:
        known = self.state.script_batch(chain, start, self.gap_limit)
        if len(known) == self.gap_limit:
            return known
        derived = self.state.descriptor.script_pubkeys(
            chain, start + len(known), self.gap_limit - len(known)
        )
        for offset, script in enumerate(derived):
            self.new_scripts[script] = (chain, start + len(known) + offset)
        return known + derived

    def _record(self, entry: HistoryEntry) -> None:
        height = entry.height
        self.txid_height[entry.txid] = height
        if height is not None and entry.block_time is not None:
            self.block_times[height] = entry.block_time

    def _set_tip(self, tip: Tip) -> None:
        """Take `tip` unless it is stale or lying. Far below the wallet's confirmed history it
        would delete it (not compared with the wallet's tip, which one undetected liar could
        inflate). Below a history just found, a block may have arrived mid-scan: asked once
        more, then refused."""
        confirmed = [h for h in self.state.heights.values() if h is not None]
        if confirmed and tip.height + REORG_WINDOW < max(confirmed):
            raise BackendProtocolError(
                f"tip at height {tip.height} is more than a reorg window "
                f"({REORG_WINDOW} blocks) below transactions confirmed at {max(confirmed)}: "
                "a stale or lying server",
                backend=self.client.name,
            )
        found = max((h for h in self.txid_height.values() if h is not None), default=0)
        if found > tip.height:
            tip = self.client.tip()
            if tip.height < found:
                raise BackendProtocolError(
                    f"history claims height {found} above the tip {tip.height}",
                    backend=self.client.name,
                )
        self.tip = tip

    # -- transactions, unblinding, timestamps ------------------------------------------

    def _fetch_new_txs(self) -> list[Transaction]:
        """Unknown txs, and known ones with a wallet output that never unblinded.

        A txid does not commit to witnesses, so a server can serve a tx whose range proof
        was tampered with: its wallet output then fails to unblind. Such txs are fetched
        again on later scans (maybe from another backend) until their outputs unblind.
        """
        missing = sorted(txid for txid in self.txid_height if txid not in self.state.txs)
        retry = sorted(txid for txid in self.txid_height if self._has_blinded_gap(txid))
        wanted = missing + retry
        to_fetch = [txid for txid in wanted if txid not in self.tx_cache]
        self.progress("transactions", len(wanted) - len(to_fetch), len(wanted))
        for tx in self.client.get_txs(to_fetch) if to_fetch else []:
            self.tx_cache[tx.txid] = tx
        self.progress("transactions", len(wanted), len(wanted))
        return [self.tx_cache[txid] for txid in wanted]

    def _has_blinded_gap(self, txid: str) -> bool:
        tx = self.state.txs.get(txid)
        if tx is None:
            return False
        scripts = self.state.scripts
        return any(
            out.is_blinded
            and out.script_pubkey in scripts
            and OutPoint(txid, vout) not in self.state.unblinded
            for vout, out in enumerate(tx.outputs)
        )

    def _unblind(self, txs: Sequence[Transaction]) -> dict[OutPoint, TxOutSecrets]:
        """Unblind wallet outputs of the new txs, and of known txs at newly derived scripts.

        The second part matters when a known transaction pays a script beyond the range
        scanned before (e.g. found later with `to_index`): LWK never unblinds those.
        """
        descriptor = self.state.descriptor
        if not descriptor.can_unblind:
            return {}  # a public blinding key: addresses and history, but no amounts
        every_script = self.state.scripts.keys() | self.new_scripts.keys()
        candidates: list[tuple[Transaction, Collection[bytes]]] = [(tx, every_script) for tx in txs]
        if self.new_scripts:
            candidates += [(tx, self.new_scripts.keys()) for tx in self.state.txs.values()]
        outpoints: list[OutPoint] = []
        jobs = []
        for tx, wallet_scripts in candidates:
            for vout, out in enumerate(tx.outputs):
                outpoint = OutPoint(tx.txid, vout)
                if (
                    out.is_blinded
                    and out.script_pubkey in wallet_scripts
                    and outpoint not in self.state.unblinded
                ):
                    outpoints.append(outpoint)
                    jobs.append((out, descriptor.blinding_private_key(out.script_pubkey)))
        self.progress("unblind", 0, len(jobs))
        results = unblind_many(jobs)
        self.progress("unblind", len(jobs), len(jobs))
        unblinded = {}
        for outpoint, result in zip(outpoints, results, strict=True):
            if isinstance(result, UnblindError):
                # As LWK: a sender may have blinded badly; the output is not counted.
                log.info("output %s cannot be unblinded, ignored", outpoint)
            else:
                unblinded[outpoint] = result
        return unblinded

    def _timestamps(self) -> dict[int, int]:
        known = self.state.timestamps
        heights = {h for h in self.txid_height.values() if h is not None} | {self.tip.height}
        needed = sorted(h for h in heights if h not in known)
        found = {h: self.block_times[h] for h in needed if h in self.block_times}
        if self.tip.height in needed:
            found[self.tip.height] = self.tip.timestamp
        to_fetch = [h for h in needed if h not in found]
        fetched = self.client.block_timestamps(to_fetch)
        if set(fetched) != set(to_fetch):
            raise BackendProtocolError(
                f"asked for {len(to_fetch)} block times, got {len(fetched)}",
                backend=self.client.name,
            )
        found.update(fetched)
        return found

    # -- the Update --------------------------------------------------------------------

    def _update(
        self,
        new_txs: list[Transaction],
        unblinded: dict[OutPoint, TxOutSecrets],
        timestamps: dict[int, int],
    ) -> Update | None:
        heights = self.state.heights
        changed_heights = {
            txid: h
            for txid, h in self.txid_height.items()
            if txid not in heights or heights[txid] != h
        }
        deleted = {txid for txid in heights if txid not in self.txid_height}
        old_tip = self.state.tip
        tip_changed = old_tip is None or (old_tip.height, old_tip.hash) != (
            self.tip.height,
            self.tip.hash,
        )
        last_unused_changed = any(
            self.state.last_unused.get(chain, 0) != value
            for chain, value in self.last_unused.items()
        )
        if not (
            new_txs
            or changed_heights
            or deleted
            or timestamps
            or self.new_scripts
            or last_unused_changed
            or tip_changed
        ):
            return None
        return Update(
            wallet_id=self.state.descriptor.wallet_id,
            base_status=self.state.status,
            tip=self.tip,
            new_txs=new_txs,
            txid_height_new=changed_heights,
            txid_height_delete=deleted,
            timestamps=timestamps,
            scripts=self.new_scripts,
            unblinded=unblinded,
            last_unused=self.last_unused,
        )


def scan(
    client: ScanSource,
    wollet: Wollet,
    *,
    gap_limit: int = 20,
    to_index: int = 0,
    progress: Progress | None = None,
    tx_cache: MutableMapping[str, Transaction] | None = None,
) -> Update | None:
    """Scan `wollet` through `client`; None when nothing at all changed.

    `tx_cache` (txid -> verified Transaction) lets a failover chain reuse what a failed
    backend already fetched.
    """
    return _Scan(
        client,
        wollet.state,
        gap_limit=gap_limit,
        to_index=to_index,
        progress=progress,
        tx_cache=tx_cache,
    ).run()
