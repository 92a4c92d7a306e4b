"""Which scripts a wallet uses: the history part of a scan, with LWK's gap rule.

Per chain, scripts are derived in batches of `gap_limit` and their histories asked; a
chain's scan stops after a batch with no history once it has covered `to_index` and the
wallet's last used index (which needs only which scripts are used: where the backend tells
that first, a round's histories are asked with the next round's usage). All chains share
each round's request, the first round covers every batch the rule is sure to reach, and a
chain used at every index of its last batch is asked further ahead (fewer round trips; what
lies past LWK's stop is not taken). A whole-descriptor scan (where the backend offers one)
answers batches without a request. Everything stays within the scan's limits.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from ._errors import BackendProtocolError, ScanLimitExceeded
from ._network import Chain
from ._replies import check_histories, check_usage
from ._requests import GetHistories, GetUsage, Request, ScanDescriptor
from ._state import WolletState
from ._types import USED, HistoryEntry, Progress, Used

__all__ = ["MAX_AHEAD", "Discovery", "Progress", "ScanLimits"]

MAX_AHEAD = 4
"""Batches of one chain a round may ask at most (see `_ahead`)."""


@attrs.frozen
class ScanLimits:
    """Bounds that keep one scan finite whatever a server claims (a ScanLimitExceeded names
    the one reached; a chain then fails over)."""

    max_new_indexes: int = 10_000
    """Indexes a chain may be scanned beyond `to_index` and the wallet's last used index."""
    max_history_per_script: int = 50_000
    """History entries of one script."""
    max_history_entries: int = 500_000
    """History entries of all scripts of one scan."""


