"""WaterfallsClient and AsyncWaterfallsClient: lwk-core's Client and AsyncClient driven by a
Waterfalls server, through the same steps (`_steps`)."""

from __future__ import annotations

from typing import Unpack

import httpx
from lwk_esplora import AsyncEsploraClient, EsploraClient
from lwk_esplora.steps import Options

from lwk_core import AsyncClient, Client, InvalidArgument, Network

from ._backend import AsyncWaterfallsBackend, WaterfallsBackend
from ._steps import WaterfallsSteps

__all__ = ["CONCURRENCY", "SCHEMES", "AsyncWaterfallsClient", "WaterfallsClient"]

PLUGIN = "lwk_waterfalls._plugin"  # the module of the hooks, as the entry point names it
SCHEMES = ("waterfalls+http", "waterfalls+https")
CONCURRENCY = 256
"""Requests in flight (and connections kept alive) by default: one descriptor request
finds every transaction a wallet lacks, so they are fetched in one wave (a 200-tx first
scan: 4 round trips in all) instead of lwk_esplora's 8 at a time."""


def _http_url(url: str) -> str:
    """`waterfalls+https://host/path` -> `https://host/path` (a plain URL stays as it is)."""
    if not isinstance(url, str):
        raise TypeError("url must be a str such as 'waterfalls+https://host/liquid/api'")
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in SCHEMES:
        return f"{scheme.lower().removeprefix('waterfalls+')}://{rest}"
    return url


class _Pushing:
    """What lwk_core's watch reads of either flavour (see _pushes): the server's event
    streams' count and whether there are streams to wait on."""

    connection: WaterfallsBackend | AsyncWaterfallsBackend

    @property
    def notifications(self) -> int:
        """Hints the server's event streams sent so far (and their openings)."""
        return self.connection.streams.state.count

    @property
    def pushes(self) -> bool:
        """Whether a watch waits on event streams (False: it polls)."""
        return self.connection.streams.state.pushes


class WaterfallsClient(_Pushing, Client):
    """A client for a Waterfalls server (RCasatta/waterfalls), e.g.
    ``https://waterfalls.liquidwebwallet.org/liquid/api``.

    With ``send_descriptor=True`` a scan sends the wallet's descriptor (without its
    blinding key and key origins, age-encrypted to the server's key) and the server
    derives and scans every script in one request per 1,000 indexes. That reveals the
    wallet's every address, past and future, to the server: so it is off by default,
    and the client then asks for the scripts' histories in batches of addresses, like any
    other backend. ELIP-151 descriptors are always scanned script by script, as in LWK.

    ``utxo_only=True`` (with ``send_descriptor=True``) asks only for unspent outputs: the
    wallet's balance and utxos are a full scan's (unless a mempool tx spends its coins),
    but ``transactions()`` lists only the txs that made an unspent output (a spend with
    change shows as an incoming tx of its change) and ``address()`` may reuse an address
    whose outputs are all spent; see the README.

    ``watch()`` waits on the server's event stream of each descriptor scanned
    (``GET /v1/subscribe``, with ``send_descriptor=True``) and scans again on each hint;
    it polls every ``interval`` seconds on a server without the route (404) or without
    ``send_descriptor``.

    ``cbor=True`` asks for the waterfalls answers in CBOR (``/v4/waterfalls.cbor``), about
    0.4 of the JSON's bytes; the other routes are unchanged.

    The URL's scheme is ``waterfalls+https://`` or ``waterfalls+http://`` (plain
    ``https://`` works too when the client is built by hand). Transactions, headers and
    broadcasts use the Esplora routes the server also serves; ``timeout``,
    ``concurrency``, ``headers`` (e.g. an Authorization bearer token), ``proxy`` (e.g.
    Tor's ``socks5h://127.0.0.1:9050``), ``trust_env``, ``max_retries``, ``verify``,
    ``ca_file``, ``cert_fingerprint``, ``token``, ``allow_insecure_auth`` and
    ``transport`` work as for lwk_esplora.EsploraClient, and so does SPV (opt-in:
    ``verify_merkle=True`` proves each confirmation with the server's Esplora
    ``/tx/:txid/merkle-proof`` against the header at its height); ``concurrency``
    defaults to `CONCURRENCY` (256) requests in flight.
    """

    connection: WaterfallsBackend

    def __init__(
        self,
        url: str,
        network: Network,
        send_descriptor: bool = False,
        *,
        utxo_only: bool = False,
        cbor: bool = False,
        transport: httpx.BaseTransport | None = None,
        verify_merkle: bool = False,
        **options: Unpack[Options],
    ) -> None:
        options.setdefault("concurrency", CONCURRENCY)
        esplora = EsploraClient(_http_url(url), network, transport=transport, **options)
        steps = _steps(esplora, network, send_descriptor, utxo_only, cbor)
        backend = WaterfallsBackend(esplora.connection, steps)
        super().__init__(
            backend, name=backend.name, network=network, plugin=PLUGIN, verify_merkle=verify_merkle
        )

    def wait_for_notification(self, seen: int, timeout: float | None) -> bool:
        """Block until more than `seen` notifications came (False when `timeout` elapses,
        or when there is no stream to wait on); a stream's failure is raised."""
        return self.connection.streams.wait(seen, timeout)


class AsyncWaterfallsClient(_Pushing, AsyncClient):
    """The asyncio twin of `WaterfallsClient`: the same arguments (``transport`` an
    httpx.AsyncBaseTransport), requests, pages and answers, over lwk_esplora's
    AsyncEsploraClient transport. Use it from one event loop; ``async with`` closes it.
    """

    connection: AsyncWaterfallsBackend

    def __init__(
        self,
        url: str,
        network: Network,
        send_descriptor: bool = False,
        *,
        utxo_only: bool = False,
        cbor: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        verify_merkle: bool = False,
        **options: Unpack[Options],
    ) -> None:
        options.setdefault("concurrency", CONCURRENCY)
        esplora = AsyncEsploraClient(_http_url(url), network, transport=transport, **options)
        steps = _steps(esplora, network, send_descriptor, utxo_only, cbor)
        backend = AsyncWaterfallsBackend(esplora.connection, steps)
        super().__init__(
            backend, name=backend.name, network=network, plugin=PLUGIN, verify_merkle=verify_merkle
        )

    async def wait_for_notification(self, seen: int, timeout: float | None) -> bool:
        """See `WaterfallsClient.wait_for_notification`."""
        return await self.connection.streams.wait(seen, timeout)


def _steps(
    esplora: EsploraClient | AsyncEsploraClient,
    network: Network,
    send_descriptor: bool,
    utxo_only: bool,
    cbor: bool,
) -> WaterfallsSteps:
    """The protocol of either flavour, over the Esplora client's steps (no I/O)."""
    if not all(
        isinstance(flag, bool) for flag in (send_descriptor, utxo_only, cbor)
    ):  # untyped callers
        raise TypeError("send_descriptor, utxo_only and cbor must be True or False")
    if utxo_only and not send_descriptor:
        raise InvalidArgument(
            "utxo_only=True needs send_descriptor=True: a script scan without spent history "
            "would stop at the gap limit before the wallet's later addresses"
        )
    return WaterfallsSteps(
        esplora.connection.steps,
        f"waterfalls+{esplora.name}",
        network,
        send_descriptor=send_descriptor,
        utxo_only=utxo_only,
        cbor=cbor,
    )
