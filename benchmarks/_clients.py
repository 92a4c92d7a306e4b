"""The two implementations under test behind one interface: ours (lwk-core) and LWK's wheel.

Each lives in its own module (`_ours`, `_lwk`) that imports only its own library, so a memory
child can load one side without the other."""

from __future__ import annotations

from typing import Any, Protocol

from ._lwk import Lwk
from ._ours import Ours
from ._server import Backend

__all__ = ["Impl", "Lwk", "Ours"]


class Impl(Protocol):
    """How a benchmark drives one implementation (client and wallet objects are opaque)."""

    name: str

    def new_wollet(self, descriptor: str) -> Any: ...
    def new_client(self, backend: Backend, url: str) -> Any: ...
    def scan(self, client: Any, wollet: Any) -> None: ...
    def tx_count(self, wollet: Any) -> int: ...
    def close(self, client: Any) -> None: ...