class Discovery:
    """What the histories of one scan found: each tx's height, block times the backend
    gave with them, newly derived scripts, and the last used index per chain."""

    def __init__(
        self,
        state: WolletState,
        *,
        backend: str,
        gap_limit: int,
        to_index: int,
        limits: ScanLimits,
        progress: Progress,
    ) -> None:
        self.state = state
        self.backend = backend
        self.gap_limit = gap_limit
        self.limits = limits
        self.progress = progress
        self.txid_height: dict[str, int | None] = {}
        self.block_times: dict[int, int] = {}
        self.new_scripts: dict[bytes, tuple[Chain, int]] = {}
        self.entries = 0
        self.to_index = to_index
        # An index once used stays used (as LWK): when the txs that used it vanish, its
        # address was still given out, and its scripts may still hold counted outputs.
        self.last_unused = {c: state.last_unused.get(c, 0) for c in state.descriptor.chains}
        self.goal = {c: max(to_index, n) for c, n in self.last_unused.items()}
        self.usage_offered = True  # until the backend answers a GetUsage with None

    def error(self, message: str) -> BackendProtocolError:
        return BackendProtocolError(message, backend=self.backend)

    def steps(self) -> Generator[Request, Any, None]:
        known = yield from self._descriptor_histories()
        yield from self._histories(known)

    def _descriptor_histories(
        self,
    ) -> Generator[Request, Any, dict[Chain, list[list[HistoryEntry]]]]:
        """Histories of a whole-descriptor scan, where the backend offers one; else none."""
        request = ScanDescriptor(self.state.descriptor, self.gap_limit, self.to_index)
        reply = yield request
        if reply is None:
            return {}
        if not isinstance(reply, Mapping) or not set(reply) <= set(self.last_unused):
            raise self.error("a descriptor scan answered for chains the wallet does not have")
        known = {}
        for chain, histories in reply.items():
            count = len(histories) if isinstance(histories, Sequence) else -1
            known[chain] = self._checked(histories, count)
        return known

    def _certain_batches(self, chain: Chain) -> int:
        """How many batches LWK's loop scans whatever the histories say: every batch that
        starts below goal - 1, plus the next one."""
        if not self.state.descriptor.has_wildcard:
            return 1
        return max(0, -(-(self.goal[chain] - 1) // self.gap_limit)) + 1

    def _histories(
        self, known: Mapping[Chain, list[list[HistoryEntry]]]
    ) -> Generator[Request, Any, None]:
        """Each chain batch by batch with LWK's stop rule, all chains in one request per
        round, the first round covering every batch the rule is sure to reach (for a rescan:
        every used script and the gap after them, in one round trip). While a chain's last
        batch is used at every index, the next round looks further ahead (see `_ahead`; not
        where a descriptor scan answered); batches past the one where LWK's scan stops are
        asked but not taken. Batches a descriptor scan already answered cost no request.

        The stop rule needs only which scripts are used: a backend telling that before the
        histories (`GetUsage`) gets each round's histories asked with the next round's usage,
        and the last ones after the loop (one round trip per round instead of two)."""
        start = dict.fromkeys(self.last_unused, 0)
        ahead = {c: self._certain_batches(c) for c in self.last_unused}
        pending: list[bytes] = []  # taken scripts told USED: their histories come later
        while ahead:
            plan = [(c, start[c] + k * self.gap_limit) for c, n in ahead.items() for k in range(n)]
            batches = [self._scripts(c, s) for c, s in plan]
            answered = [
                self._known_batch(known, c, s, len(b))
                for (c, s), (b, _) in zip(plan, batches, strict=True)
            ]
            asked = [s for (b, _), a in zip(batches, answered, strict=True) if a is None for s in b]
            told: Iterator[list[HistoryEntry] | Used] = iter(())
            if asked:
                usage, late = yield from self._usage(asked, pending)
                self._record_histories(late)
                pending, told = [], iter(usage)
            done: set[Chain] = set()
            full: dict[Chain, bool] = {}
            for (chain, batch_start), (batch, new), answer in zip(
                plan, batches, answered, strict=True
            ):
                found = answer if answer is not None else [next(told) for _ in batch]
                if chain in done:
                    continue  # beyond where LWK's scan of this chain stops
                start[chain] = batch_start + self.gap_limit
                self.new_scripts.update(new)
                used = [h is USED or bool(h) for h in found]
                full[chain] = all(used)
                pending.extend(s for s, h in zip(batch, found, strict=True) if h is USED)
                self._record_histories(h for h in found if h is not USED)
                if self._record_usage(chain, batch_start, used, known.get(chain, [])):
                    done.add(chain)
            ahead = {
                c: 1 if c in known else _ahead(n, full[c])
                for c, n in ahead.items()
                if c not in done
            }
        if pending:
            self._record_histories(
                self._checked((yield GetHistories(tuple(pending))), len(pending))
            )

    def _usage(
        self, asked: list[bytes], pending: list[bytes]
    ) -> Generator[Request, Any, tuple[list[list[HistoryEntry] | Used], list[list[HistoryEntry]]]]:
        """Per script of `asked`, its history or USED; and the histories of `pending`. Asked
        with GetUsage while the backend offers it; else (None) every history is asked."""
        if self.usage_offered:
            reply = yield GetUsage(tuple(asked), tuple(pending))
            if reply is not None:
                usage, late = check_usage(reply, len(asked), len(pending), self.error)
                self._count([h for h in usage if h is not USED] + late)
                return usage, late
            self.usage_offered = False
        scripts = pending + asked
        histories = self._checked((yield GetHistories(tuple(scripts))), len(scripts))
        return list(histories[len(pending) :]), histories[: len(pending)]

    def _record_histories(self, histories: Iterable[list[HistoryEntry]]) -> None:
        """Take the transactions of histories of scripts taken (and block times given)."""
        for history in histories:
            for entry in history:
                self.txid_height[entry.txid] = entry.height
                if entry.height is not None and entry.block_time is not None:
                    self.block_times[entry.height] = entry.block_time

    def _record_usage(
        self,
        chain: Chain,
        batch_start: int,
        used: list[bool],
        known: list[list[HistoryEntry]],
    ) -> bool:
        """Take which scripts of one batch are used; True when the chain's scan may stop
        after it."""
        indexes = [i for i, u in enumerate(used) if u]
        if indexes:
            self.last_unused[chain] = max(self.last_unused[chain], batch_start + max(indexes) + 1)
        end = batch_start + len(used)
        self.progress("scripts", end, max(self.goal[chain], end))
        if not self.state.descriptor.has_wildcard:
            return True
        if end > self.goal[chain] + self.limits.max_new_indexes:
            raise ScanLimitExceeded(
                f"scripts used beyond index {end} of a chain (limit: max_new_indexes="
                f"{self.limits.max_new_indexes} past the wallet's last used index)",
                backend=self.backend,
            )
        more_known = any(history for history in known[end:])
        return not indexes and not more_known and self.goal[chain] <= 1 + batch_start

    def _known_batch(
        self, known: Mapping[Chain, list[list[HistoryEntry]]], chain: Chain, start: int, size: int
    ) -> list[list[HistoryEntry]] | None:
        histories = known.get(chain, [])
        return histories[start : start + size] if start + size <= len(histories) else None

    def _checked(self, reply: Any, count: int) -> list[list[HistoryEntry]]:
        histories = check_histories(reply, count, self.error)
        self._count(histories)
        return histories

    def _count(self, histories: list[list[HistoryEntry]]) -> None:
        """Count the entries of `histories` against the scan's limits."""
        for history in histories:
            self.entries += len(history)
            if len(history) > self.limits.max_history_per_script:
                raise ScanLimitExceeded(
                    f"a script has {len(history)} history entries (limit: "
                    f"max_history_per_script={self.limits.max_history_per_script})",
                    backend=self.backend,
                )
        if self.entries > self.limits.max_history_entries:
            raise ScanLimitExceeded(
                f"the scan got {self.entries} history entries (limit: "
                f"max_history_entries={self.limits.max_history_entries})",
                backend=self.backend,
            )

    def _scripts(
        self, chain: Chain, start: int
    ) -> tuple[list[bytes], dict[bytes, tuple[Chain, int]]]:
        """A batch's scripts, and those of them newly derived (recorded once it is taken)."""
        size = self.gap_limit if self.state.descriptor.has_wildcard else 1  # one address
        known = self.state.script_batch(chain, start, size)
        if len(known) == size:
            return known, {}
        first = start + len(known)
        derived = self.state.descriptor.script_pubkeys(chain, first, size - len(known))
        new = {script: (chain, first + offset) for offset, script in enumerate(derived)}
        return known + derived, new


def _ahead(asked: int, full: bool) -> int:
    """Batches of a chain to ask in the next round: one more than this round's (up to
    `MAX_AHEAD`) while its last batch was used at every index (a wallet handing out
    addresses in order goes on), else one (LWK's step). A dense wallet of n batches takes
    about sqrt(2n) rounds instead of n; past its end, at most `MAX_AHEAD - 1` batches are
    asked that LWK would not ask."""
    return min(asked + 1, MAX_AHEAD) if full else 1
