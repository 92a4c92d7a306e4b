"""ElectrumClient.watch: a sync per server notification (new block, script status)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from lwk_core import BackendError, Update

if TYPE_CHECKING:
    from lwk_core._wollet import Wollet

    from ._client import ElectrumClient

__all__ = ["watch"]

log = logging.getLogger("lwk_electrum")

_BACKOFF_MIN: Final = 0.5
_BACKOFF_MAX: Final = 30.0


def watch(
    client: ElectrumClient, wollet: Wollet, *, gap_limit: int, timeout: float | None
) -> Iterator[Update]:
    """Yield the Update of each sync that found something.

    The scan subscribes the tip and every scanned script, so the server notifies any change
    that can matter. Notifications that arrive while syncing make the next wait return at
    once. A failing server is retried with exponential backoff until `timeout` seconds pass
    without progress (forever when None), then the last error is raised.
    """
    rpc = client.connection.rpc
    backoff = _BACKOFF_MIN
    progress = time.monotonic()
    while True:
        seen = rpc.notifications
        try:
            update = client.sync(wollet, gap_limit)
            if update is not None:
                yield update
            backoff = _BACKOFF_MIN
            if not rpc.wait_for_notification(seen, timeout):
                return
            progress = time.monotonic()
        except BackendError as e:
            if timeout is not None and time.monotonic() - progress + backoff > timeout:
                raise
            log.warning("%s: %s; retrying in %.1fs", client.name, e.reason, backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)
