"""The client every backend plugin returns: a plugin's connection driven through the hooks."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from ._errors import PluginError
from ._network import Network
from ._transaction import Transaction
from ._types import HistoryEntry, Progress, Tip
from ._update import Update

if TYPE_CHECKING:
    import pluggy

    from ._wollet import Wollet

__all__ = ["Client", "Progress", "ScanMethods"]

class ScanMethods:
    """LWK's `full_scan` names, shared by clients and chains, on top of their `sync`."""

    def sync(
        self,
        wollet: Wollet,
        gap_limit: int = 20,
        *,
        to_index: int = 0,
        progress: Progress | None = None,
    ) -> Update | None:
        raise NotImplementedError

    def full_scan(
        self, wollet: Wollet, *, to_index: int = 0, progress: Progress | None = None
    ) -> Update | None:
        """Scan the wallet with the default gap limit (20). None when nothing changed."""
        return self.sync(wollet, 20, to_index=to_index, progress=progress)

    def full_scan_to_index(self, wollet: Wollet, index: int) -> Update | None:
        """Scan at least up to derivation `index` on each chain, beyond the gap limit."""
        return self.sync(wollet, 20, to_index=index)


class Client(ScanMethods):
    """A backend client: holds a plugin's connection and calls the hooks with it.

    Plugins subclass it (ElectrumClient, EsploraClient) and build their connection
    without network I/O; every method here goes through the plugin manager, so wrapper
    plugins see each call.
    """

    def __init__(
        self,
        connection: object,
        *,
        name: str,
        network: Network | None = None,
        plugin: object | None = None,
    ) -> None:
        from .plugin.manager import get_plugin_manager

        self.connection = connection
        self.name = name  # shown in logs and errors: scheme://host:port, nothing secret
        self.network = network
        self._pm: pluggy.PluginManager = get_plugin_manager()
        if plugin is not None and not self._pm.is_registered(plugin):
            # An explicitly constructed client works even if its plugin was not loaded.
            self._pm.register(plugin)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def _answer(self, hook: str, result: Any) -> Any:
        if result is None:
            raise PluginError(
                f"no registered plugin answered {hook} for {self.name}"
                " (is its plugin disabled by LWK_DISABLE_PLUGINS/LWK_LOAD_PLUGINS?)"
            )
        return result

    # -- raw backend calls -------------------------------------------------------------

    def ping(self) -> None:
        """Check that the server answers; raises a BackendError otherwise."""
        self._answer("lwk_ping", self._pm.hook.lwk_ping(connection=self.connection))

    def tip(self) -> Tip:
        tip: Tip = self._answer("lwk_tip", self._pm.hook.lwk_tip(connection=self.connection))
        return tip

    def scan_scripts(self, scripts: Sequence[bytes]) -> list[list[HistoryEntry]]:
        if not scripts:
            return []
        result: list[list[HistoryEntry]] = self._answer(
            "lwk_scan_scripts",
            self._pm.hook.lwk_scan_scripts(connection=self.connection, scripts=list(scripts)),
        )
        return result

    def get_raw_txs(self, txids: Sequence[str]) -> list[bytes]:
        if not txids:
            return []
        result: list[bytes] = self._answer(
            "lwk_get_tx", self._pm.hook.lwk_get_tx(connection=self.connection, txids=list(txids))
        )
        return result

    def get_txs(self, txids: Sequence[str]) -> list[Transaction]:
        """Fetch transactions and check that each hashes to its txid."""
        from ._sync import decode_fetched

        return decode_fetched(self, list(txids), self.get_raw_txs(txids))

    def get_tx(self, txid: str) -> Transaction:
        return self.get_txs([txid])[0]

    def block_timestamps(self, heights: Sequence[int]) -> dict[int, int]:
        if not heights:
            return {}
        result: dict[int, int] = self._answer(
            "lwk_block_timestamps",
            self._pm.hook.lwk_block_timestamps(connection=self.connection, heights=list(heights)),
        )
        return result

    def broadcast(self, tx: Transaction | bytes | str) -> str:
        """Broadcast a transaction (object, raw bytes or hex) and return its txid."""
        raw = _tx_bytes(tx)
        txid: str = self._answer(
            "lwk_broadcast", self._pm.hook.lwk_broadcast(connection=self.connection, tx=raw)
        )
        return txid

    def close(self) -> None:
        self._pm.hook.lwk_close(connection=self.connection)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- wallet scans ------------------------------------------------------------------

    def sync(
        self,
        wollet: Wollet,
        gap_limit: int = 20,
        *,
        to_index: int = 0,
        progress: Progress | None = None,
    ) -> Update | None:
        """Scan until `gap_limit` unused scripts per chain (and at least to `to_index`)."""
        from ._sync import scan

        return scan(self, wollet, gap_limit=gap_limit, to_index=to_index, progress=progress)


def _tx_bytes(tx: Transaction | bytes | str) -> bytes:
    if isinstance(tx, Transaction):
        return tx.to_bytes()
    if isinstance(tx, str):
        try:
            return bytes.fromhex(tx)
        except ValueError:
            from ._errors import DecodeError

            raise DecodeError("transaction hex is not valid hexadecimal") from None
    return bytes(tx)
