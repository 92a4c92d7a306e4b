"""One HTTP answer of an Esplora server: the `Reply` and the capped, deadline-bound reading
of its streamed body."""

from __future__ import annotations

import re
import time

import attrs
import httpx

from ._decode import BodyDecoder, EncodingRefused

__all__ = ["Reply", "TooSlow", "describe", "read_body"]

_HASH = re.compile(r"[0-9a-fA-F]{64}")


@attrs.frozen
class Reply:
    """A complete HTTP answer: status, body (capped) and the headers we act on."""

    status: int
    body: bytes = attrs.field(repr=False)
    retry_after: str | None = None

    def message(self, *, elide: bool = True) -> str:
        """The body as printable text for error messages: short and with hashes elided
        (they may identify the wallet's scripts) unless `elide` is False."""
        text = self.body.decode("utf-8", "replace").strip()
        if elide:
            text = _HASH.sub("<hash>", text[:300])
        return "".join(ch if ch.isprintable() else "?" for ch in text) or "(empty body)"


class TooSlow(Exception):
    """The deadline passed while a body was read (a transport without `_deadline`'s)."""


def read_body(resp: httpx.Response, cap: int, deadline: float, *, truncate: bool) -> bytes | None:
    """Read and decode a streamed body up to `cap` decoded bytes and until `deadline`.

    Above the cap: what was read (`truncate`) or None; past the deadline: TooSlow; an
    encoding that is not accepted or does not decode: EncodingRefused (unless `truncate`:
    an error text is then empty). Stopping early closes the connection instead of
    returning it to the pool.
    """
    body = bytearray()
    try:
        decoder = BodyDecoder(resp.headers.get("content-encoding"))
        if resp.is_stream_consumed:  # a custom transport's in-memory response: httpx read
            content = resp.content  # and decoded it already, there is nothing to stream
            return content[:cap] if truncate or len(content) <= cap else None
        for chunk in resp.iter_raw():
            if time.monotonic() > deadline:
                raise TooSlow
            for piece in decoder.decode(chunk):
                body += piece
                if len(body) > cap:
                    return bytes(body[:cap]) if truncate else None
        decoder.finish()
    except EncodingRefused:
        if truncate:
            return bytes(body)
        raise
    return bytes(body)


def describe(exc: Exception) -> str:
    """A short cause without URLs (httpx messages may contain the request path)."""
    text = _HASH.sub("<hash>", str(exc)).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
