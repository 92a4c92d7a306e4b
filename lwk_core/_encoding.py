"""Writing Bitcoin/Elements serialization primitives (the reader is in _reader)."""

from __future__ import annotations

__all__ = ["compact_size", "varbytes"]


def compact_size(n: int) -> bytes:
    """CompactSize encoding of `n` (up to 2**32 - 1)."""
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    return b"\xfe" + n.to_bytes(4, "little")


def varbytes(data: bytes) -> bytes:
    """`data` prefixed with its CompactSize length."""
    return compact_size(len(data)) + data
