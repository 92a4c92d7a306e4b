"""Reading Bitcoin/Elements serialization: a bounds-checked cursor (the writer is _encoding)."""

from __future__ import annotations

import struct
from typing import Final

from ._errors import DecodeError

__all__ = ["U32", "Reader"]

_MAX_SIZE: Final = 0x02000000  # Elements' MAX_SIZE for CompactSize values
U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")
_U64 = struct.Struct("<Q")


class Reader:
    """A cursor over bytes; every read is bounds-checked and raises DecodeError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def read(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise DecodeError(f"truncated: need {n} bytes at offset {self.pos}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise DecodeError(f"truncated: need 1 byte at offset {self.pos}")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def u32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise DecodeError(f"truncated: need 4 bytes at offset {self.pos}")
        (v,) = U32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(v)

    def i32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise DecodeError(f"truncated: need 4 bytes at offset {self.pos}")
        (v,) = _I32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(v)

    def varint(self) -> int:
        """A canonical CompactSize no larger than Elements' MAX_SIZE."""
        first = self.byte()
        if first < 0xFD:
            return first
        if first == 0xFD:
            value, floor = _U16.unpack(self.read(2))[0], 0xFD
        elif first == 0xFE:
            value, floor = U32.unpack(self.read(4))[0], 0x10000
        else:
            value, floor = _U64.unpack(self.read(8))[0], 0x100000000
        if value < floor:
            raise DecodeError(f"non-canonical CompactSize at offset {self.pos}")
        if value > _MAX_SIZE:
            raise DecodeError(f"CompactSize {value} too large at offset {self.pos}")
        return int(value)

    def count(self, min_item: int) -> int:
        """A vector length, refused if the bytes left cannot hold that many items."""
        return self.bounded(self.varint(), min_item)

    def bounded(self, n: int, min_item: int) -> int:
        """`n`, a count of items of at least `min_item` bytes each, if the bytes left can
        hold that many (checked before anything is allocated for them)."""
        if n * min_item > self.remaining():
            raise DecodeError(f"count {n} exceeds the {self.remaining()} bytes left")
        return n

    def varbytes(self) -> bytes:
        return self.read(self.varint())

    def varspan(self) -> tuple[int, int]:
        """Where the next length-prefixed field lies (start, end), skipped without a copy."""
        n = self.varint()
        start, end = self.pos, self.pos + n
        if end > len(self.data):
            raise DecodeError(f"truncated: need {n} bytes at offset {start}")
        self.pos = end
        return start, end

    def stack(self) -> tuple[bytes, ...]:
        return tuple(self.varbytes() for _ in range(self.count(1)))
