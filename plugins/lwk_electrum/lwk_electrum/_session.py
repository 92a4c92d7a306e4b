"""What an ElectrumClient hands to the hooks: its connection plus per-connection state."""

from __future__ import annotations

import attrs

from ._connection import ElectrumConnection
from ._scan import ScriptCache

__all__ = ["ElectrumSession"]


@attrs.define(eq=False)
class ElectrumSession:
    """The `connection` object of an ElectrumClient (the hooks check for this type)."""

    rpc: ElectrumConnection
    verify_merkle: bool = False
    cache: ScriptCache = attrs.field(factory=ScriptCache)
    verified: dict[tuple[str, int], int] = attrs.field(factory=dict)  # SPV: (txid, height) -> time

    def __attrs_post_init__(self) -> None:
        self.rpc.add_listener(self.cache.on_notification)

    @property
    def name(self) -> str:
        return self.rpc.name
