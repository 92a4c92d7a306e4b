"""The scan as a pure state machine: one sync of a wallet's state, with no I/O.

`scan_steps(state, ...)` is a generator: it yields typed requests (`_requests.py`), takes
each reply through `send()`, checks it, and returns the `Update` (None when nothing
changed). It holds no client and opens no socket, so the same steps run under the blocking
driver (`_sync.py`) and any async one, and tests can feed it scripted replies.

The algorithm follows LWK's so results match it: per chain, scripts are derived in batches
of `gap_limit` and their histories fetched; a chain's scan stops after a batch with no
history once it has covered `to_index` and the wallet's last used index. Then unknown
transactions are fetched (each txid re-hashed), wallet outputs unblinded, and block times
fetched where needed. Beyond LWK: all chains share each round's request, deletions and
height changes alone make an Update, an index once used stays used, histories are checked
against the tip, and block times follow reorgs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import (
    Generator,
    Mapping,
    MutableMapping,
    Sequence,
)
from typing import Any

from ._blocksign import Federation
from ._discovery import Discovery, Progress, ScanLimits
from ._errors import BackendProtocolError, DecodeError, InvalidArgument, UnblindError
from ._header import BlockHeader
from ._proofs import Verification, check_headers, check_proofs
from ._replies import check_tip, decode_fetched
from ._requests import (
    GetHeaders,
    GetMerkleProofs,
    GetTip,
    GetTransactions,
    Request,
    Unblind,
)
from ._state import WolletState
from ._transaction import Transaction, TxOut
from ._types import OutPoint, Tip, TxOutSecrets
from ._update import Update

__all__ = ["DEFAULT_LIMITS", "REORG_WINDOW", "Progress", "ScanLimits", "Steps", "scan_steps"]

REORG_WINDOW = 10
"""How far below the wallet's confirmed transactions a tip may be before the backend is
refused as stale or lying (Liquid's signed blocks do not reorganise deeper than a block or
two); also how deep block times are re-checked after a reorg."""

Steps = Generator[Request, Any, "Update | None"]
"""What `scan_steps` returns: send each reply in, catch StopIteration for the Update."""

_UNBLIND_CHUNK = 64  # outputs per Unblind request: progress as it goes, a loop never stalls
_TX_CHUNK = 400  # txids per request: progress as it goes (lwk-electrum keeps 400 in flight)

log = logging.getLogger("lwk_core.sync")


DEFAULT_LIMITS = ScanLimits()


def scan_steps(
    state: WolletState,
    *,
    backend: str,
    gap_limit: int = 20,
    to_index: int = 0,
    progress: Progress | None = None,
    tx_cache: MutableMapping[str, Transaction] | None = None,
    unreadable: set[tuple[str, str]] | None = None,
    limits: ScanLimits = DEFAULT_LIMITS,
    verification: Verification | None = None,
) -> Steps:
    """The steps of one scan of `state`; `backend` names the replies' source in errors.

    `tx_cache` (txid -> verified Transaction) lets a failover chain reuse what a failed
    backend already fetched; `unreadable` remembers (txid, backend) pairs whose wallet
    outputs did not unblind, so that the same backend is not asked for them every scan.
    `verification`: the block signers whose signatures each header asked must carry, and
    whether confirmations are proven with Merkle proofs (SPV); see `_proofs`.
    """
    if not 1 <= gap_limit <= limits.max_new_indexes:
        raise InvalidArgument(f"gap_limit must be between 1 and {limits.max_new_indexes}")
    if not 0 <= to_index < 2**31:
        raise InvalidArgument("to_index must be between 0 and 2^31-1")
    found = Discovery(
        state,
        backend=backend,
        gap_limit=gap_limit,
        to_index=to_index,
        limits=limits,
        progress=progress or (lambda stage, done, total: None),
    )
    scan = _Scan(
        found,
        tx_cache if tx_cache is not None else {},
        unreadable if unreadable is not None else set(),
        verification or Verification(),
    )
    return scan.steps()


class _Scan:
    """The state of one scan between its requests."""

    tip: Tip

    def __init__(
        self,
        found: Discovery,
        tx_cache: MutableMapping[str, Transaction],
        unreadable: set[tuple[str, str]],
        verification: Verification,
    ) -> None:
        self.found = found
        self.verification = verification
        self.state = found.state
        self.backend = found.backend
        self.progress = found.progress
        self.tx_cache = tx_cache
        self.unreadable = unreadable

    def error(self, message: str) -> BackendProtocolError:
        return BackendProtocolError(message, backend=self.backend)

    def steps(self) -> Steps:
        yield from self.found.steps()
        # The tip after the histories: a backend that keeps the tip from pushed headers has
        # by now read every header its server sent before answering them.
        yield from self._take_tip()
        fetched = yield from self._fetch_txs()
        unblinded = yield from self._unblind(fetched)
        self.unreadable.update(
            (tx.txid, self.backend) for tx in fetched if self._has_blinded_gap(tx, unblinded)
        )
        # A re-fetched tx counts as new only if it now unblinds something (else the same
        # badly blinded payment would make every rescan return an Update).
        progressed = {outpoint.txid for outpoint in unblinded}
        new_txs = [tx for tx in fetched if tx.txid not in self.state.txs or tx.txid in progressed]
        timestamps = yield from self._timestamps()
        return self._update(new_txs, unblinded, timestamps)

    # -- the tip -----------------------------------------------------------------------

    def _take_tip(self) -> Generator[Request, Any, None]:
        """Take the backend's tip unless it is stale or lying. Far below the wallet's
        confirmed history it would delete it (not compared with the wallet's tip, which one
        undetected liar could inflate). Below a history just found, a block may have
        arrived mid-scan: asked once more, then refused."""
        tip = check_tip((yield GetTip()), self.error)
        confirmed = [h for h in self.state.heights.values() if h is not None]
        if confirmed and tip.height + REORG_WINDOW < max(confirmed):
            raise self.error(
                f"tip at height {tip.height} is more than a reorg window "
                f"({REORG_WINDOW} blocks) below transactions confirmed at {max(confirmed)}: "
                "a stale or lying server"
            )
        found = max((h for h in self.found.txid_height.values() if h is not None), default=0)
        if found > tip.height:
            tip = check_tip((yield GetTip()), self.error)
            if tip.height < found:
                raise self.error(f"history claims height {found} above the tip {tip.height}")
        self.tip = tip

    # -- transactions and unblinding ---------------------------------------------------

    def _fetch_txs(self) -> Generator[Request, Any, list[Transaction]]:
        """Unknown txs, and known ones with a wallet output that never unblinded.

        A txid does not commit to witnesses, so a server can serve a tx whose range proof
        was tampered with: its wallet output then fails to unblind. Such txs are fetched
        again once from each other backend, and when their height changes (e.g. once they
        confirm); not on every scan, so a payment blinded to another key costs no request
        per scan.
        """
        state = self.state
        missing = sorted(txid for txid in self.found.txid_height if txid not in state.txs)
        heights = state.heights
        retry = sorted(
            txid
            for txid in state.unread
            if txid in self.found.txid_height
            and (
                heights.get(txid) != self.found.txid_height[txid]
                or (txid, self.backend) not in self.unreadable
            )
        )
        wanted = missing + retry
        to_fetch = [txid for txid in wanted if txid not in self.tx_cache]
        done = len(wanted) - len(to_fetch)
        self.progress("transactions", done, len(wanted))
        for first in range(0, len(to_fetch), _TX_CHUNK):
            chunk = to_fetch[first : first + _TX_CHUNK]
            raws = yield GetTransactions(tuple(chunk))
            for tx in decode_fetched(chunk, raws, self.error):
                self.tx_cache[tx.txid] = tx
            done += len(chunk)
            self.progress("transactions", done, len(wanted))
        return [self.tx_cache[txid] for txid in wanted]

    def _has_blinded_gap(self, tx: Transaction, unblinded: Mapping[OutPoint, TxOutSecrets]) -> bool:
        """Whether a blinded output of `tx` to a wallet script (known or newly derived) is
        unblinded neither in the wallet nor in `unblinded`."""
        scripts = self.state.scripts
        new = self.found.new_scripts
        return any(
            out.is_blinded
            and (out.script_pubkey in scripts or out.script_pubkey in new)
            and OutPoint(tx.txid, vout) not in self.state.unblinded
            and OutPoint(tx.txid, vout) not in unblinded
            for vout, out in enumerate(tx.outputs)
        )

    def _unblind_jobs(self, txs: Sequence[Transaction]) -> list[tuple[OutPoint, TxOut]]:
        """Wallet outputs to unblind: of the new txs, and of known txs at newly derived
        scripts (a known tx may pay a script beyond the range scanned before, e.g. found
        later with `to_index`: LWK never unblinds those)."""
        state, new_scripts = self.state, self.found.new_scripts
        scripts = state.scripts
        outputs = [  # an OutPoint only for the wallet's outputs: most outputs pay others
            (OutPoint(tx.txid, vout), out)
            for tx in txs
            for vout, out in enumerate(tx.outputs)
            if out.script_pubkey in scripts or out.script_pubkey in new_scripts
        ]
        for script in new_scripts:
            for outpoint in state.outputs_elsewhere.get(script, ()):
                outputs.append((outpoint, state.txs[outpoint.txid].outputs[outpoint.vout]))
        jobs: dict[OutPoint, TxOut] = {}  # a new tx may pay a new script: one job per output
        for outpoint, out in outputs:
            if (
                out.is_blinded
                and (out.script_pubkey in state.scripts or out.script_pubkey in new_scripts)
                and outpoint not in state.unblinded
            ):
                jobs.setdefault(outpoint, out)  # a refetched tx first: its proofs
        return list(jobs.items())

    def _unblind(
        self, txs: Sequence[Transaction]
    ) -> Generator[Request, Any, dict[OutPoint, TxOutSecrets]]:
        descriptor = self.state.descriptor
        if not descriptor.can_unblind:
            return {}  # a public blinding key: addresses and history, but no amounts
        jobs = self._unblind_jobs(txs)
        unblinded: dict[OutPoint, TxOutSecrets] = {}
        self.progress("unblind", 0, len(jobs))
        for first in range(0, len(jobs), _UNBLIND_CHUNK):
            chunk = jobs[first : first + _UNBLIND_CHUNK]
            keys = [(out, descriptor.blinding_private_key(out.script_pubkey)) for _, out in chunk]
            results = yield Unblind(tuple(keys))
            for (outpoint, _), result in zip(chunk, results, strict=True):
                if isinstance(result, UnblindError):
                    # As LWK: a sender may have blinded badly; the output is not counted.
                    log.info("output %s cannot be unblinded, ignored", outpoint)
                else:
                    unblinded[outpoint] = result
            self.progress("unblind", first + len(chunk), len(jobs))
        return unblinded

    # -- block times -------------------------------------------------------------------

    def _timestamps(self) -> Generator[Request, Any, dict[int, int]]:
        """Block times that are new or changed: of the tip, and of each confirmation height
        not known yet or whose block a reorg may have replaced since its time was cached.

        Times come from headers (checked, see `_proofs`), the tip's included; times given
        with histories are taken only when no block signers are set (they are the server's
        word). With SPV, confirmations not proven yet are proven against the same headers.
        """
        known = self.state.timestamps
        signers = self.verification.signers()
        heights = {h for h in self.found.txid_height.values() if h is not None}
        found = {}
        if signers is None:
            found = {h: t for h, t in self.found.block_times.items() if h in heights}
        found[self.tip.height] = self.tip.timestamp
        stale = self._maybe_replaced(heights)
        to_prove = self._unproven()
        to_fetch = {h for h in heights if (h not in known or h in stale) and h not in found}
        to_fetch.update(h for _, h in to_prove)
        headers = yield from self._headers(sorted(to_fetch), signers)
        if to_prove:
            proofs = yield GetMerkleProofs(tuple(to_prove))
            check_proofs(proofs, to_prove, headers, backend=self.backend)
            self.verification.proven.update(to_prove)
        found.update((h, header.time) for h, header in headers.items())
        return {h: t for h, t in found.items() if known.get(h) != t}

    def _unproven(self) -> list[tuple[str, int]]:
        """The confirmations to prove with SPV: those not proven by this client yet."""
        if not self.verification.spv:
            return []
        confirmed = {(txid, h) for txid, h in self.found.txid_height.items() if h is not None}
        return sorted(confirmed - self.verification.proven)

    def _headers(
        self, heights: list[int], signers: Federation | None
    ) -> Generator[Request, Any, dict[int, BlockHeader]]:
        """The checked headers at `heights`; the tip's is taken from the tip (checked by
        the client) rather than asked again."""
        headers = {}
        if self.tip.height in heights and self.tip.header:
            with contextlib.suppress(DecodeError):  # unreadable: asked like any other
                headers[self.tip.height] = BlockHeader.parse(self.tip.header)
        asked = [h for h in heights if h not in headers]
        if asked:
            reply = yield GetHeaders(tuple(asked))
            headers.update(check_headers(reply, asked, signers, backend=self.backend))
        return headers

    def _maybe_replaced(self, heights: set[int]) -> set[int]:
        """Heights whose block may differ from the one the wallet saw: none when the tip is
        the same or extends the wallet's tip by one block, else those within the reorg
        window below the wallet's tip (and above it)."""
        old = self.state.tip
        if old is None or old.hash == self.tip.hash:
            return set()
        if self.tip.height == old.height + 1 and self.tip.header:
            try:
                if BlockHeader.parse(self.tip.header).prev_hash == old.hash:
                    return set()
            except ValueError:
                pass  # an unreadable header proves nothing: assume a reorg
        return {h for h in heights if h > old.height - REORG_WINDOW}

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
            for txid, h in self.found.txid_height.items()
            if txid not in heights or heights[txid] != h
        }
        deleted = {txid for txid in heights if txid not in self.found.txid_height}
        old_tip = self.state.tip
        tip_changed = old_tip is None or (old_tip.height, old_tip.hash) != (
            self.tip.height,
            self.tip.hash,
        )
        last_unused_changed = any(
            self.state.last_unused.get(chain, 0) != value
            for chain, value in self.found.last_unused.items()
        )
        if not (
            new_txs
            or changed_heights
            or deleted
            or timestamps
            or self.found.new_scripts
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
            scripts=self.found.new_scripts,
            unblinded=unblinded,
            last_unused=self.found.last_unused,
        )
