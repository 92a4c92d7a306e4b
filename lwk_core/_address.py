"""Liquid addresses: base58check, bech32/bech32m, blech32/blech32m (BIP-173, BIP-350;
blech32 as in Elements' `src/blech32.cpp` and rust-elements' `src/blech32`).

Confidential segwit addresses are blech32 (witness v0) or blech32m (v1+) over
`blinding_pubkey(33) || witness_program` with a 12-character checksum; confidential base58
addresses are `blinded_prefix || prefix || blinding_pubkey || hash160`. Unconfidential segwit
addresses are plain bech32/bech32m with the network's `hrp`.
"""

from __future__ import annotations

from typing import NamedTuple

from embit.util import secp256k1

from ._errors import DecodeError
from ._hashes import sha256d
from ._network import Network

__all__ = [
    "DecodedAddress",
    "address_to_script",
    "base58check_decode",
    "base58check_encode",
    "bech32_decode",
    "bech32_encode",
    "script_to_address",
]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_B58_MAX_LEN = 200  # longest Liquid base58 address is ~80 characters


def base58check_encode(payload: bytes) -> str:
    data = payload + sha256d(payload)[:4]
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + "".join(reversed(out))


def base58check_decode(text: str) -> bytes:
    """Decode base58check; raises DecodeError on bad characters, length or checksum."""
    if not text or len(text) > _B58_MAX_LEN:
        raise DecodeError("base58 string is empty or too long")
    n = 0
    for ch in text:
        digit = _B58_INDEX.get(ch)
        if digit is None:
            raise DecodeError("invalid base58 character")
        n = n * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    data = b"\x00" * zeros + body
    if len(data) < 4:
        raise DecodeError("base58check data too short")
    payload, checksum = data[:-4], data[-4:]
    if sha256d(payload)[:4] != checksum:
        raise DecodeError("base58check checksum mismatch")
    return payload


class _Code(NamedTuple):
    """A BCH code of the bech32 family: polymod generators, state width, checksum length."""

    generators: tuple[int, ...]
    shift: int  # c0 = c >> shift
    mask: int  # c = ((c & mask) << 5) ^ v
    checksum_len: int
    plain_const: int  # bech32 / blech32
    m_const: int  # bech32m / blech32m
    max_len: int


_BECH32 = _Code(
    (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3),
    25,
    0x1FFFFFF,
    6,
    1,
    0x2BC830A3,
    90,
)
_BLECH32 = _Code(
    (0x7D52FBA40BD886, 0x5E8DBF1A03950C, 0x1C3A3C74072A18, 0x385D72FA0E5139, 0x7093E5A608865B),
    55,
    0x7FFFFFFFFFFFFF,
    12,
    1,
    0x0455972A3350F7A1,
    1000,
)
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(_CHARSET)}


def _polymod(code: _Code, values: list[int]) -> int:
    c = 1
    for v in values:
        c0 = c >> code.shift
        c = ((c & code.mask) << 5) ^ v
        for i, g in enumerate(code.generators):
            if (c0 >> i) & 1:
                c ^= g
    return c


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = bits = 0
    out = []
    maxv = (1 << to_bits) - 1
    max_acc = (1 << (from_bits + to_bits - 1)) - 1
    for value in data:
        acc = ((acc << from_bits) | value) & max_acc
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or ((acc << (to_bits - bits)) & maxv):
        raise DecodeError("invalid padding in bech32 data")
    return out


def _check_program(version: int, program: bytes) -> None:
    if not 0 <= version <= 16:
        raise DecodeError("invalid witness version")
    if not 2 <= len(program) <= 40 or (version == 0 and len(program) not in (20, 32)):
        raise DecodeError("invalid witness program length")


def bech32_encode(hrp: str, version: int, program: bytes, *, blech: bool = False) -> str:
    """Segwit address; bech32(m), or blech32(m) when `blech` (program then starts with the
    33-byte blinding pubkey). The 'm' variant is used for witness versions 1 and above."""
    code = _BLECH32 if blech else _BECH32
    const = code.plain_const if version == 0 else code.m_const
    data = [version, *_convert_bits(program, 8, 5, True)]
    pm = _polymod(code, _hrp_expand(hrp) + data + [0] * code.checksum_len) ^ const
    n = code.checksum_len
    checksum = [(pm >> (5 * (n - 1 - i))) & 31 for i in range(n)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + checksum)


