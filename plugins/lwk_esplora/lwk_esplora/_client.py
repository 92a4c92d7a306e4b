"""EsploraClient: the Client of lwk-core driven by an Esplora REST server."""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import httpx

from lwk_core import Client, Network

from ._backend import EsploraBackend
from ._http import HttpSession

__all__ = ["EsploraClient"]

PLUGIN = "lwk_esplora._plugin"  # the module of the hooks, as the entry point names it


class EsploraClient(Client):
    """A client for an Esplora server such as ``https://blockstream.info/liquid/api``.

    The URL's path is used as given, as a prefix (Blockstream and mempool.space serve
    under ``/liquid/api``, a bare electrs at its root). Constructing the client does no
    network I/O. Requests share one pooled httpx.Client (HTTP/2 if ``h2`` is installed)
    and run up to ``concurrency`` at once. A request gives the server at most
    ``2 * timeout`` in all (every connect, read and retry), whatever it sends; bodies are
    gzip or plain, capped after decoding. 429/503 answers are retried ``max_retries``
    times with backoff, honouring ``Retry-After`` (at most 60 s of waits per request);
    dropped connections too; a refused connection and a timeout once. ``headers`` (e.g.
    an Authorization bearer token) are sent with every request and never logged;
    ``proxy`` is an httpx proxy URL (``HTTP(S)_PROXY`` from the environment also apply);
    ``verify`` is httpx's TLS setting; ``transport`` replaces httpx's network transport
    (tests, custom sockets).
    """

    connection: EsploraBackend

    def __init__(
        self,
        url: str,
        network: Network,
        *,
        timeout: float = 30.0,
        concurrency: int = 8,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
        max_retries: int = 5,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(network, Network):
            raise TypeError("network must be a lwk_core.Network, e.g. Network.LIQUID_TESTNET")
        http = HttpSession(
            url,
            timeout=timeout,
            concurrency=concurrency,
            headers=headers,
            proxy=proxy,
            max_retries=max_retries,
            verify=verify,
            transport=transport,
        )
        super().__init__(
            EsploraBackend(http, network), name=http.name, network=network, plugin=PLUGIN
        )
