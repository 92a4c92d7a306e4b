"""The token provider without servers: the sans-IO cache (its clock given), the blocking and
async drivers over a fake token endpoint, and the wire form of the Electrum token.

Expected values come from RFC 6749 (sections 4.4 and 5) and from LWK's wire behaviour
(Blockstream/lwk, lwk_wollet/src/clients/oauth.rs: the form fields, scope=openid).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import urllib.parse

import pytest
from lwk_electrum._framing import encode_requests

from lwk_core import (
    AuthenticationFailed,
    BackendConnectError,
    BackendProtocolError,
    InsecureTransport,
    RateLimited,
)
from lwk_core._token import REFRESH_MARGIN, TokenCache
from lwk_core.auth import ClientCredentials, StaticToken, TokenRequest, as_token_provider

URL = "https://login.example/realms/x/protocol/openid-connect/token"


def answer(token: str, expires_in: object = 300) -> str:
    return json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": expires_in})


def test_the_request_is_rfc6749_client_credentials_as_lwk_sends_it() -> None:
    request = TokenCache(URL, "id-1", "s&cret=").request()
    assert request.url == URL
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert urllib.parse.parse_qs(request.body.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": ["id-1"],
        "client_secret": ["s&cret="],
        "scope": ["openid"],
    }
    assert "s&cret" not in repr(request)


def test_a_token_is_kept_until_shortly_before_it_expires() -> None:
    cache = TokenCache(URL, "id", "secret")
    assert cache.current(0.0) is None
    assert cache.accept(200, answer("t1", 300).encode(), now=1000.0) == "t1"
    renew_at = 1000.0 + 300 - REFRESH_MARGIN
    assert cache.current(renew_at - 0.001) == "t1"
    assert cache.current(renew_at) is None  # renewed before the server would refuse it
    # a short lifetime renews at nine tenths of it, not at once
    cache.accept(200, answer("t2", 10).encode(), now=0.0)
    assert (cache.current(8.99), cache.current(9.0)) == ("t2", None)
    # without expires_in the token is kept until a server refuses it
    cache.accept(200, json.dumps({"access_token": "t3"}).encode(), now=0.0)
    assert cache.current(1e9) == "t3"
    assert cache.fetches == 3


def test_a_refusal_drops_only_the_token_refused() -> None:
    cache = TokenCache(URL, "id", "secret")
    cache.accept(200, answer("old").encode(), now=0.0)
    cache.refused("old")
    assert cache.current(1.0) is None
    cache.accept(200, answer("new").encode(), now=1.0)
    cache.refused("old")  # a late refusal of the previous token: the new one stays
    assert cache.current(2.0) == "new"


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (401, b'{"error":"invalid_client"}', AuthenticationFailed, "invalid_client"),
        (
            400,
            b'{"error":"invalid_grant","error_description":"x"}',
            AuthenticationFailed,
            "invalid_grant",
        ),
        (400, b"<html>", AuthenticationFailed, None),
        (429, b"", RateLimited, None),
        (503, b"", RateLimited, None),
        (500, b"", BackendConnectError, None),
        (404, b"", BackendProtocolError, None),
        (200, b"not json", BackendProtocolError, None),
        (200, b'{"token_type":"Bearer"}', BackendProtocolError, None),
        (200, b'{"access_token":"a b"}', BackendProtocolError, None),
        (200, b'{"access_token":"t","token_type":"mac"}', BackendProtocolError, None),
        (200, b'{"access_token":"t","expires_in":-5}', BackendProtocolError, None),
        (200, b'{"access_token":"t","expires_in":true}', BackendProtocolError, None),
    ],
)
def test_token_endpoint_answers_are_typed(
    status: int, body: bytes, error: type[Exception], code: str | None
) -> None:
    cache = TokenCache(URL, "id", "secret")
    with pytest.raises(error) as raised:
        cache.accept(status, body, now=0.0)
    assert "secret" not in f"{raised.value}{raised.value!r}"
    if isinstance(raised.value, AuthenticationFailed):
        assert raised.value.error == code
    assert cache.current(0.0) is None


def test_plain_http_token_endpoints_need_an_opt_in() -> None:
    with pytest.raises(InsecureTransport):
        ClientCredentials("http://login.example/token", "id", "secret")
    ClientCredentials("http://127.0.0.1:1/token", "id", "secret", allow_insecure=True)
    with pytest.raises(ValueError):
        ClientCredentials("ftp://login.example/token", "id", "secret")


class Endpoint:
    """A token endpoint answering t1, t2, ... (each valid for `lifetime` seconds)."""

    def __init__(self, lifetime: object = 300) -> None:
        self.lifetime = lifetime
        self.requests: list[TokenRequest] = []
        self.lock = threading.Lock()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def post(self, request: TokenRequest, timeout: float) -> tuple[int, bytes]:
        self.entered.set()
        self.release.wait(10)
        with self.lock:
            self.requests.append(request)
            n = len(self.requests)
        return 200, answer(f"t{n}", self.lifetime).encode()


def test_client_credentials_fetch_once_and_renew_after_a_refusal() -> None:
    endpoint = Endpoint()
    login = ClientCredentials(URL, "id", "secret", post=endpoint.post)
    assert [login.token(), login.token()] == ["t1", "t1"]
    assert login.refused("t1") is True
    assert login.token() == "t2"
    assert login.fetches == len(endpoint.requests) == 2
    assert "secret" not in repr(login) and "t2" not in repr(login)


def test_threads_waiting_for_a_token_share_one_fetch() -> None:
    endpoint = Endpoint()
    endpoint.release.clear()
    login = ClientCredentials(URL, "id", "secret", post=endpoint.post)
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda: tokens.append(login.token())) for _ in range(6)]
    for thread in threads:
        thread.start()
    assert endpoint.entered.wait(10)  # one thread is fetching, the others wait for it
    endpoint.release.set()
    for thread in threads:
        thread.join(10)
    assert tokens == ["t1"] * 6
    assert len(endpoint.requests) == 1


def test_a_refusal_does_not_wait_for_a_fetch_in_progress() -> None:
    """An event loop reports refusals: it must not block behind another thread's fetch."""
    endpoint = Endpoint()
    endpoint.release.clear()  # the fetch hangs until released
    login = ClientCredentials(URL, "id", "secret", post=endpoint.post)
    fetching = threading.Thread(target=login.token)
    fetching.start()
    assert endpoint.entered.wait(10)
    reporting = threading.Thread(target=login.refused, args=("t0",))
    reporting.start()
    reporting.join(10)  # generous: it takes microseconds, unless it waits for the fetch
    done = not reporting.is_alive()
    endpoint.release.set()
    fetching.join(10)
    assert done


