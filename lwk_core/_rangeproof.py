"""Opening an Elements range proof with the rewind nonce, without verifying the proof.

libsecp256k1-zkp's secp256k1_rangeproof_rewind verifies the whole Borromean ring signature
(one EC multiplication per ring member: 104 for the usual 52-bit proof, about 5 ms) only to
keep the two challenges it needs. `open_proof` recomputes just those (secp256k1-zkp's
`src/modules/rangeproof/rangeproof_impl.h`):

- the prover's random stream (RFC 6979 HMAC-SHA256 seeded with the nonce, the commitments and
  the proof header) gives every ring's blinding share and the raw draws of every member;
- the value sits XORed into a forged member of the last ring: hashing only;
- the value blinder needs the challenge at the true digit of the last ring: one hash when that
  digit is 0, as for any value below 2^50 in a 52-bit proof (others: `NotCovered`);
- the message (asset || asset blinder) sits in ring 0's first two members: at most one EC
  multiplication more.

The stream is most of the work (about 460 HMAC-SHA256 for the usual proof): the optional C
extension `_native` (lwk_core/_native.c, OpenSSL's SHA-256, the GIL released) replays it when
it was built, `_python_draws` otherwise; `_draws` is the one choice. Where the extension was
built, lwk_core/_unblind.py has it do the whole unblinding, this module's opening included.

Why skipping verification is sound for a wallet: the caller checks that (value, blinder)
opens the output's value commitment and that (asset, asset blinder) reproduces its asset
commitment. Both commitments are covered by the txid and Pedersen commitments bind: there is
no other opening, so whatever proof bytes a server sends, the secrets found are the true ones
or the output does not unblind. That the value lies in the proven range is consensus's check;
the proof itself is witness data, which the txid does not cover anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Final, NamedTuple

from ._errors import UnblindError
from ._secp import Secp

__all__ = ["NotCovered", "native_stream", "open_proof"]

_P: Final = 2**256 - 2**32 - 977
_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SQRT_EXP: Final = (_P + 1) // 4
_U64: Final = 1 << 64
_IPAD: Final = bytes(b ^ 0x36 for b in range(256))  # byte -> byte ^ ipad
_OPAD: Final = bytes(b ^ 0x5C for b in range(256))
_IPAD_TAIL: Final = b"\x36" * 32  # a 32-byte key is zero-padded to the 64-byte block
_OPAD_TAIL: Final = b"\x5c" * 32


class NotCovered(Exception):
    """A proof shape `open_proof` leaves to the library (exact-value proofs, one ring, a
    non-zero top digit)."""


class _Stream:
    """libsecp256k1's secp256k1_rfc6979_hmac_sha256: initialize, then 32-byte draws (the
    fallback of the C extension, see above).

    HMAC-SHA256 is spelled out over hashlib with the key's padded blocks hashed once per key
    and each HMAC inlined: a proof needs some 460 of them, one new key per draw, and Python's
    cost per call is the whole cost (hmac.digest, a one-shot C call through OpenSSL, is twice
    as slow: it pads the key every time).
    """

    __slots__ = ("_inner", "_outer", "_retry", "_v")

    def __init__(self, seed: bytes) -> None:
        v = b"\x01" * 32
        self._set_key(b"\x00" * 32)
        for separator in (b"\x00", b"\x01"):  # k = HMAC(k, v || sep || seed); v = HMAC(k, v)
            self._set_key(self._mac(v + separator + seed))
            v = self._mac(v)
        self._v = v
        self._retry = False

    def _set_key(self, key: bytes) -> None:
        self._inner = hashlib.sha256(key.translate(_IPAD) + _IPAD_TAIL)
        self._outer = hashlib.sha256(key.translate(_OPAD) + _OPAD_TAIL)

    def _mac(self, message: bytes) -> bytes:
        inner, outer = self._inner.copy(), self._outer.copy()
        inner.update(message)
        outer.update(inner.digest())
        return outer.digest()

    def draw(self) -> bytes:
        """v = HMAC(k, v), after k = HMAC(k, v || 0); v = HMAC(k, v) from the second draw on
        (the three HMACs inlined: without the C extension this loop is most of an output's
        unblinding)."""
        v = self._v
        if self._retry:
            inner, outer = self._inner.copy(), self._outer.copy()
            inner.update(v + b"\x00")
            outer.update(inner.digest())
            key = outer.digest()
            self._inner = hashlib.sha256(key.translate(_IPAD) + _IPAD_TAIL)
            self._outer = hashlib.sha256(key.translate(_OPAD) + _OPAD_TAIL)
            inner, outer = self._inner.copy(), self._outer.copy()
            inner.update(v)
            outer.update(inner.digest())
            v = outer.digest()
        inner, outer = self._inner.copy(), self._outer.copy()
        inner.update(v)
        outer.update(inner.digest())
        self._v = v = outer.digest()
        self._retry = True
        return v


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(32, "big")


def _scalar(raw: bytes) -> int:
    value = int.from_bytes(raw, "big")
    if not 0 < value < _N:
        raise UnblindError("range proof scalar out of range")
    return value


def _challenge(e: bytes, m: bytes, ring: int, member: int) -> int:
    """The Borromean challenge e(ring, member) as a scalar (overflow or zero is invalid)."""
    return _scalar(
        hashlib.sha256(e + m + ring.to_bytes(4, "big") + member.to_bytes(4, "big")).digest()
    )


def _point_from_x(not_quad: int, x: bytes) -> bytes:
    """A ring commitment stored as x and a "y is not a quadratic residue" bit, as SEC bytes."""
    xi = int.from_bytes(x, "big")
    rhs = (pow(xi, 3, _P) + 7) % _P
    y = pow(rhs, _SQRT_EXP, _P)  # p = 3 mod 4: this root is itself the quadratic residue
    if xi >= _P or y * y % _P != rhs:
        raise UnblindError("range proof point is not on the curve")
    if not_quad:
        y = _P - y
    return bytes([2 + (y & 1)]) + x


class _Proof(NamedTuple):
    """The fields of a Borromean range proof (secp256k1_rangeproof_getheader_impl)."""

    header: bytes  # the bytes the challenges and the random stream commit to
    scale: int  # 10^exp
    min_value: int
    sizes: list[int]  # members per ring: 4, the last one 2 when the mantissa is odd
    sign_bits: list[int]  # per ring commitment: y is not a quadratic residue
    xs: list[bytes]  # x of every ring commitment but the last
    e0: bytes
    responses: bytes  # every member's response s, 32 bytes each (read where needed)

    def s(self, member: int) -> bytes:
        return self.responses[32 * member : 32 * member + 32]


def open_proof(
    secp: Secp,
    proof: bytes,
    value_commitment: bytes,
    asset_commitment: bytes,
    nonce: bytes,
    extra: bytes,
) -> tuple[int, bytes, bytes]:
    """(value, value blinder as 32 big-endian bytes, 64-byte message) hidden in `proof` for
    `nonce`, NOT yet checked against the commitments (the caller's job, see above).

    Commitments are given serialized (33 bytes, already parsed by the caller). Raises
    UnblindError when the proof does not open with this nonce, NotCovered for shapes left to
    the library.
    """
    p = _read_proof(proof)
    commit = bytes([value_commitment[0] & 1]) + value_commitment[1:]
    gen = bytes([asset_commitment[0] & 1]) + asset_commitment[1:]
    m = _challenge_message(p, commit, gen, extra)
    draws = _prover_draws(p, nonce + commit + gen + p.header)
    digits = _hidden_digits(p, draws)
    value = digits * p.scale + p.min_value
    blind = _value_blinder(p, m, draws)
    if value >= _U64 or blind == 0:
        raise UnblindError("range proof does not rewind with this key")
    message = _hidden_message(secp, p, m, draws, digits)
    return value, blind.to_bytes(32, "big"), message


def _read_proof(proof: bytes) -> _Proof:
    """The header and the fields (secp256k1_rangeproof_getheader_impl and the layout of
    secp256k1_rangeproof_verify_impl); NotCovered for the shapes left to the library."""
    if len(proof) < 65 or proof[0] & 0x80:
        raise UnblindError("range proof header is invalid")
    if not proof[0] & 0x40:
        raise NotCovered  # an exact-value proof
    exp = proof[0] & 0x1F
    mantissa = proof[1] + 1
    scale = 10**exp
    offset = 2
    min_value = 0
    if proof[0] & 0x20:
        min_value = int.from_bytes(proof[2:10], "big")
        offset = 10
    if exp > 18 or mantissa > 64 or ((1 << mantissa) - 1) * scale + min_value >= _U64:
        raise UnblindError("range proof header is invalid")
    header = proof[:offset]
    rings, odd = divmod(mantissa, 2)
    sizes = [4] * rings + [2] * odd
    rings += odd
    if rings < 2:
        raise NotCovered
    members = sum(sizes)
    sign_len = (rings + 6) >> 3
    if len(proof) != offset + sign_len + 32 * (rings - 1) + 32 + 32 * members:
        raise UnblindError("range proof has the wrong length")
    signs = proof[offset : offset + sign_len]
    if (rings - 1) & 7 and signs[-1] >> ((rings - 1) & 7):
        raise UnblindError("range proof sign bits are invalid")
    offset += sign_len
    xs = [proof[offset + 32 * i : offset + 32 * i + 32] for i in range(rings - 1)]
    offset += 32 * (rings - 1)
    e0 = proof[offset : offset + 32]
    offset += 32
    sign_bits = [(signs[i >> 3] >> (i & 7)) & 1 for i in range(rings - 1)]
    return _Proof(header, scale, min_value, sizes, sign_bits, xs, e0, proof[offset:])


def _challenge_message(p: _Proof, commit: bytes, gen: bytes, extra: bytes) -> bytes:
    """The message every Borromean challenge hashes (secp256k1_rangeproof_verify_impl)."""
    h = hashlib.sha256(commit + gen + p.header)
    for bit, x in zip(p.sign_bits, p.xs, strict=True):
        h.update(bytes([bit]) + x)
    h.update(extra)
    return h.digest()


def _python_draws(seed: bytes, sizes: bytes) -> bytes:
    """The prover's random stream replayed (secp256k1_rangeproof_genrand): every ring's
    blinding share but the last, then every member's raw draw, 32 bytes each; what the
    optional C extension `_native.prover_draws` computes, about five times faster."""
    stream = _Stream(seed)
    shares: list[bytes] = []
    draws: list[bytes] = []
    for size in sizes[:-1]:
        stream.draw()
        share = stream.draw()
        while not 0 < int.from_bytes(share, "big") < _N:
            share = stream.draw()
        shares.append(share)
        draws.extend(stream.draw() for _ in range(size))
    draws.extend(stream.draw() for _ in range(sizes[-1]))
    return b"".join(shares + draws)


def _select_draws() -> Callable[[bytes, bytes], bytes]:
    """The C extension when it was built, else the same stream in Python."""
    try:
        from ._native import prover_draws
    except ImportError:
        return _python_draws
    return prover_draws


_draws: Callable[[bytes, bytes], bytes] = _select_draws()


def native_stream() -> bool:
    """Whether range-proof streams are replayed by the C extension."""
    return _draws is not _python_draws


class _Draws(NamedTuple):
    """The prover's stream for one proof: the shares the opening needs and every draw."""

    first_share: int  # ring 0's
    last_share: int  # the last ring's: minus the sum of the others
    raw: bytes  # every member's draw, 32 bytes each

    def member(self, index: int) -> bytes:
        return self.raw[32 * index : 32 * index + 32]


def _prover_draws(p: _Proof, seed: bytes) -> _Draws:
    rings = len(p.sizes)
    replayed = _draws(seed, bytes(p.sizes))
    split = 32 * (rings - 1)
    shares = [int.from_bytes(replayed[i : i + 32], "big") for i in range(0, split, 32)]
    return _Draws(shares[0], -sum(shares) % _N, replayed[split:])


def _hidden_digits(p: _Proof, draws: _Draws) -> int:
    """The value's base-4 digits, XORed into a forged member of the last ring; NotCovered
    when the last ring's true digit is not 0."""
    rings, size = len(p.sizes), p.sizes[-1]
    last = (rings - 1) * 4
    for j in range(2):
        plain = _xor(p.s(last + size - 1 - j), draws.member(last + size - 1 - j))
        if plain[0] & 0x80 and plain[8:16] == plain[16:24] == plain[24:32]:
            break
    else:
        raise UnblindError("range proof does not rewind with this key")
    digits = int.from_bytes(plain[24:], "big")
    top = (digits >> ((rings - 1) << 1)) & 3
    if top == size - 1 - j:
        raise UnblindError("range proof does not rewind with this key")
    if top:
        raise NotCovered  # its challenge needs the sum of every ring commitment
    return digits


def _value_blinder(p: _Proof, m: bytes, draws: _Draws) -> int:
    """s = k - e * x at the true member (0) of the last ring, less the ring's share."""
    rings = len(p.sizes)
    last = (rings - 1) * 4
    e_last = _challenge(p.e0, m, rings - 1, 0)
    x_last = (int.from_bytes(draws.member(last), "big") - _scalar(p.s(last))) * pow(e_last, -1, _N)
    return (x_last - draws.last_share) % _N


def _hidden_message(secp: Secp, p: _Proof, m: bytes, draws: _Draws, digits: int) -> bytes:
    """The message in ring 0, members 0 and 1; the true member gives k = s + e * x."""
    message = b""
    for j in range(2):
        raw = p.s(j)
        if j == digits & 3:
            e = _challenge(p.e0, m, 0, 0)
            if j == 1:  # e(0, 1) hashes s(0,0) * G + e(0,0) * C_0
                c0 = secp.point(_point_from_x(p.sign_bits[0], p.xs[0]))
                r = secp.add(secp.times_g(_scalar(p.s(0))), secp.times(c0, e))
                e = _challenge(secp.serialize(r), m, 0, 1)
            raw = ((_scalar(raw) + draws.first_share * e) % _N).to_bytes(32, "big")
        message += _xor(raw, draws.member(j))
    return message
