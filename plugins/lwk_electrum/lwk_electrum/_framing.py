"""Electrum's wire framing, without I/O: one JSON-RPC message per line, both ways.

Requests go out as request lines (never a JSON array, which electrs builds answer
differently or not at all). Incoming bytes are fed to a `LineReader` that hands out whole
messages and refuses a line longer than `max_line` before buffering more of it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from lwk_core.plugin import BackendProtocolError

__all__ = ["MAX_LINE", "Call", "LineReader", "encode_requests"]

MAX_LINE: Final = 8 * 1024 * 1024

Call = tuple[str, Sequence[Any]]

# json.dumps' work without its per-call checks and encoder construction (a first scan of
# many wallets writes tens of thousands of request lines)
_encode = json.JSONEncoder(separators=(",", ":")).encode


def encode_requests(
    ids: Sequence[int], calls: Sequence[Call], authorization: str | None = None
) -> bytes:
    """The request lines for `calls`, numbered `ids`; `authorization` (a bearer token's
    header value) goes in each request's `authorization` member, where Blockstream's
    authenticating Electrum proxy reads it (as LWK sends it: Blockstream/lwk,
    lwk_wollet/src/clients/blocking/electrum_client.rs, through electrum-client's
    authorization provider)."""
    extra = {} if authorization is None else {"authorization": authorization}
    lines = [
        _encode({"jsonrpc": "2.0", "id": i, "method": method, "params": list(params), **extra})
        for i, (method, params) in zip(ids, calls, strict=True)
    ]
    lines.append("")  # each line ends with a newline
    return "\n".join(lines).encode()


class LineReader:
    """Bytes in, JSON objects out; blank lines are skipped."""

    def __init__(self, max_line: int, *, backend: str) -> None:
        self.max_line = max_line
        self._backend = backend
        self._buf = bytearray()
        self._searched = 0  # bytes of _buf already searched for a newline

    def feed(self, data: bytes) -> None:
        self._buf += data

    def clear(self) -> None:
        self._buf.clear()
        self._searched = 0

    def next_message(self) -> dict[str, Any] | None:
        """The next complete message, or None until more bytes are fed."""
        while True:
            newline = self._buf.find(b"\n", self._searched)
            if newline < 0:
                self._searched = len(self._buf)
                self._check_size(len(self._buf))
                return None
            line = bytes(self._buf[:newline])
            del self._buf[: newline + 1]
            self._searched = 0
            self._check_size(len(line))
            if line.strip():
                return self._parse(line)

    def _check_size(self, size: int) -> None:
        if size > self.max_line:
            raise BackendProtocolError(
                f"a reply line exceeds {self.max_line} bytes", backend=self._backend
            )

    def _parse(self, line: bytes) -> dict[str, Any]:
        try:
            msg = json.loads(line)
        except (ValueError, RecursionError):
            raise BackendProtocolError("reply is not valid JSON", backend=self._backend) from None
        if not isinstance(msg, dict):
            raise BackendProtocolError("reply is not a JSON object", backend=self._backend)
        return msg
