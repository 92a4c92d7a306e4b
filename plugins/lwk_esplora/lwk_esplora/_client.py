"""EsploraClient and AsyncEsploraClient: lwk-core's Client and AsyncClient driven by an
Esplora REST server, through the same steps (`_steps`)."""

from __future__ import annotations

from typing import Any, Unpack

import httpx

from lwk_core import AsyncClient, Client, Network

from ._ahttp import AsyncHttpSession
from ._backend import AsyncEsploraBackend, EsploraBackend
from ._http import HttpSession
from ._response import Options, Settings

__all__ = ["AsyncEsploraClient", "EsploraClient"]

PLUGIN = "lwk_esplora._plugin"  # the module of the hooks, as the entry point names it


class ChainChanges:
    """What lwk_core's monitors ask to skip a wallet nothing changed since its last scan
    (no I/O): the scripts the chain's moves touched since a mark (`_fresh`)."""

    connection: EsploraBackend | AsyncEsploraBackend

    def change_mark(self) -> object:
        """Now, for `changed_since`."""
        return self.connection.steps.change_mark()

    def changed_since(self, mark: Any) -> set[bytes] | None:
        """The scripts whose history may have changed since `mark`: touched by a tx that
        entered or left a block or the mempool since, or paged without being kept. None
        when any may have: the tip moved, the chain state could not be read or told
        cheaply, the server does not list its mempool, or `mark` is 5 minutes old."""
        return self.connection.steps.changed_since(mark)


class EsploraClient(ChainChanges, Client):
    """A client for an Esplora server such as ``https://blockstream.info/liquid/api``.

    The URL's path is used as given, as a prefix (Blockstream and mempool.space serve
    under ``/liquid/api``, a bare electrs at its root). Constructing the client does no
    network I/O. Requests run up to ``concurrency`` at once over pooled HTTP/1.1 keep-alive
    connections (through a proxy: one pooled httpx.Client, HTTP/2 if ``h2`` is installed).
    A request gives the server at most ``2 * timeout`` in all (every connect, read and
    retry), whatever it sends; bodies are gzip or plain, capped after decoding. 429/503
    answers are retried ``max_retries`` times with backoff, honouring ``Retry-After`` (at
    most 60 s of waits per request);
    dropped connections too; a refused connection and a timeout once. ``headers`` (e.g.
    an Authorization bearer token) are sent with every request and never logged;
    ``transport`` replaces httpx's network transport (tests, custom sockets).

    SPV (opt-in): ``verify_merkle=True`` proves each confirmation a scan reports with
    ``/tx/:txid/merkle-proof`` against the header at its height (checked, and signed by the
    block signers where they are set), once per (txid, height) until ``close()``.

    Authentication: ``token`` (a str, or a `lwk_core.auth.TokenProvider` such as
    ``ClientCredentials``) is sent as ``Authorization: Bearer``; after a 401 the token is
    renewed and the request retried once, then `AuthenticationFailed`; a 402 is
    `InsufficientCredits`. A token (or an Authorization header) for a plain http:// URL is
    refused (`InsecureTransport`) unless ``allow_insecure_auth=True``.

    Proxies: ``proxy`` is a proxy URL, ``socks5h://127.0.0.1:9050`` for Tor (SOCKS5 needs
    ``lwk-esplora[socks]``; the proxy resolves the server's name, so ``.onion`` hosts
    work) or ``http://host:port``; without it, and with ``trust_env`` (httpx's default),
    ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` apply.

    TLS: certificates are verified against certifi's CA bundle (httpx's default, not the
    operating system's store; with ``trust_env``, ``SSL_CERT_FILE`` or ``SSL_CERT_DIR``
    replace it), or against the PEM bundle ``ca_file``; ``cert_fingerprint`` (SHA-256 of
    the DER certificate, hex) pins the server's certificate instead, checked before any
    request goes out; ``verify`` is httpx's own setting (an ``ssl.SSLContext``, or False).

    Defaults: ``timeout=30.0, concurrency=16, headers=None, proxy=None, trust_env=True,
    max_retries=5, verify=True, ca_file=None, cert_fingerprint=None, token=None,
    allow_insecure_auth=False, verify_merkle=False`` (`Options`, then SPV).
    """

    connection: EsploraBackend

    def __init__(
        self,
        url: str,
        network: Network,
        *,
        transport: httpx.BaseTransport | None = None,
        verify_merkle: bool = False,
        **options: Unpack[Options],
    ) -> None:
        settings = Settings(url, network, **options)
        backend = EsploraBackend(HttpSession(settings, transport=transport), network)
        super().__init__(
            backend, name=settings.name, network=network, plugin=PLUGIN, verify_merkle=verify_merkle
        )

    def receive(self) -> None:
        """Read the chain state (two requests, more when it moved), so that
        `changed_since` tells what changed up to now."""
        self.connection.receive()


class AsyncEsploraClient(ChainChanges, AsyncClient):
    """The asyncio twin of `EsploraClient`: the same arguments (``transport`` an
    httpx.AsyncBaseTransport), requests, paging, retries, caps and answers.

    One pooled httpx.AsyncClient, created on the first awaited call, serves every task
    using the client (many wallets' scans at once): at most ``concurrency`` requests are
    in flight in all. Use it from one event loop; ``async with`` closes it. A cancelled
    call closes the connections it was using and leaves the client usable.
    """

    connection: AsyncEsploraBackend

    def __init__(
        self,
        url: str,
        network: Network,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        verify_merkle: bool = False,
        **options: Unpack[Options],
    ) -> None:
        settings = Settings(url, network, **options)
        backend = AsyncEsploraBackend(AsyncHttpSession(settings, transport=transport), network)
        super().__init__(
            backend, name=settings.name, network=network, plugin=PLUGIN, verify_merkle=verify_merkle
        )

    async def receive(self) -> None:
        """`EsploraClient.receive`, awaited."""
        await self.connection.receive()
