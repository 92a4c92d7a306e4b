"""secp256k1 points (libsecp256k1 through embit's bindings) and BIP-32 extended keys."""

from __future__ import annotations

import ctypes
import functools
import hashlib
import hmac
import struct
from typing import NamedTuple

from embit.util import secp256k1

from ._address import base58check_decode
from ._errors import DecodeError, DescriptorError
from ._secp import get_secp

__all__ = [
    "CURVE_ORDER",
    "HARDENED",
    "Node",
    "XKey",
    "add_tweak",
    "child_keys",
    "ckd_priv",
    "ckd_pub",
    "parse_xkey",
    "pubkey_of",
    "pubkey_point",
    "serialize_point",
]

CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HARDENED = 1 << 31
_XPUB_VERSIONS = {bytes.fromhex("0488b21e"): True, bytes.fromhex("043587cf"): False}
_XPRV_VERSIONS = {bytes.fromhex("0488ade4"): True, bytes.fromhex("04358394"): False}


def pubkey_point(sec: bytes) -> bytes:
    try:
        return bytes(secp256k1.ec_pubkey_parse(sec))
    except ValueError:
        raise DescriptorError("public key is not a valid curve point") from None


def serialize_point(point: bytes) -> bytes:
    return bytes(secp256k1.ec_pubkey_serialize(point))


def pubkey_of(secret: bytes) -> bytes:
    return serialize_point(secp256k1.ec_pubkey_create(secret))


class _Multiples:
    """d * 256^i * G for each byte position i (0 = least significant) and digit d in
    1..255, in one table of libsecp256k1 points (64 bytes each; 512 KiB), built on first
    use from 32 generator multiplications and 8,160 additions (30-50 ms).

    With it, point + tweak*G is one call of libsecp256k1's `ec_pubkey_combine` over the
    point and one table entry per nonzero byte of the tweak: 32 additions and one field
    inversion, about half the time of `ec_pubkey_create` plus an addition (a constant-time
    multiplication, needless here: public derivation's tweaks are public)."""

    def __init__(self) -> None:
        secp = get_secp()
        self._ctx = secp.ctx
        # Function objects of our own (indexing a CDLL makes new ones), so that our
        # argument types (pointers given as integers) change no other caller's.
        pointer = ctypes.c_void_p
        self._combine = secp.lib["secp256k1_ec_pubkey_combine"]
        self._combine.argtypes = [pointer, pointer, ctypes.c_char_p, ctypes.c_size_t]
        self._combine.restype = ctypes.c_int
        self._serialize = secp.lib["secp256k1_ec_pubkey_serialize"]
        self._serialize.argtypes = [pointer, pointer, pointer, pointer, ctypes.c_uint]
        self._serialize.restype = ctypes.c_int
        self._table = ctypes.create_string_buffer(32 * 256 * 64)
        base = ctypes.addressof(self._table)
        for position in range(32):  # row `position` at base + position * 256 * 64
            row = base + position * 256 * 64
            ctypes.memmove(row + 64, secp256k1.ec_pubkey_create(_byte_power(position)), 64)
            for digit in range(2, 256):
                self._sum(row + digit * 64, [row + (digit - 1) * 64, row + 64])
        # _rows[j]: the row of the tweak's big-endian byte j (byte position 31 - j)
        self._rows = [base + (31 - j) * 256 * 64 for j in range(32)]

    def _sum(self, out: int, points: list[int]) -> bool:
        pointers = struct.pack(f"{len(points)}P", *points)  # an array of void *
        return bool(self._combine(self._ctx, out, pointers, len(points)) == 1)

    def add(self, point: bytes, tweak: bytes) -> tuple[bytes, bytes] | None:
        """point + tweak*G (tweak: 32 bytes big-endian, below the curve order) and its
        compressed encoding; None if the sum is the point at infinity."""
        # One buffer: the point, the sum, its encoding, the encoding's size (in, out).
        buffer = ctypes.create_string_buffer(point + _WORK, _SIZE_AT + 8)
        start = ctypes.addressof(buffer)
        points = [start]
        points += [row + digit * 64 for row, digit in zip(self._rows, tweak, strict=True) if digit]
        if not self._sum(start + 64, points):
            return None
        self._serialize(self._ctx, start + 128, start + _SIZE_AT, start + 64, _COMPRESSED)
        raw = buffer.raw
        return raw[64:128], raw[128:161]


