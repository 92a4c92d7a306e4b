"""Hash helpers shared by descriptors, transactions, headers and servers."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable

__all__ = [
    "electrum_scripthash",
    "electrum_status",
    "esplora_scripthash",
    "fast_merkle_root",
    "hash160",
    "sha256",
    "sha256d",
    "tagged_hash",
]


def sha256(data: bytes | memoryview) -> bytes:
    return hashlib.sha256(data).digest()


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", sha256(data)).digest()


def tagged_hash(tag: bytes, msg: bytes) -> bytes:
    """BIP-340 tagged hash."""
    t = sha256(tag)
    return sha256(t + t + msg)


def electrum_scripthash(script_pubkey: bytes) -> str:
    """Electrum's script hash: sha256 of the script, byte-reversed, hex."""
    return sha256(script_pubkey)[::-1].hex()


def electrum_status(history: Iterable[tuple[str, int]]) -> str | None:
    """A script's Electrum status (PROTOCOL 1.6): sha256 of "txid:height:" for each
    (txid, height) in the server's order, hex; None for an empty history."""
    text = "".join(f"{txid}:{height}:" for txid, height in history)
    return sha256(text.encode()).hex() if text else None


def esplora_scripthash(script_pubkey: bytes) -> str:
    """Esplora's /scripthash/ path component: sha256 of the script, not reversed, hex."""
    return sha256(script_pubkey).hex()


_K = (
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
)  # fmt: skip
_IV = (
    0x6A09E667,
    0xBB67AE85,
    0x3C6EF372,
    0xA54FF53A,
    0x510E527F,
    0x9B05688C,
    0x1F83D9AB,
    0x5BE0CD19,
)


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & 0xFFFFFFFF


def _sha256_midstate(block: bytes) -> bytes:
    """The SHA-256 compression function on one 64-byte block from the standard IV."""
    w = list(struct.unpack(">16I", block))
    for i in range(16, 64):
        s0 = _rotr(w[i - 15], 7) ^ _rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
        s1 = _rotr(w[i - 2], 17) ^ _rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & 0xFFFFFFFF)
    a, b, c, d, e, f, g, h = _IV
    for i in range(64):
        ch = (e & f) ^ (~e & g)
        t1 = (h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ch + _K[i] + w[i]) & 0xFFFFFFFF
        t2 = (
            (_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
        ) & 0xFFFFFFFF
        h, g, f, e, d, c, b, a = g, f, e, (d + t1) & 0xFFFFFFFF, c, b, a, (t1 + t2) & 0xFFFFFFFF
    return struct.pack(
        ">8I", *((x + y) & 0xFFFFFFFF for x, y in zip(_IV, (a, b, c, d, e, f, g, h), strict=True))
    )


def fast_merkle_root(leaves: list[bytes]) -> bytes:
    """Elements' ComputeFastMerkleRoot: inner node = SHA-256 midstate of left||right."""
    if not leaves:
        return bytes(32)
    level = list(leaves)
    while len(level) > 1:
        level = [
            _sha256_midstate(level[i] + level[i + 1]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
    return level[0]
