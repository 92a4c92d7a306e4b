"""An OAuth2 token issuer for the embedded servers, as Blockstream's enterprise gateway
behaves (Blockstream/lwk, lwk_wollet/tests/e2e authenticated tests): client credentials
(RFC 6749 section 4.4) exchanged for bearer tokens, tokens checked on each request,
credits spent per request.

Tests steer it: `lifetime` (the `expires_in` announced, and enforced), `uses` (requests a
token serves before it counts as expired) and `expire_after(n)` (every token issued so far
expires after n more requests): expiries in the middle of a scan without waiting for a
clock; `expire_all()`, `revoke(client_id)`, `credits` (None: unlimited).
It counts what happened: `issued` tokens, `refused` requests (bad or expired token).
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.parse
from typing import Final, Literal

import attrs

__all__ = ["TOKEN_PATH", "TokenIssuer", "Verdict"]

TOKEN_PATH: Final = "/oauth/token"  # served by an EsploraServer given a TokenIssuer

Verdict = Literal["ok", "unauthorized", "no_credits"]


@attrs.define
class _Issued:
    client_id: str
    expires_at: float
    uses_left: int | None


class TokenIssuer:
    """Client credentials in, bearer tokens out; thread-safe."""

    def __init__(
        self,
        clients: dict[str, str],
        *,
        lifetime: float = 300.0,
        uses: int | None = None,
        credits: int | None = None,
    ) -> None:
        self.clients = dict(clients)
        self.lifetime = lifetime
        self.uses = uses
        self.credits = credits
        self.issued = 0
        self.refused = 0
        self._tokens: dict[str, _Issued] = {}
        self._countdown: int | None = None  # requests until every token expires
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<TokenIssuer {len(self.clients)} clients, {self.issued} tokens issued>"

    def revoke(self, client_id: str) -> None:
        """The client's credentials and its tokens stop working."""
        with self._lock:
            self.clients.pop(client_id, None)
            self._tokens = {t: i for t, i in self._tokens.items() if i.client_id != client_id}

    def expire_all(self) -> None:
        with self._lock:
            self._tokens.clear()

    def expire_after(self, requests: int) -> None:
        """The tokens issued so far serve `requests` more requests (in all), then expire."""
        with self._lock:
            self._countdown = requests

    def token_reply(self, body: bytes) -> tuple[int, dict[str, object]]:
        """The token endpoint: (HTTP status, JSON answer) for a form-encoded POST body."""
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        field = {k: v[0] for k, v in form.items() if len(v) == 1}
        if field.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        client_id, secret = field.get("client_id", ""), field.get("client_secret", "")
        with self._lock:
            known = self.clients.get(client_id)
            if known is None or not secrets.compare_digest(known.encode(), secret.encode()):
                return 401, {"error": "invalid_client"}  # RFC 6749 section 5.2
            token = secrets.token_urlsafe(24)
            self._tokens[token] = _Issued(client_id, time.monotonic() + self.lifetime, self.uses)
            self.issued += 1
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime}

    def check(self, authorization: str | None) -> Verdict:
        """Whether a request carrying this Authorization value is served (one use spent)."""
        scheme, _, token = (authorization or "").partition(" ")
        with self._lock:
            if self._countdown is not None:
                self._countdown -= 1
                if self._countdown < 0:
                    self._tokens.clear()
                    self._countdown = None
            issued = self._tokens.get(token) if scheme.lower() == "bearer" else None
            if issued is not None and (
                time.monotonic() >= issued.expires_at or issued.uses_left == 0
            ):
                del self._tokens[token]
                issued = None
            if issued is None:
                self.refused += 1
                return "unauthorized"
            if issued.uses_left is not None:
                issued.uses_left -= 1
            return self._charge()

    def charge(self) -> Verdict:
        """Spend one credit for a request on a connection already authenticated."""
        with self._lock:
            return self._charge()

    def _charge(self) -> Verdict:
        if self.credits is None:
            return "ok"
        if self.credits <= 0:
            return "no_credits"
        self.credits -= 1
        return "ok"
