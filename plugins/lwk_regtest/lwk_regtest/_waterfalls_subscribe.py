"""`GET /v1/subscribe?descriptor=D` of the regtest Waterfalls server: Server-Sent Events.

As RCasatta/waterfalls documents it (`docs/API.md`, "Descriptor Subscription"; the events
of `src/server/subscription.rs`): the descriptor must have been scanned before (else 400
DescriptorNotScanned) and have a wildcard; the stream watches each chain's scripts up to
the highest used index seen by the scans plus the gap limit (20), starts with the comment
`: ready` and sends, for each change, `event: update` with the data
`{"type": T, "tip": {"height": h, "block_hash": b, "timestamp": t}}` (the timestamp, which
API.md does not list, is what LWK 0.19's WaterfallsClient.subscribe requires): T is
`block` (a new block touched a watched script), `tip` (a new block that did not),
`mempool` (a new mempool transaction touched one; removals send nothing) or `reorg` (the
previous tip left the best chain).

No comment follows `: ready` (LWK 0.19's subscriber reads one as the end of its updates):
after each second without an event the stream yields an empty chunk instead, on which the
server checks whether the client went away.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Final

from ._esplora_query import ChainView

__all__ = ["KEEPALIVE", "Snapshot", "events"]

KEEPALIVE: Final = 1.0  # seconds without an event before an empty chunk
_POLL: Final = 0.05  # how often the chain's version is compared


class Snapshot:
    """What a subscription compares: the tip and the watched scripts' histories."""

    def __init__(self, chain: ChainView, scripts: list[bytes]) -> None:
        with chain.lock:
            self.version = chain.version
            self.tip_height = chain.tip_height()
            self.tip_hash = chain.tip_hash()
            self.tip_time = chain.block_time(self.tip_height)
            histories = [chain.history(s) for s in scripts]
        self.confirmed = {(t, h) for history in histories for t, h in history if h > 0}
        self.mempool = {t for history in histories for t, h in history if h <= 0}

    def change(self, before: Snapshot, chain: ChainView) -> str | None:
        """The event type from `before` to this snapshot, None when none is due."""
        if self.tip_hash != before.tip_hash:
            with chain.lock:
                kept = chain.block_hash(before.tip_height) == before.tip_hash
            if not kept:
                return "reorg"
            return "tip" if self.confirmed == before.confirmed else "block"
        return "mempool" if self.mempool - before.mempool else None

    def event(self, kind: str) -> bytes:
        tip = {"height": self.tip_height, "block_hash": self.tip_hash, "timestamp": self.tip_time}
        data = json.dumps({"type": kind, "tip": tip}, separators=(",", ":"))
        return f"event: update\ndata: {data}\n\n".encode()


def events(
    chain: ChainView,
    scripts: list[bytes],
    stopping: threading.Event,
    watching: Callable[[], None],
) -> Iterator[bytes]:
    """The stream's chunks: `: ready`, then an event per change (an empty chunk after each
    KEEPALIVE seconds without one), until `stopping`. `watching` is called once the first
    snapshot is taken: changes from then on are events."""
    yield b": ready\n\n"
    last = Snapshot(chain, scripts)
    watching()
    quiet = 0.0
    while not stopping.wait(_POLL):
        if chain.version == last.version:
            quiet += _POLL
            if quiet >= KEEPALIVE:
                quiet = 0.0
                yield b""
            continue
        now = Snapshot(chain, scripts)
        kind = now.change(last, chain)
        last = now
        if kind is not None:
            quiet = 0.0
            yield now.event(kind)
