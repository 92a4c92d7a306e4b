"""OAuth2 bearer tokens against the embedded regtest servers requiring them (issue 16).

The servers answer as Blockstream's enterprise gateway and Electrum proxy do (401 / -32004
for a bad or expired token, 402 / -32000 when the credits are spent). A token that expires
in the middle of a scan is made deterministic with `TokenIssuer(uses=N)`: each token serves
N requests, then counts as expired. Ground truth: the faucet's payments.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_esplora import AsyncEsploraClient, EsploraClient
from lwk_regtest import Regtest, TokenIssuer
from lwk_waterfalls import WaterfallsClient
from shared_data import regtest_wallet_descriptor
from token_regtest import fresh_issuer, paid_token_regtest

import lwk_core.auth
from lwk_core import (
    AsyncClient,
    AuthenticationFailed,
    BackendChain,
    Client,
    InsecureTransport,
    InsufficientCredits,
    Network,
    RateLimited,
    Wollet,
)
from lwk_core.auth import ClientCredentials, StaticToken

NETWORK = Network.ELEMENTS_REGTEST
DESCRIPTOR = regtest_wallet_descriptor()
CLIENT_ID, SECRET = "wallet-app", "client-secret-7f3a9c"
PAYMENTS = (100_000, 20_000, 3_000)


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with paid_token_regtest({CLIENT_ID: SECRET}, DESCRIPTOR, PAYMENTS) as rt:
        yield rt


@pytest.fixture
def issuer(rt: Regtest) -> Iterator[TokenIssuer]:
    """The servers' issuer, reset to its defaults after each test."""
    yield from fresh_issuer(rt, {CLIENT_ID: SECRET})


def login(rt: Regtest) -> ClientCredentials:
    return ClientCredentials(rt.token_url, CLIENT_ID, SECRET, allow_insecure=True)


def esplora(rt: Regtest, token: object, **kw: object) -> EsploraClient:
    return EsploraClient(rt.esplora_url, NETWORK, token=token, allow_insecure_auth=True, **kw)  # type: ignore[arg-type]


def paid(client: Client | BackendChain) -> int:
    wollet = Wollet(NETWORK, DESCRIPTOR)
    update = client.full_scan(wollet)
    assert update is not None
    wollet.apply_update(update)
    return wollet.balance()[NETWORK.policy_asset]


async def paid_async(client: AsyncClient) -> int:
    wollet = Wollet(NETWORK, DESCRIPTOR)
    update = await client.full_scan(wollet)
    assert update is not None
    wollet.apply_update(update)
    return wollet.balance()[NETWORK.policy_asset]


# -- Esplora -----------------------------------------------------------------------------


def test_esplora_token_expiring_mid_scan_is_renewed(rt: Regtest, issuer: TokenIssuer) -> None:
    issuer.uses = 4  # a scan makes dozens of requests: several tokens expire during it
    credentials = login(rt)
    with esplora(rt, credentials, concurrency=1) as client:
        assert paid(client) == sum(PAYMENTS)
    # one request at a time: each token is refused once, when it expired, then renewed
    assert issuer.refused >= 2
    assert credentials.fetches == issuer.issued == issuer.refused + 1


def test_esplora_parallel_refusals_renew_the_token_once(rt: Regtest, issuer: TokenIssuer) -> None:
    credentials = login(rt)
    with esplora(rt, credentials, concurrency=8) as client:
        client.tip()
        issuer.expire_after(6)  # the token expires with 8 requests in flight
        assert paid(client) == sum(PAYMENTS)
    assert issuer.refused >= 1
    # the requests refused together renewed the token once: two tokens in all
    assert credentials.fetches == issuer.issued == 2


def test_async_esplora_token_expiring_mid_scan_is_renewed(rt: Regtest, issuer: TokenIssuer) -> None:
    credentials = login(rt)

    async def scan() -> int:
        client = AsyncEsploraClient(
            rt.esplora_url, NETWORK, token=credentials, allow_insecure_auth=True
        )
        async with client:
            await client.tip()
            issuer.expire_after(6)
            return await paid_async(client)

    assert asyncio.run(scan()) == sum(PAYMENTS)
    assert issuer.refused >= 1
    assert credentials.fetches == issuer.issued == 2


def test_esplora_refused_static_token_is_not_retried(rt: Regtest, issuer: TokenIssuer) -> None:
    with esplora(rt, "not-a-token") as client, pytest.raises(AuthenticationFailed):
        client.tip()
    assert issuer.refused == 1  # a static token cannot be renewed: no second attempt
    with (
        EsploraClient(rt.esplora_url, NETWORK) as anonymous,
        pytest.raises(AuthenticationFailed, match="no token"),
    ):
        anonymous.tip()


def test_esplora_spent_credits_are_typed(rt: Regtest, issuer: TokenIssuer) -> None:
    issuer.credits = 0
    with esplora(rt, login(rt)) as client, pytest.raises(InsufficientCredits, match="402"):
        client.tip()


def test_esplora_rate_limit_with_a_token_is_typed(rt: Regtest, issuer: TokenIssuer) -> None:
    rt.esplora_faults.set("http429")
    with esplora(rt, login(rt), max_retries=0) as client, pytest.raises(RateLimited):
        client.tip()


