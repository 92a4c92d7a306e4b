"""OAuth2 client credentials (RFC 6749 section 4.4) without I/O: the token request, the
reading of the token endpoint's answer, and when the cached token must be renewed.

`TokenCache` holds the decisions alone; `lwk_core.auth.ClientCredentials` drives it over a
blocking or an asyncio caller. The request is the one Blockstream's enterprise login
(Keycloak) takes, as LWK sends it (Blockstream/lwk, lwk_wollet/src/clients/oauth.rs): a
form POST of grant_type, client_id, client_secret and scope=openid, answered by JSON with
`access_token` and, optionally, `expires_in` seconds (RFC 6749 section 5.1).
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from typing import Final

import attrs

from ._errors import (
    AuthenticationFailed,
    BackendConnectError,
    BackendProtocolError,
    InsecureTransport,
    RateLimited,
)

__all__ = ["MAX_TOKEN_BODY", "REFRESH_MARGIN", "TokenCache", "TokenRequest", "origin"]

MAX_TOKEN_BODY: Final = 64 * 1024  # a token answer is a few KiB (a JWT); larger is refused
REFRESH_MARGIN: Final = 30.0  # renew this many seconds before expiry (a tenth if shorter)
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")  # RFC 6749 section 5.2 error codes


def origin(url: str) -> str:
    """scheme://host:port of `url`: what errors and logs name (never its path or query)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{host}:{port}"


@attrs.frozen
class TokenRequest:
    """One POST to the token endpoint; the body holds the client secret (never shown)."""

    url: str
    body: bytes = attrs.field(repr=False)
    headers: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen
class _Token:
    value: str = attrs.field(repr=False)
    renew_at: float | None  # monotonic seconds; None: kept until a server refuses it


class TokenCache:
    """The token of one OAuth2 client: fetched when missing or about to expire, dropped
    when a server refuses it. Not thread-safe: its driver serializes the calls."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = "openid",
        allow_insecure: bool = False,
    ) -> None:
        for value, what in ((token_url, "token_url"), (client_id, "client_id")):
            if not isinstance(value, str) or not value:
                raise TypeError(f"{what} must be a non-empty str")
        if not isinstance(client_secret, str) or not client_secret:
            raise TypeError("client_secret must be a non-empty str")
        scheme = urllib.parse.urlsplit(token_url).scheme
        if scheme not in ("http", "https"):
            raise ValueError("token_url must be an http:// or https:// URL")
        self.name = origin(token_url)
        if scheme == "http" and not allow_insecure:
            raise InsecureTransport(
                f"refusing to send client credentials to {self.name} without TLS"
                " (use https://, or allow_insecure=True for a loopback endpoint)"
            )
        form = {"grant_type": "client_credentials", "client_id": client_id}
        form["client_secret"] = client_secret
        if scope:
            form["scope"] = scope
        self._request = TokenRequest(
            token_url,
            urllib.parse.urlencode(form).encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        self._token: _Token | None = None
        self.fetches = 0  # token responses accepted

    def current(self, now: float) -> str | None:
        """The cached token, or None: fetch one (`request`, then `accept`)."""
        token = self._token
        if token is None or (token.renew_at is not None and now >= token.renew_at):
            return None
        return token.value

    def request(self) -> TokenRequest:
        return self._request

    def accept(self, status: int, body: bytes, now: float) -> str:
        """Read the token endpoint's answer: the new token (cached), or a typed error."""
        if status == 200:
            value, lifetime = self._parse(body)
            renew_at = None
            if lifetime is not None:
                renew_at = now + lifetime - min(REFRESH_MARGIN, lifetime / 10)
            self._token = _Token(value, renew_at)
            self.fetches += 1
            return value
        self._token = None
        what = f"token endpoint answered HTTP {status}"
        if status in (400, 401, 403):
            code = _error_code(body)
            shown = f" ({code})" if code else ""
            raise AuthenticationFailed(f"{what}{shown}", backend=self.name, error=code)
        if status in (429, 503):
            raise RateLimited(what, backend=self.name)
        if status >= 500:
            raise BackendConnectError(what, backend=self.name)
        raise BackendProtocolError(what, backend=self.name)

    def refused(self, token: str) -> None:
        """A server refused `token`: forget it, unless a newer one replaced it already
        (the first of many requests refused together renews it, the others reuse that)."""
        if self._token is not None and self._token.value == token:
            self._token = None

    def _parse(self, body: bytes) -> tuple[str, float | None]:
        try:
            answer = json.loads(body)
        except (ValueError, RecursionError):
            answer = None
        if not isinstance(answer, dict):
            raise BackendProtocolError("token answer is not a JSON object", backend=self.name)
        value = answer.get("access_token")
        if not isinstance(value, str) or not value or not value.isprintable() or " " in value:
            raise BackendProtocolError("token answer has no usable access_token", backend=self.name)
        kind = answer.get("token_type", "Bearer")
        if not isinstance(kind, str) or kind.lower() != "bearer":
            raise BackendProtocolError("token answer is not a Bearer token", backend=self.name)
        lifetime = answer.get("expires_in")
        if lifetime is None:
            return value, None
        if (
            isinstance(lifetime, bool)
            or not isinstance(lifetime, int | float)
            or not math.isfinite(lifetime)
            or lifetime <= 0
        ):
            raise BackendProtocolError("token answer has a bad expires_in", backend=self.name)
        return value, float(lifetime)


def _error_code(body: bytes) -> str | None:
    """The RFC 6749 section 5.2 `error` code of an error answer, if it is one."""
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        return None
    code = answer.get("error") if isinstance(answer, dict) else None
    return code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else None
