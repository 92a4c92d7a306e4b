"""The errors lwk-electrum adds to lwk_core's tree, and reading the node's verdict in them.

ElectrumError is an error reply; the replies of Blockstream's authenticating Electrum proxy
are also lwk_core's typed errors: -32004 (authentication required) AuthenticationFailed,
-32000 "insufficient credits" InsufficientCredits (the codes LWK matches:
Blockstream/lwk, lwk_wollet/src/clients/blocking/electrum_client.rs and its e2e tests).
"""

from __future__ import annotations

import json
import re
from typing import Any

from lwk_core.plugin import AuthenticationFailed, BackendError, InsufficientCredits

__all__ = [
    "AUTHENTICATION_REQUIRED",
    "INSUFFICIENT_CREDITS",
    "ElectrumAuthenticationFailed",
    "ElectrumError",
    "ElectrumInsufficientCredits",
    "broadcast_reason",
]

AUTHENTICATION_REQUIRED = -32004
INSUFFICIENT_CREDITS = -32000

_RPC_REASON = re.compile(r"RPC error -?\d+: (.+)", re.DOTALL)

_MAX_MESSAGE = 500


class ElectrumError(BackendError):
    """The server answered a request with a JSON-RPC error.

    Both shapes electrs uses are accepted: a bare string (older builds, `code` is None) and
    `{"code": C, "message": M}` (newer builds).
    """

    def __init__(self, code: int | None, message: str, *, backend: str | None = None) -> None:
        shown = message if len(message) <= _MAX_MESSAGE else message[:_MAX_MESSAGE] + "..."
        super().__init__(
            f"server error {code}: {shown}" if code is not None else f"server error: {shown}",
            backend=backend,
        )
        self.code = code
        self.message = message

    @classmethod
    def from_reply(cls, error: Any, *, backend: str | None) -> ElectrumError:
        """Build from the `error` member of a reply, whatever its shape."""
        if isinstance(error, dict):
            code = error.get("code")
            code = code if isinstance(code, int) and not isinstance(code, bool) else None
            message = error.get("message")
            message = message if isinstance(message, str) else repr(error)
            return _kind(code, message)(code, message, backend=backend)
        return cls(None, error if isinstance(error, str) else repr(error), backend=backend)


class ElectrumAuthenticationFailed(ElectrumError, AuthenticationFailed):
    """The proxy refused our token (or its absence): JSON-RPC error -32004."""


class ElectrumInsufficientCredits(ElectrumError, InsufficientCredits):
    """The proxy refused the request for want of credits: JSON-RPC error -32000."""


def _kind(code: int | None, message: str) -> type[ElectrumError]:
    if code == AUTHENTICATION_REQUIRED:
        return ElectrumAuthenticationFailed
    # -32000 is JSON-RPC's generic server error: a credits refusal only if it says so
    if code == INSUFFICIENT_CREDITS and "credit" in message.lower():
        return ElectrumInsufficientCredits
    return ElectrumError


def broadcast_reason(message: str) -> str:
    """The node's reject reason inside an electrs broadcast error, in either generation:

    - `sendrawtransaction RPC error -26: bad-txns-inputs-missingorspent` (newer);
    - `sendrawtransaction RPC error: {"code":-26,"message":"bad-txns-..."}` (older).
    """
    start = message.find("{")
    if start >= 0:
        try:
            inner = json.loads(message[start:])
        except (ValueError, RecursionError):  # a server's text may nest absurdly deep
            inner = None
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    match = _RPC_REASON.search(message)
    return match.group(1).strip() if match else message.strip()
