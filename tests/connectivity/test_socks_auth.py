"""Bearer tokens through the SOCKS5 proxy (issue 16 items 2 and 3 together): a token that
a token-requiring server refuses mid-scan is renewed, and the request (Esplora, Waterfalls)
or the connection (Electrum) retried, through microsocks as directly; the CLI gives the
clients its auth and connection flags at once.

Ground truth: the faucet's payments; the issuer's counts of tokens issued and refused;
microsocks's log, which names each destination as the client sent it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from connectivity_support import Socks
from lwk_electrum import ElectrumClient
from lwk_esplora import EsploraClient
from lwk_regtest import Regtest, TokenIssuer
from lwk_waterfalls import WaterfallsClient
from shared_data import regtest_wallet_descriptor
from token_regtest import fresh_issuer, paid_token_regtest

from lwk_core import Client, Network, Wollet
from lwk_core.auth import ClientCredentials
from lwk_core.cli import main

NETWORK = Network.ELEMENTS_REGTEST
DESCRIPTOR = regtest_wallet_descriptor()
CLIENT_ID, SECRET = "tor-app", "tor-s3cret-value"
PAYMENTS = (60_000, 7_000)


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with paid_token_regtest({CLIENT_ID: SECRET}, DESCRIPTOR, PAYMENTS) as rt:
        yield rt


@pytest.fixture
def issuer(rt: Regtest) -> Iterator[TokenIssuer]:
    yield from fresh_issuer(rt, {CLIENT_ID: SECRET})


def login(rt: Regtest) -> ClientCredentials:
    return ClientCredentials(rt.token_url, CLIENT_ID, SECRET, allow_insecure=True)


def port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def paid(client: Client) -> int:
    wollet = Wollet(NETWORK, DESCRIPTOR)
    update = client.full_scan(wollet)
    assert update is not None
    wollet.apply_update(update)
    return wollet.balance()[NETWORK.policy_asset]


@pytest.mark.parametrize("kind", ["esplora", "waterfalls"])
def test_http_token_expiring_mid_scan_is_renewed_through_the_proxy(
    kind: str, rt: Regtest, issuer: TokenIssuer, socks: Socks
) -> None:
    issuer.uses = 4  # each token serves 4 requests: several expire during the scan
    credentials = login(rt)
    server = rt.esplora_url if kind == "esplora" else rt.waterfalls_url
    options: dict[str, Any] = {
        "proxy": socks.url,
        "trust_env": False,
        "concurrency": 1,
        "token": credentials,
        "allow_insecure_auth": True,
    }
    client: Client
    if kind == "esplora":
        client = EsploraClient(f"http://localhost:{port(server)}", NETWORK, **options)
    else:
        url = f"waterfalls+http://localhost:{port(server)}"
        client = WaterfallsClient(url, NETWORK, **options)
    with client:
        assert paid(client) == sum(PAYMENTS)
    assert socks.connected_to("localhost", port(server))
    # one request at a time: each token refused once, when it expired, then renewed (a
    # Waterfalls scan asks for many scripts at once: fewer requests, fewer tokens)
    assert issuer.refused >= 1
    assert credentials.fetches == issuer.issued == issuer.refused + 1


def test_electrum_reconnects_through_the_proxy_with_a_renewed_token(
    rt: Regtest, issuer: TokenIssuer, socks: Socks
) -> None:
    credentials = login(rt)
    url = f"ssl://localhost:{port(rt.electrum_ssl_url)}"
    with ElectrumClient.from_url(
        url, proxy=socks.url, cert_fingerprint=rt.cert_fingerprint, token=credentials
    ) as client:
        assert paid(client) == sum(PAYMENTS)
        issuer.expire_all()  # the token expires and the server drops the connection
        rt.electrum_ssl_server.disconnect_all()
        assert paid(client) == sum(PAYMENTS)  # reconnected through the proxy, renewed
    assert socks.connected_to("localhost", port(rt.electrum_ssl_url))
    assert issuer.refused == 1
    assert credentials.fetches == issuer.issued == 2


def test_cli_gives_the_clients_auth_and_connection_flags_together(
    rt: Regtest, issuer: TokenIssuer, socks: Socks, capsys: pytest.CaptureFixture[str]
) -> None:
    ssl_port = port(rt.electrum_ssl_url)
    args = [
        "balance",
        "--network",
        "elementsregtest",
        "--descriptor",
        DESCRIPTOR,
        "--backend",
        f"ssl://localhost:{ssl_port}",
        "--proxy",
        socks.url,
        "--pin",
        rt.cert_fingerprint,
        "--auth-token-url",
        rt.token_url,
        "--auth-client-id",
        CLIENT_ID,
        "--auth-client-secret",
        SECRET,
        "--allow-insecure-auth",  # for the token endpoint, plain http on loopback
        "--json",
    ]
    capsys.readouterr()
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["balance"][NETWORK.policy_asset] == sum(PAYMENTS)
    assert socks.connected_to("localhost", ssl_port)
    assert issuer.issued == 1 and issuer.refused == 0
    assert SECRET not in out + err
