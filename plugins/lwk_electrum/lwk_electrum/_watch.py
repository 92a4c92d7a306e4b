"""ElectrumClient.watch: a sync per server notification (new block, script status)."""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Final

from lwk_core import BackendError, Client, Update

from ._connection import ElectrumConnection

if TYPE_CHECKING:
    from lwk_core import Wollet

__all__ = ["watch"]

log = logging.getLogger("lwk_electrum")

_BACKOFF_MIN: Final = 0.5
_BACKOFF_MAX: Final = 30.0


def watch(
    client: Client,
    rpc: ElectrumConnection,
    wollet: Wollet,
    *,
    gap_limit: int,
    timeout: float | None,
) -> Generator[Update, None, None]:
    """Yield the Update of each sync through `client` that found something (`rpc` is its
    connection, which counts and waits for the notifications).

    Each scan subscribes the tip and every scanned script, so the server notifies any change
    that can matter; notifications that arrive during a sync make the next wait return at
    once. The watch ends once `timeout` seconds of watching (the caller's time between
    Updates not counted) brought no Update: notifications that change nothing (a server
    repeating or inventing them) cannot keep it going. A failing server is retried with
    exponential backoff (each retry reconnects and restores the subscriptions); after
    `timeout` seconds of failures the error is raised.
    """
    backoff = _BACKOFF_MIN
    failing_since: float | None = None
    quiet_since = time.monotonic()  # since the last Update was handed over
    while True:
        seen = rpc.notifications
        try:
            update = client.sync(wollet, gap_limit)
            failing_since, backoff = None, _BACKOFF_MIN
            if update is not None:
                yield update
                quiet_since = time.monotonic()
            left = None if timeout is None else quiet_since + timeout - time.monotonic()
            if left is not None and left <= 0:
                return
            if not rpc.wait_for_notification(seen, left):
                return
        except BackendError as e:
            now = time.monotonic()
            failing_since = now if failing_since is None else failing_since
            if timeout is not None and now + backoff - failing_since > timeout:
                raise
            log.warning("%s: %s; retrying in %.1fs", client.name, e.reason, backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)
