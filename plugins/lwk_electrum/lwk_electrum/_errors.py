"""The one error lwk-electrum adds to lwk_core's tree, and reading the node's verdict in it."""

from __future__ import annotations

import json
import re
from typing import Any

from lwk_core.plugin import BackendError

__all__ = ["ElectrumError", "broadcast_reason"]

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
            message = error.get("message")
            return cls(
                code if isinstance(code, int) and not isinstance(code, bool) else None,
                message if isinstance(message, str) else repr(error),
                backend=backend,
            )
        return cls(None, error if isinstance(error, str) else repr(error), backend=backend)


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
