"""Content-Encoding decoding that never produces more than the caller can still take.

httpx decodes each received chunk whole: 64 KiB of gzip inflate to 64 MB, and a
`gzip, gzip` body of 1.8 kB to 1 GB, before any size cap can look at them. Here the
inflater is asked for at most `PIECE` bytes at a time (zlib keeps the unconsumed input),
so the caller counts decoded bytes as they appear and stops at its cap.

Accepted: no encoding (or `identity`) and one `gzip` (what the client asks for with
`Accept-Encoding: gzip`). Stacked encodings, `deflate`, `br`, `zstd` and unknown names
are refused, as are bytes after the end of the gzip stream and a stream that ends early.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Final

__all__ = ["ACCEPT_ENCODING", "BodyDecoder", "EncodingRefused"]

ACCEPT_ENCODING: Final = "gzip"
PIECE: Final = 64 * 1024  # largest decoded piece produced at once


class EncodingRefused(Exception):
    """A body whose encoding is not accepted or does not decode."""


class BodyDecoder:
    """Decodes one body, chunk by chunk, in pieces of at most `PIECE` bytes."""

    def __init__(self, content_encoding: str | None) -> None:
        names = [n.strip().lower() for n in (content_encoding or "").split(",")]
        names = [n for n in names if n and n != "identity"]
        if len(names) > 1:
            raise EncodingRefused(f"stacked content encodings are refused ({_shown(names)})")
        if names and names[0] not in ("gzip", "x-gzip"):
            raise EncodingRefused(f"content encoding {_shown(names)} is not accepted")
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if names else None

    def decode(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of the next raw chunk, as pieces of at most `PIECE` bytes."""
        z = self._inflater
        if z is None:  # raw chunks are already small (httpcore reads 64 KiB at most)
            if data:
                yield data
            return
        while data:
            if z.eof:
                raise EncodingRefused("bytes after the end of the gzip stream")
            try:
                piece = z.decompress(data, PIECE)
            except zlib.error as exc:
                raise EncodingRefused(f"gzip body does not decode: {exc}") from None
            if z.unused_data:  # set only once the stream ended
                raise EncodingRefused("bytes after the end of the gzip stream")
            data = z.unconsumed_tail
            if piece:
                yield piece

    def finish(self) -> None:
        """The body ended: refuse a gzip stream cut short."""
        if self._inflater is not None and not self._inflater.eof:
            raise EncodingRefused("gzip body ends before its stream does")


def _shown(names: list[str]) -> str:
    text = ", ".join(names)[:60]
    return "".join(ch if ch.isprintable() else "?" for ch in text)
