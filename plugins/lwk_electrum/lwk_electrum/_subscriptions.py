"""What a connection is subscribed to, and the notifications that change it (no I/O).

Script subscriptions map each script hash to its last status; the headers subscription
keeps the latest tip and when it came. Script notifications that tell nothing new (a script
not subscribed, a status already known) and unknown methods are not counted, so a server
flooding them cannot make a watcher believe a script changed.

A status is current while the connection that answered or pushed it is up: scans answer
such scripts without asking (the server pushes every change of a subscribed script's
status, as the Electrum protocol's `blockchain.scripthash.subscribe` promises). Statuses are
void from the moment the stream is gone until each subscription is answered again on the new
connection (or pushed there), and after a broadcast (the server's push of the broadcast
transaction may still be on its way). Replies and pushes are applied in the order they were
read, so the later of a subscription's reply and a push about the same script wins.

Servers cap the scripts a connection may subscribe (Blockstream/electrs PR #251,
--electrum-subscription-limit, default 10,000; others allow 100): past the cap a new
script's subscribe gets an error reply. The first refusal fixes `limit`, the number the
connection was granted, and no new script is subscribed beyond it until a new connection
(`lost`); scans fetch the other scripts' histories without a subscription.

What changed since a moment (`mark`, `changed_since`): the scripts whose status the server
pushed as changed, or that a scan asked without a subscription (their changes are never
pushed); nothing can be told (None) across a new tip, or across a moment when statuses were
voided. A monitor skips the wallets none of whose scripts changed since their last scan.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

from lwk_core.plugin import BackendProtocolError, Tip

from ._errors import ElectrumError
from ._framing import Call
from ._headers import parse_tip

__all__ = [
    "GET_HISTORY",
    "HEADERS_SUBSCRIBE",
    "SCRIPTHASH_SUBSCRIBE",
    "TIP_MAX_AGE",
    "UNKNOWN",
    "Listener",
    "Subscriptions",
    "is_status",
]

log = logging.getLogger("lwk_electrum")

Listener = Callable[[str, list[Any]], None]
"""Called with (method, params) for each notification, by the call that read it."""

SCRIPTHASH_SUBSCRIBE: Final = "blockchain.scripthash.subscribe"
GET_HISTORY: Final = "blockchain.scripthash.get_history"
HEADERS_SUBSCRIBE: Final = "blockchain.headers.subscribe"
TIP_MAX_AGE: Final = 30.0  # seconds a tip answered or pushed is used without asking again
_PENDING: Final = ""  # the status of a script whose subscription is not answered yet
_NEW_TIP: Final = None  # in the change log: a new tip
_LOG_MAX: Final = 100_000  # change log entries kept; older marks tell nothing
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


class _Unknown(enum.Enum):
    UNKNOWN = "unknown"


UNKNOWN: Final = _Unknown.UNKNOWN
"""`Subscriptions.status` of a script whose status is not current: ask the server."""


def is_status(value: Any) -> bool:
    return value is None or (isinstance(value, str) and _HEX64.fullmatch(value) is not None)


class Subscriptions:
    """The subscriptions of one connection, kept across reconnects until closed."""

    def __init__(self, *, backend: str) -> None:
        self._backend = backend
        self.scripthashes: dict[str, str | None] = {}  # subscribed -> last status, in order
        self._current: set[str] = set()  # whose status the live connection told
        self.headers = False
        self.tip: Tip | None = None  # the latest header answered or pushed, while trusted
        self._tip_time = 0.0  # when it came
        self.listeners: list[Listener] = []
        self.notifications = 0
        self.limit: int | None = None  # scripts granted when the server first refused one
        self._epoch = 0  # bumped when statuses are voided: a mark from before tells nothing
        self._log: list[str | None] = []  # script hashes that changed, or _NEW_TIP, in order
        self._logged = 0  # entries ever logged in this epoch (`_log` holds the last ones)
        self._log_lock = threading.Lock()  # a monitor may read while another thread scans

    def clear(self) -> None:
        self.scripthashes.clear()
        self.void()
        self.headers = False

    def lost(self) -> None:
        """The stream is gone: statuses are void, and the next connection's cap is unknown."""
        self.void()
        self.limit = None

    def void(self) -> None:
        """Forget which statuses are current (the stream is gone, or a broadcast was made):
        scans ask them again until answered or pushed anew."""
        with self._log_lock:
            if self._current or self._logged:  # else no scan since the last void told a thing
                self._epoch += 1
                self._log.clear()
                self._logged = 0
        self._current.clear()

    # -- what changed --------------------------------------------------------------------

    def mark(self) -> tuple[int, int]:
        """Now, for `changed_since`."""
        with self._log_lock:
            return self._epoch, self._logged

    def changed_since(self, mark: tuple[int, int]) -> list[str] | None:
        """The script hashes that changed since `mark` (pushed, or asked without a
        subscription), or None when anything may have: a new tip came, statuses were voided
        (a new connection, a broadcast), or the mark is older than the log kept."""
        epoch, logged = mark
        with self._log_lock:
            first = len(self._log) - (self._logged - logged)
            if epoch != self._epoch or first < 0:
                return None
            changed = self._log[first:]
        if _NEW_TIP in changed:
            return None
        return changed  # type: ignore[return-value]  # no _NEW_TIP in it

    def unsubscribed(self, scripthashes: Sequence[str]) -> None:
        """A scan asked these scripts' histories without a subscription: their changes
        are not pushed, so they count as changed."""
        self._changed(*scripthashes)

    def _changed(self, *entries: str | None) -> None:
        with self._log_lock:
            self._log.extend(entries)
            self._logged += len(entries)
            if len(self._log) > _LOG_MAX:
                del self._log[: len(self._log) - _LOG_MAX // 2]

    def status(self, scripthash: str) -> str | _Unknown | None:
        """The script's current status (None: no history), or UNKNOWN."""
        if scripthash not in self._current:
            return UNKNOWN
        return self.scripthashes.get(scripthash, UNKNOWN)

    # -- scripts -----------------------------------------------------------------------

    def grantable(self, scripthashes: Sequence[str]) -> list[str]:
        """Those of `scripthashes` to subscribe: the ones held (re-subscribing is always
        granted), and new ones while the connection's `limit`, once known, leaves room."""
        room = None if self.limit is None else self.limit - len(self.scripthashes)
        grantable = []
        for sh in dict.fromkeys(scripthashes):
            if sh not in self.scripthashes:
                if room is not None and room <= 0:
                    continue
                room = None if room is None else room - 1
            grantable.append(sh)
        return grantable

    def _refused(self, scripthash: str) -> None:
        """The server did not subscribe a new script: past its cap (the first refusal
        fixes `limit`), or it cannot serve the script (its get_history will tell)."""
        self._current.discard(scripthash)
        del self.scripthashes[scripthash]
        held = sum(1 for status in self.scripthashes.values() if status != _PENDING)
        self.limit = held if self.limit is None else min(self.limit, held)

    def begin(self, scripthashes: Sequence[str]) -> list[str]:
        """Listen to the scripts about to be subscribed (a notification may come before the
        reply); the new ones are returned, for `abort`."""
        new = [sh for sh in dict.fromkeys(scripthashes) if sh not in self.scripthashes]
        self.scripthashes.update((sh, _PENDING) for sh in new)
        return new

    def abort(self, new: Sequence[str]) -> None:
        for sh in new:
            self.scripthashes.pop(sh, None)
            self._current.discard(sh)

    def answered(self, scripthash: str, reply: Any) -> None:
        """A subscribe reply, applied when read: a status, or an ElectrumError (the server
        did not subscribe the script)."""
        if isinstance(reply, ElectrumError):
            if self.scripthashes.get(scripthash) == _PENDING:
                self._refused(scripthash)
            self._current.discard(scripthash)
            return
        if not is_status(reply):
            raise BackendProtocolError(
                "a script status is not a hash or null", backend=self._backend
            )
        self.scripthashes[scripthash] = reply.lower() if reply else None
        self._current.add(scripthash)

    # -- tip ---------------------------------------------------------------------------

    def tip_wanted(self, min_height: int, now: float) -> bool:
        """Whether to ask the tip: never asked, below `min_height` (a history showed a block
        whose notification is still on its way), or older than `TIP_MAX_AGE`."""
        return (
            self.tip is None
            or self.tip.height < min_height
            or not self.headers
            or now - self._tip_time > TIP_MAX_AGE
        )

    def keep_tip(self, tip: Tip, now: float) -> None:
        if self.tip is not None and self.tip.hash != tip.hash:
            self._changed(_NEW_TIP)  # the first is no change: every scan asks the tip
        self.tip, self._tip_time = tip, now

    # -- reconnects --------------------------------------------------------------------

    def restore_calls(self) -> tuple[list[Call], list[str]]:
        """The subscriptions to make again on a new connection: headers, and the scripts."""
        headers: list[Call] = [(HEADERS_SUBSCRIBE, [])] if self.headers else []
        return headers, list(self.scripthashes)

    def restored(self, scripthash: str, reply: Any, now: float) -> None:
        """A restored subscription's reply, dispatched like the notification it stands for
        (a watcher learns what changed while the connection was down); a refused one is
        no longer held (the new connection's cap is lower)."""
        if isinstance(reply, ElectrumError):
            if scripthash in self.scripthashes:
                self._refused(scripthash)
        else:
            self.notify({"method": SCRIPTHASH_SUBSCRIBE, "params": [scripthash, reply]}, now)

    # -- notifications -----------------------------------------------------------------

    def notify(self, msg: dict[str, Any], now: float) -> None:
        """A message without an id: count it and tell the listeners if it is news."""
        method, params = msg.get("method"), msg.get("params")
        if not isinstance(method, str) or not isinstance(params, list):
            raise BackendProtocolError(
                "message has no id and is not a notification", backend=self._backend
            )
        if method == SCRIPTHASH_SUBSCRIBE:
            news = self._script_status(params)
        elif method == HEADERS_SUBSCRIBE:
            news = self._header(params, now)
        else:
            log.debug("%s: ignoring notification %s", self._backend, method[:64])
            news = None
        if news is None:
            return
        self.notifications += 1
        for listener in self.listeners:
            listener(method, news)

    def _script_status(self, params: list[Any]) -> list[Any] | None:
        if not (
            len(params) == 2
            and isinstance(params[0], str)
            and _HEX64.fullmatch(params[0])
            and is_status(params[1])
        ):
            raise BackendProtocolError(
                "malformed script status notification", backend=self._backend
            )
        scripthash, status = params[0].lower(), params[1]
        if status is not None:
            status = status.lower()
        if scripthash not in self.scripthashes:
            return None  # not subscribed
        self._current.add(scripthash)
        if self.scripthashes[scripthash] == status:
            return None  # nothing new
        self.scripthashes[scripthash] = status
        self._changed(scripthash)
        return [scripthash, status]

    def _header(self, params: list[Any], now: float) -> list[Any]:
        try:
            tip = parse_tip(params[0] if params else None, backend=self._backend)
        except BackendProtocolError as e:
            raise BackendProtocolError(
                f"malformed header notification: {e.reason}", backend=self._backend
            ) from e
        self.keep_tip(tip, now)
        # Every header counts, a repeated one too (so a reconnect's restored tip always
        # reaches the listeners); a watcher's resync on it finds nothing new.
        return params
