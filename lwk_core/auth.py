"""Bearer tokens for authenticated backends (Blockstream's enterprise Esplora and Electrum).

    from lwk_core.auth import ClientCredentials
    from lwk_esplora import EsploraClient

    login = ClientCredentials(
        "https://login.blockstream.com/realms/blockstream-public/protocol/openid-connect/token",
        client_id, client_secret,
    )
    client = EsploraClient("https://enterprise.blockstream.info/liquid/api", network, token=login)

A client takes `token=` as a str (a `StaticToken`) or a `TokenProvider`. `ClientCredentials`
(OAuth2 client credentials, RFC 6749 section 4.4) fetches a token on first use, caches it,
renews it shortly before it expires, and again when a server refuses it (the client then
retries its request once). One provider may serve several clients, blocking and async;
its blocking side is thread-safe. Tokens and secrets never appear in reprs, logs or errors.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._errors import BackendConnectError, BackendTimeout, InsecureTransport
from ._token import MAX_TOKEN_BODY, TokenCache, TokenRequest, origin

if TYPE_CHECKING:  # imported when used: a client without a token never holds them
    import ssl

__all__ = [
    "ClientCredentials",
    "StaticToken",
    "TokenProvider",
    "TokenRequest",
    "as_token_provider",
    "bearer",
    "refuse_insecure",
]

log = logging.getLogger("lwk_core.auth")

Post = Callable[[TokenRequest, float], tuple[int, bytes]]
"""Send a token request within a timeout (seconds): (HTTP status, body). Blocking."""


class TokenProvider(abc.ABC):
    """What a client asks for the bearer token it sends, and tells when a server refused it."""

    @abc.abstractmethod
    def token(self) -> str:
        """The token to send now (blocking: may fetch one)."""

    async def atoken(self) -> str:
        """`token()` for asyncio callers (never blocks the event loop)."""
        return self.token()

    def refused(self, token: str) -> bool:
        """A server refused `token`: True if asking again may give one it accepts."""
        return False


class StaticToken(TokenProvider):
    """A token obtained elsewhere; it cannot be renewed."""

    def __init__(self, token: str) -> None:
        if not isinstance(token, str) or not token or not token.isprintable() or " " in token:
            raise TypeError("a token must be a non-empty str without spaces")
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken(<hidden>)"

    def token(self) -> str:
        return self._token


class ClientCredentials(TokenProvider):
    """OAuth2 client credentials: tokens fetched from `token_url` and renewed as needed.

    Constructing it does no I/O. `scope` defaults to "openid" as Blockstream's login wants.
    A plain http:// `token_url` is refused (`InsecureTransport`) unless `allow_insecure`.
    `context` is the TLS context (default: the system's trust store); `post` replaces the
    HTTP exchange (tests, proxies). Errors: `AuthenticationFailed` when the endpoint refuses
    the client (revoked or wrong credentials), `RateLimited`, `BackendConnectError` or
    `BackendTimeout` when it cannot answer.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = "openid",
        timeout: float = 30.0,
        allow_insecure: bool = False,
        context: ssl.SSLContext | None = None,
        post: Post | None = None,
    ) -> None:
        self._cache = TokenCache(
            token_url, client_id, client_secret, scope=scope, allow_insecure=allow_insecure
        )
        self.name = self._cache.name
        self.timeout = float(timeout)
        self._post = post if post is not None else _urllib_post(context)
        self._fetching = threading.Lock()  # one fetch at a time; the others wait for it
        self._state = threading.Lock()  # the cache, held briefly (never during a fetch)

    def __repr__(self) -> str:
        return f"ClientCredentials({self.name})"

    @property
    def fetches(self) -> int:
        """How many tokens were fetched so far."""
        return self._cache.fetches

    def token(self) -> str:
        with self._fetching:
            cached = self._cached()
            if cached is not None:
                return cached
            log.debug("%s: fetching a token", self.name)
            status, body = self._post(self._cache.request(), self.timeout)
            with self._state:
                return self._cache.accept(status, body, time.monotonic())

    async def atoken(self) -> str:
        cached = self._cached()
        if cached is not None:
            return cached
        import asyncio  # an async caller has it loaded already

        # the blocking fetch in a worker thread: rare, and it keeps one code path and lock
        return await asyncio.to_thread(self.token)

    def refused(self, token: str) -> bool:
        with self._state:  # never waits for a fetch: an event loop may be calling
            self._cache.refused(token)
        return True

    def _cached(self) -> str | None:
        with self._state:
            return self._cache.current(time.monotonic())


def _urllib_post(context: ssl.SSLContext | None) -> Post:
    """The default exchange: the standard library's HTTP client (no redirects followed),
    imported here (urllib.request, http.client and ssl: ~2 MB resident) for the processes
    that fetch tokens only."""
    import ssl
    import urllib.error
    import urllib.request

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        """A redirect is answered as what it is: the client secret is not sent on elsewhere."""

        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context or ssl.create_default_context()),
        _NoRedirect,
    )

    def post(request: TokenRequest, timeout: float) -> tuple[int, bytes]:
        http = urllib.request.Request(
            request.url, data=request.body, headers=request.headers, method="POST"
        )
        try:
            with opener.open(http, timeout=timeout) as answer:
                return answer.status, answer.read(MAX_TOKEN_BODY)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read(MAX_TOKEN_BODY)
        except TimeoutError as error:
            raise BackendTimeout(
                f"token endpoint: no answer within {timeout:g}s", backend=origin(request.url)
            ) from error
        except (urllib.error.URLError, OSError) as error:
            raise BackendConnectError(
                f"token endpoint unreachable ({type(error).__name__})", backend=origin(request.url)
            ) from error

    return post


def as_token_provider(token: str | TokenProvider | None) -> TokenProvider | None:
    """What a client's `token=` argument means: a str is a `StaticToken`."""
    if token is None or isinstance(token, TokenProvider):
        return token
    if isinstance(token, str):
        return StaticToken(token)
    raise TypeError("token must be a str, a lwk_core.auth.TokenProvider or None")


def bearer(token: str) -> str:
    """The Authorization value for `token` (RFC 6750 section 2.1)."""
    return f"Bearer {token}"


def refuse_insecure(server: str, *, encrypted: bool, allow_insecure_auth: bool) -> None:
    """Refuse (`InsecureTransport`) to send a token to `server` in the clear, unless the
    caller opted in (a loopback server, or a tunnel that encrypts)."""
    if not encrypted and not allow_insecure_auth:
        raise InsecureTransport(
            f"refusing to send a token to {server} without TLS"
            " (use TLS, or allow_insecure_auth=True for a loopback or tunnelled server)"
        )