def bech32_decode(hrp: str, address: str, *, blech: bool = False) -> tuple[int, bytes]:
    """Decode a segwit address of the given HRP into (witness version, program bytes)."""
    code = _BLECH32 if blech else _BECH32
    if len(address) > code.max_len:
        raise DecodeError("address too long")
    if any(not 33 <= ord(ch) <= 126 for ch in address):
        raise DecodeError("invalid character in address")
    if address.lower() != address and address.upper() != address:
        raise DecodeError("mixed-case address")
    address = address.lower()
    pos = address.rfind("1")
    if pos < 1 or address[:pos] != hrp or len(address) - pos - 1 < code.checksum_len + 1:
        raise DecodeError("wrong human-readable part or too short")
    try:
        data = [_CHARSET_INDEX[ch] for ch in address[pos + 1 :]]
    except KeyError:
        raise DecodeError("invalid bech32 character") from None
    residue = _polymod(code, _hrp_expand(hrp) + data)
    version = data[0]
    expected = code.plain_const if version == 0 else code.m_const
    if residue != expected:
        raise DecodeError("address checksum mismatch")
    program = bytes(_convert_bits(data[1 : -code.checksum_len], 5, 8, False))
    return version, program


class DecodedAddress(NamedTuple):
    script_pubkey: bytes
    blinding_pubkey: bytes | None
    network: Network


def _check_blinding_pubkey(blinding_pubkey: bytes) -> None:
    if len(blinding_pubkey) != 33:
        raise DecodeError("blinding public key must be 33 bytes (compressed)")
    try:
        secp256k1.ec_pubkey_parse(blinding_pubkey)
    except ValueError:
        raise DecodeError("blinding public key is not a valid point") from None


def _witness(script_pubkey: bytes) -> tuple[int, bytes] | None:
    n = len(script_pubkey)
    if 4 <= n <= 42 and script_pubkey[1] == n - 2:
        op = script_pubkey[0]
        if op == 0 or 0x51 <= op <= 0x60:
            return (0 if op == 0 else op - 0x50), script_pubkey[2:]
    return None


def script_to_address(script_pubkey: bytes, blinding_pubkey: bytes | None, network: Network) -> str:
    """The address of a script: confidential with `blinding_pubkey`, unconfidential without."""
    params = network.address_params
    if blinding_pubkey is not None:
        _check_blinding_pubkey(blinding_pubkey)
    witness = _witness(script_pubkey)
    if witness is not None:
        version, program = witness
        _check_program(version, program)
        if blinding_pubkey is None:
            return bech32_encode(params.hrp, version, program)
        return bech32_encode(params.blech_hrp, version, blinding_pubkey + program, blech=True)
    spk = script_pubkey
    if len(spk) == 25 and spk[:3] == b"\x76\xa9\x14" and spk[23:] == b"\x88\xac":
        prefix, hash20 = params.p2pkh, spk[3:23]
    elif len(spk) == 23 and spk[:2] == b"\xa9\x14" and spk[22] == 0x87:
        prefix, hash20 = params.p2sh, spk[2:22]
    else:
        raise DecodeError("script has no address form")
    if blinding_pubkey is None:
        return base58check_encode(bytes([prefix]) + hash20)
    return base58check_encode(bytes([params.blinded, prefix]) + blinding_pubkey + hash20)


def _decode_base58(address: str) -> DecodedAddress:
    payload = base58check_decode(address)
    for network in Network:
        p = network.address_params
        if len(payload) == 21 and payload[0] in (p.p2pkh, p.p2sh):
            prefix, blinding, hash20 = payload[0], None, payload[1:]
        elif len(payload) == 55 and payload[0] == p.blinded and payload[1] in (p.p2pkh, p.p2sh):
            prefix, blinding, hash20 = payload[1], payload[2:35], payload[35:]
            _check_blinding_pubkey(blinding)
        else:
            continue
        if prefix == p.p2pkh:
            return DecodedAddress(b"\x76\xa9\x14" + hash20 + b"\x88\xac", blinding, network)
        return DecodedAddress(b"\xa9\x14" + hash20 + b"\x87", blinding, network)
    raise DecodeError("unknown base58 address prefix or length")


def address_to_script(address: str) -> DecodedAddress:
    """Decode any Liquid address into (script_pubkey, blinding_pubkey | None, network)."""
    lowered = address.lower()
    pos = lowered.rfind("1")
    hrp = lowered[:pos] if pos > 0 else None
    for network in Network:
        p = network.address_params
        if hrp in (p.hrp, p.blech_hrp):
            blech = hrp == p.blech_hrp
            version, program = bech32_decode(hrp, address, blech=blech)
            blinding = None
            if blech:
                blinding, program = program[:33], program[33:]
                _check_blinding_pubkey(blinding)
            _check_program(version, program)
            op = 0 if version == 0 else 0x50 + version
            return DecodedAddress(bytes([op, len(program)]) + program, blinding, network)
    return _decode_base58(address)
