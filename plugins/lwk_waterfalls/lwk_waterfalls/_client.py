"""WaterfallsClient: the Client of lwk-core driven by a Waterfalls server."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping

import httpx
from lwk_esplora import EsploraClient

from lwk_core import Client, Network
from lwk_core.auth import TokenProvider

from ._backend import WaterfallsBackend

__all__ = ["SCHEMES", "WaterfallsClient"]

PLUGIN = "lwk_waterfalls._plugin"  # the module of the hooks, as the entry point names it
SCHEMES = ("waterfalls+http", "waterfalls+https")


def _http_url(url: str) -> str:
    """`waterfalls+https://host/path` -> `https://host/path` (a plain URL stays as it is)."""
    if not isinstance(url, str):
        raise TypeError("url must be a str such as 'waterfalls+https://host/liquid/api'")
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in SCHEMES:
        return f"{scheme.lower().removeprefix('waterfalls+')}://{rest}"
    return url


class WaterfallsClient(Client):
    """A client for a Waterfalls server (RCasatta/waterfalls), e.g.
    ``https://waterfalls.liquidwebwallet.org/liquid/api``.

    With ``send_descriptor=True`` a scan sends the wallet's descriptor (without its
    blinding key and key origins, age-encrypted to the server's key) and the server
    derives and scans every script in one request per 1,000 indexes. That reveals the
    wallet's every address, past and future, to the server: so it is off by default,
    and the client then asks for the scripts' histories in batches of addresses, like any
    other backend. ELIP-151 descriptors are always scanned script by script, as in LWK.

    The URL's scheme is ``waterfalls+https://`` or ``waterfalls+http://`` (plain
    ``https://`` works too when the client is built by hand). Transactions, headers and
    broadcasts use the Esplora routes the server also serves; ``timeout``,
    ``concurrency``, ``headers`` (e.g. an Authorization bearer token), ``proxy`` (e.g.
    Tor's ``socks5h://127.0.0.1:9050``), ``trust_env``, ``max_retries``, ``verify``,
    ``ca_file``, ``cert_fingerprint``, ``token``, ``allow_insecure_auth`` and
    ``transport`` work as for lwk_esplora.EsploraClient.
    """

    connection: WaterfallsBackend

    def __init__(
        self,
        url: str,
        network: Network,
        send_descriptor: bool = False,
        *,
        timeout: float = 30.0,
        concurrency: int = 8,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        max_retries: int = 5,
        verify: ssl.SSLContext | bool = True,
        ca_file: str | os.PathLike[str] | None = None,
        cert_fingerprint: str | None = None,
        token: str | TokenProvider | None = None,
        allow_insecure_auth: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(send_descriptor, bool):
            raise TypeError("send_descriptor must be True or False")
        esplora = EsploraClient(
            _http_url(url),
            network,
            timeout=timeout,
            concurrency=concurrency,
            headers=headers,
            proxy=proxy,
            trust_env=trust_env,
            max_retries=max_retries,
            verify=verify,
            ca_file=ca_file,
            cert_fingerprint=cert_fingerprint,
            token=token,
            allow_insecure_auth=allow_insecure_auth,
            transport=transport,
        )
        backend = WaterfallsBackend(esplora, network, send_descriptor=send_descriptor)
        super().__init__(backend, name=backend.name, network=network, plugin=PLUGIN)
