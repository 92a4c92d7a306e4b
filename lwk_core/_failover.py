"""The failover policy of a BackendChain as pure logic: no I/O, no clock, no lock.

The caller passes the time (`now`, monotonic seconds) and reports each outcome; a blocking
chain and an async one drive the same policy.
"""

from __future__ import annotations

from ._errors import BroadcastRejected

__all__ = ["ALREADY_KNOWN", "FailoverPolicy", "relayed_before", "relayed_txid"]

ALREADY_KNOWN = ("txn-already-in-mempool", "txn-already-known", "already in block chain")
"""Node reject reasons meaning the transaction is already known."""


class FailoverPolicy:
    """Which of `count` backends to try, in what order.

    Backends are tried in the caller's order, those that failed less than `cooldown`
    seconds ago last (still tried when every one is cooling down). With `private=N` the
    first N are the caller's own servers: calls that reveal the wallet (scans, transaction
    lookups) never fall back from them to the others.
    """

    def __init__(self, count: int, *, cooldown: float = 30.0, private: int = 0) -> None:
        if count < 1:
            raise ValueError("a BackendChain needs at least one backend")
        if not 0 <= private <= count:
            raise ValueError("private must be between 0 and the number of backends")
        if cooldown < 0:
            raise ValueError("cooldown must not be negative")
        self.count = count
        self.cooldown = cooldown
        self.private = private
        self._failed_until: dict[int, float] = {}

    def order(self, now: float, *, reveals_wallet: bool) -> list[int]:
        """Indexes to try: those not cooling down first, only private ones if it reveals."""
        candidates = range(self.private if reveals_wallet and self.private else self.count)
        ready = [i for i in candidates if self._failed_until.get(i, 0.0) <= now]
        return ready + [i for i in candidates if i not in ready]

    def failed(self, index: int, now: float) -> None:
        """Backend `index` failed at `now`: it cools down."""
        self._failed_until[index] = now + self.cooldown

    def succeeded(self, index: int) -> None:
        """Backend `index` answered: it is ready again."""
        self._failed_until.pop(index, None)


def relayed_before(reason: str, attempt: int) -> bool:
    """Whether a broadcast rejection on `attempt` (1 = first backend tried) is a success.

    An earlier backend that failed mid-request may have relayed the transaction: a later
    "already known" rejection then means it went through.
    """
    return attempt > 1 and any(known in reason for known in ALREADY_KNOWN)


def relayed_txid(rejection: BroadcastRejected, attempt: int, txid: str) -> str:
    """`txid` if `rejection` on `attempt` means an earlier backend relayed it, else the
    rejection is final and raised."""
    if relayed_before(rejection.reason, attempt):
        return txid
    raise rejection
