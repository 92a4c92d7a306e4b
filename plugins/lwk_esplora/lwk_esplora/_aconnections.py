"""The async transport's own HTTP/1.1 connections, one request each at a time.

httpcore's `AsyncConnectionPool` re-examines every connection for every request it
assigns, each idle one with a `poll()` of its socket (`has_expired`): with 32 requests in
flight that is about a thousand checks and dozens of system calls per request, the most
of our CPU when many wallets scan at once through one client. The session's semaphore
already bounds the requests in flight, so the connections need no pool logic: a request
takes an idle connection (checked once, here) or opens one, and gives it back when its
answer was read whole. They are httpcore's own `AsyncHTTPConnection`s, built with the
pool's settings (TLS context, pinning network backend, socket options), so everything but
the assignment is what the pool does. Used only without a proxy and for HTTP/1.1; the
pool serves the other cases.
"""

from __future__ import annotations

import anyio
import httpcore

__all__ = ["OwnConnections", "own_connections"]


class OwnConnections:
    """Idle connections to one origin, taken by one request at a time."""

    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self._pool = pool
        self._idle: list[httpcore.AsyncHTTPConnection] = []

    async def take(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection:
        """An idle connection that is still open, or a new one (connected on first use)."""
        while self._idle:
            connection = self._idle.pop()
            if not connection.has_expired():
                return connection
            await _close(connection)
        pool = self._pool
        return httpcore.AsyncHTTPConnection(
            origin,
            ssl_context=pool._ssl_context,
            keepalive_expiry=pool._keepalive_expiry,
            retries=pool._retries,
            local_address=pool._local_address,
            uds=pool._uds,
            network_backend=pool._network_backend,
            socket_options=pool._socket_options,
        )

    async def give_back(self, connection: httpcore.AsyncHTTPConnection) -> None:
        """Keep `connection` if its last answer was read whole; else close it."""
        if connection.is_idle():
            self._idle.append(connection)
        else:
            await _close(connection)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await _close(connection)


async def _close(connection: httpcore.AsyncHTTPConnection) -> None:
    """Close even when the caller is being cancelled (else the socket would leak)."""
    with anyio.CancelScope(shield=True):
        await connection.aclose()


def own_connections(transport: object) -> OwnConnections | None:
    """Own connections for `transport` when it is httpx's plain transport without a proxy
    and without HTTP/2; None: send through its pool."""
    pool = getattr(transport, "_pool", None)
    if type(pool) is not httpcore.AsyncConnectionPool or pool._http2:
        return None
    return OwnConnections(pool)
