"""AsyncElectrumClient: ElectrumClient's constructor on top of lwk_core's AsyncClient."""

from __future__ import annotations

from lwk_core import AsyncClient

from ._aio_connection import AsyncElectrumConnection
from ._async_session import AsyncElectrumSession
from ._client import PLUGIN, ScriptChanges
from ._options import ElectrumConstructors, ElectrumOptions

__all__ = ["AsyncElectrumClient"]


class AsyncElectrumClient(ScriptChanges, ElectrumConstructors, AsyncClient):
    """The asyncio twin of `ElectrumClient`: the same constructor arguments, the same TLS
    validation, pinning and timeouts, on asyncio streams (`async with ... as client`,
    `await client.full_scan(wollet)`).

    One client holds one connection, which the tasks using it take turns on (each burst
    pipelined); it belongs to the event loop of its first call. Construction does no I/O.
    """

    connection: AsyncElectrumSession

    def _setup(self, options: ElectrumOptions) -> None:
        rpc = AsyncElectrumConnection(options.endpoint, **options.connection_kwargs())
        session, spv = AsyncElectrumSession(rpc), options.verify_merkle
        AsyncClient.__init__(
            self, session, name=rpc.name, network=options.network, plugin=PLUGIN, verify_merkle=spv
        )

    # -- pushes: what `watch()` waits on (each scan subscribes the tip and its scripts) ---

    @property
    def notifications(self) -> int:
        """How many notifications (new block, script status change) the server sent."""
        return self.connection.rpc.notifications

    async def wait_for_notification(self, seen: int, timeout: float | None) -> bool:
        """Wait until more than `seen` notifications came; False when `timeout` elapses.
        Reconnects (restoring the subscriptions) if the connection dropped."""
        return await self.connection.rpc.wait_for_notification(seen, timeout)

    async def receive(self) -> None:
        """See `ElectrumClient.receive`."""
        if self.connection.rpc.connected:
            await self.connection.rpc.refresh()