def test_waterfalls_sends_the_token(rt: Regtest, issuer: TokenIssuer) -> None:
    credentials = login(rt)
    url = rt.waterfalls_url
    with WaterfallsClient(url, NETWORK, token=credentials, allow_insecure_auth=True) as client:
        client.tip()
        issuer.expire_after(2)
        assert paid(client) == sum(PAYMENTS)
    assert credentials.fetches == issuer.issued == 2


# -- never in the clear ------------------------------------------------------------------


def test_tokens_over_plain_connections_need_an_opt_in(rt: Regtest) -> None:
    with pytest.raises(InsecureTransport):
        EsploraClient(rt.esplora_url, NETWORK, token=StaticToken("t0ken"))
    with pytest.raises(InsecureTransport):
        WaterfallsClient(rt.waterfalls_url, NETWORK, token="t0ken")
    with pytest.raises(InsecureTransport):
        ElectrumClient.from_url(rt.electrum_url, token="t0ken")
    with pytest.raises(InsecureTransport):
        ClientCredentials(rt.token_url, CLIENT_ID, SECRET)  # the secret over plain http
    EsploraClient("https://example.invalid/api", NETWORK, token="t0ken")  # TLS: fine


# -- Electrum (TLS, the certificate pinned) ----------------------------------------------


def electrum(rt: Regtest, token: object) -> ElectrumClient:
    return ElectrumClient.from_url(
        rt.electrum_ssl_url,
        cert_fingerprint=rt.cert_fingerprint,
        token=token,  # type: ignore[arg-type]
    )


def test_electrum_token_expired_at_reconnection_is_renewed(
    rt: Regtest, issuer: TokenIssuer
) -> None:
    credentials = login(rt)
    with electrum(rt, credentials) as client:
        assert paid(client) == sum(PAYMENTS)
        # the token expires and the proxy drops the connection (a restart, an idle close)
        issuer.expire_all()
        rt.electrum_ssl_server.disconnect_all()
        assert paid(client) == sum(PAYMENTS)  # the next sync reconnects, renews, goes on
    assert issuer.refused == 1  # the reconnection's first request, with the old token
    assert credentials.fetches == issuer.issued == 2


def test_async_electrum_token_expired_at_reconnection_is_renewed(
    rt: Regtest, issuer: TokenIssuer
) -> None:
    credentials = login(rt)

    async def run() -> int:
        client = AsyncElectrumClient.from_url(
            rt.electrum_ssl_url, cert_fingerprint=rt.cert_fingerprint, token=credentials
        )
        async with client:
            await client.tip()
            issuer.expire_all()
            rt.electrum_ssl_server.disconnect_all()
            return await paid_async(client)

    assert asyncio.run(run()) == sum(PAYMENTS)
    assert issuer.refused == 1
    assert credentials.fetches == issuer.issued == 2


@pytest.mark.parametrize("make", [esplora, electrum])
def test_a_revoked_client_is_an_authentication_error(
    rt: Regtest, issuer: TokenIssuer, make: Callable[[Regtest, object], Client]
) -> None:
    credentials = login(rt)
    with make(rt, credentials) as client:
        client.tip()
        issuer.revoke(CLIENT_ID)  # its tokens stop working, and no new one is issued
        rt.electrum_ssl_server.disconnect_all()  # Electrum checks tokens when connecting
        with pytest.raises(AuthenticationFailed) as failed:
            client.tip()
    assert failed.value.error == "invalid_client"  # the token endpoint's verdict
    assert credentials.fetches == 1


def test_electrum_refused_static_token_and_no_token(rt: Regtest, issuer: TokenIssuer) -> None:
    with electrum(rt, "not-a-token") as client, pytest.raises(AuthenticationFailed):
        client.tip()
    assert issuer.refused == 1  # a static token cannot be renewed: no second connection
    with electrum(rt, None) as anonymous, pytest.raises(AuthenticationFailed):
        anonymous.tip()


def test_electrum_spent_credits_are_typed(rt: Regtest, issuer: TokenIssuer) -> None:
    issuer.credits = 0
    with electrum(rt, login(rt)) as client, pytest.raises(InsufficientCredits):
        client.tip()


def test_a_chain_fails_over_from_a_refused_backend(rt: Regtest, issuer: TokenIssuer) -> None:
    refused = esplora(rt, "revoked-t0ken")
    with BackendChain([refused, electrum(rt, login(rt))]) as chain:
        assert paid(chain) == sum(PAYMENTS)


def test_a_token_about_to_expire_is_renewed_before_any_refusal(
    rt: Regtest, issuer: TokenIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider's clock jumps past 90% of the announced lifetime (`expires_in`): the
    next request goes with a new token, and the server never refuses one."""
    offset = [0.0]

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return time.monotonic() + offset[0]

    monkeypatch.setattr(lwk_core.auth, "time", Clock)
    credentials = login(rt)
    with esplora(rt, credentials) as client:
        client.tip()
        offset[0] = issuer.lifetime * 0.95
        client.tip()
    assert credentials.fetches == issuer.issued == 2
    assert issuer.refused == 0