def test_async_callers_share_the_cached_token() -> None:
    endpoint = Endpoint()
    login = ClientCredentials(URL, "id", "secret", post=endpoint.post)

    async def many() -> list[str]:
        first = await login.atoken()
        rest = await asyncio.gather(*(login.atoken() for _ in range(5)))
        login.refused(first)
        return [first, *rest, await login.atoken()]

    assert asyncio.run(many()) == ["t1"] * 6 + ["t2"]
    assert len(endpoint.requests) == 2


def test_static_tokens_are_hidden_and_not_renewable() -> None:
    token = StaticToken("abc.def")
    assert (token.token(), token.refused("abc.def")) == ("abc.def", False)
    assert "abc" not in repr(token)
    assert isinstance(as_token_provider("abc.def"), StaticToken)
    assert as_token_provider(None) is None
    for bad in ("", "a b", "x\n"):
        with pytest.raises(TypeError):
            StaticToken(bad)
    with pytest.raises(TypeError):
        as_token_provider(42)  # type: ignore[arg-type]


def test_electrum_requests_carry_the_token_in_an_authorization_member() -> None:
    line = encode_requests([7], [("server.version", ["lwk", "1.4"])], "Bearer t0k")
    assert json.loads(line) == {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "server.version",
        "params": ["lwk", "1.4"],
        "authorization": "Bearer t0k",
    }
    assert "authorization" not in json.loads(encode_requests([1], [("server.ping", [])]))


def test_an_unreachable_token_endpoint_is_a_connect_error() -> None:
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    login = ClientCredentials(f"http://127.0.0.1:{port}/token", "id", "s3cr3t", allow_insecure=True)
    with pytest.raises(BackendConnectError) as failed:
        login.token()
    assert failed.value.backend == f"http://127.0.0.1:{port}"
    assert "s3cr3t" not in str(failed.value)