_COMPRESSED = 0x102  # SECP256K1_EC_COMPRESSED
_SIZE_AT = 168  # an aligned size_t after the 33-byte encoding at 128
_WORK = bytes(_SIZE_AT - 64) + struct.pack("N", 33)


def _byte_power(position: int) -> bytes:
    return (1 << (8 * position)).to_bytes(32, "big")


@functools.cache
def _table() -> _Multiples:
    return _Multiples()


def _tweaked(point: bytes, tweak: bytes) -> tuple[bytes, bytes] | None:
    """point + tweak*G and its compressed encoding (None: tweak*G is 0, the point stays);
    fails (with negligible probability) if tweak >= n or the sum is 0.

    By a table of multiples of G (`_Multiples`): BIP-32 public derivation is a third of
    the CPU a first scan of many small wallets spends outside unblinding."""
    if tweak == _ZERO:
        return None  # BIP-32 allows IL = 0: p + 0*G = p
    if int.from_bytes(tweak, "big") >= CURVE_ORDER:
        raise DescriptorError("key tweak out of range")
    total = _table().add(point, tweak)
    if total is None:
        raise DescriptorError("key tweak out of range")
    return total


_ZERO = bytes(32)


def add_tweak(point: bytes, tweak: bytes) -> bytes:
    """point + tweak*G; fails (with negligible probability) if tweak >= n or the sum is 0."""
    total = _tweaked(point, tweak)
    return point if total is None else total[0]


class Node(NamedTuple):
    """A BIP-32 public node: libsecp256k1 point, compressed key, chain code."""

    point: bytes
    sec: bytes
    chain_code: bytes


def _child(node: Node, index: int) -> tuple[bytes, tuple[bytes, bytes] | None]:
    """BIP-32 CKDpub's HMAC output I and the child's point and key (None: the parent's)."""
    i = hmac.digest(node.chain_code, node.sec + index.to_bytes(4, "big"), "sha512")
    return i, _tweaked(node.point, i[:32])


def ckd_pub(node: Node, index: int) -> Node:
    i, child = _child(node, index)
    point, sec = (node.point, node.sec) if child is None else child
    return Node(point, sec, i[32:])


def child_keys(node: Node, start: int, count: int) -> list[bytes]:
    """The compressed keys of the children `start .. start+count-1` of `node` (what a
    descriptor's scripts need, without the children's nodes)."""
    children = (_child(node, index)[1] for index in range(start, start + count))
    return [node.sec if child is None else child[1] for child in children]


def ckd_priv(secret: int, chain_code: bytes, index: int) -> tuple[int, bytes]:
    if index >= HARDENED:
        data = b"\x00" + secret.to_bytes(32, "big")
    else:
        data = pubkey_of(secret.to_bytes(32, "big"))
    i = hmac.new(chain_code, data + index.to_bytes(4, "big"), hashlib.sha512).digest()
    child = (int.from_bytes(i[:32], "big") + secret) % CURVE_ORDER
    if int.from_bytes(i[:32], "big") >= CURVE_ORDER or child == 0:
        raise DescriptorError("BIP-32 derivation failed")
    return child, i[32:]


class XKey(NamedTuple):
    mainnet: bool
    private: bool
    chain_code: bytes
    key: bytes  # 33-byte compressed pubkey, or 0x00 || 32-byte secret


def parse_xkey(body: str) -> XKey | None:
    """An xpub/tpub/xprv/tprv, or None if `body` is not base58 extended-key shaped."""
    if body[:4] not in ("xpub", "tpub", "xprv", "tprv"):
        return None
    try:
        raw = base58check_decode(body)
    except DecodeError:
        raise DescriptorError("invalid extended key encoding") from None
    if len(raw) != 78:
        raise DescriptorError("invalid extended key length")
    version, chain_code, key = raw[:4], raw[13:45], raw[45:]
    if version in _XPUB_VERSIONS:
        pubkey_point(key)
        return XKey(_XPUB_VERSIONS[version], False, chain_code, key)
    if version in _XPRV_VERSIONS:
        if key[0] != 0 or not secp256k1.ec_seckey_verify(key[1:]):
            raise DescriptorError("invalid extended private key")
        return XKey(_XPRV_VERSIONS[version], True, chain_code, key)
    raise DescriptorError("unknown extended key version")
