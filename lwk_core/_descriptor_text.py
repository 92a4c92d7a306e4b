"""The text layer of descriptors: the BIP-380 checksum and `name(arg,arg,...)` expressions."""

from __future__ import annotations

from ._errors import DescriptorError

__all__ = ["descriptor_checksum", "is_hex", "name_for_error", "split_call", "strip_checksum"]

# Script names we may echo in errors (never echo arbitrary input: it may hold key material).
_KNOWN_NAMES = frozenset(
    {
        "ct", "slip77", "elip151", "elpkh", "elwpkh", "elsh", "elwsh", "eltr", "elcombo",
        "elmulti", "pkh", "wpkh", "sh", "wsh", "tr", "combo", "multi", "sortedmulti", "pk",
        "multi_a", "sortedmulti_a", "pk_k", "pk_h", "addr", "raw", "rawtr",
    }
)  # fmt: skip

# ---------------------------------------------------------------------------------------------
# BIP-380 checksum

_INPUT_CHARSET = (
    "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH"
    '`#"\\ '
)
_INPUT_INDEX = {c: i for i, c in enumerate(_INPUT_CHARSET)}
_CHECKSUM_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHECKSUM_GEN = (0xF5DEE51989, 0xA9FDCA3312, 0x1BAB10E32D, 0x3706B1677A, 0x644D626FFD)


def _checksum_polymod(c: int, value: int) -> int:
    c0 = c >> 35
    c = ((c & 0x7FFFFFFFF) << 5) ^ value
    for i, g in enumerate(_CHECKSUM_GEN):
        if (c0 >> i) & 1:
            c ^= g
    return c


def descriptor_checksum(text: str) -> str:
    """The 8-character BIP-380 checksum of a descriptor (without its '#')."""
    c, cls, count = 1, 0, 0
    for ch in text:
        pos = _INPUT_INDEX.get(ch)
        if pos is None:
            raise DescriptorError("invalid character in descriptor")
        c = _checksum_polymod(c, pos & 31)
        cls = cls * 3 + (pos >> 5)
        count += 1
        if count == 3:
            c, cls, count = _checksum_polymod(c, cls), 0, 0
    if count:
        c = _checksum_polymod(c, cls)
    for _ in range(8):
        c = _checksum_polymod(c, 0)
    c ^= 1
    return "".join(_CHECKSUM_CHARSET[(c >> (5 * (7 - i))) & 31] for i in range(8))


def strip_checksum(text: str) -> str:
    for i, ch in enumerate(text):
        if ch not in _INPUT_INDEX:
            raise DescriptorError(f"invalid character at position {i}")
    body, sep, checksum = text.partition("#")
    if not sep:
        return body
    if "#" in checksum:
        raise DescriptorError("more than one '#' in descriptor")
    if len(checksum) != 8 or checksum != descriptor_checksum(body):
        raise DescriptorError("bad descriptor checksum")
    return body


# ---------------------------------------------------------------------------------------------
# Text structure: name(arg,arg,...)


def name_for_error(name: str) -> str:
    return f"'{name}'" if name in _KNOWN_NAMES else "this"


def split_call(text: str, what: str) -> tuple[str, list[str]]:
    """Split `name(a,b(c,d),e)` into ('name', ['a', 'b(c,d)', 'e']) (one level only)."""
    open_at = text.find("(")
    if open_at <= 0 or not text.endswith(")"):
        raise DescriptorError(f"expected {what}")
    inner = text[open_at + 1 : -1]
    args: list[str] = []
    depth = start = 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise DescriptorError("unbalanced parentheses")
        elif ch == "," and depth == 0:
            args.append(inner[start:i])
            start = i + 1
    if depth:
        raise DescriptorError("unbalanced parentheses")
    args.append(inner[start:])
    return text[:open_at], args


def is_hex(text: str, length: int) -> bool:
    return len(text) == length and all(c in "0123456789abcdefABCDEF" for c in text)
