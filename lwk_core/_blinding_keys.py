"""The blinding key of a CT descriptor (ELIP-150; SLIP-77 master keys, view keys, bare
public keys) and the per-script blinding keys it gives.

An xprv view key with a derivation path blinds with the derived key, for addresses and for
unblinding alike. (LWK 0.19 applies the path for its addresses but its private blinding key
ignores it, so LWK cannot unblind such a wallet; plain xprv and hex view keys agree.)
"""

from __future__ import annotations

import hashlib
import hmac

from embit.util import secp256k1

from ._bip32 import (
    CURVE_ORDER,
    HARDENED,
    Node,
    add_tweak,
    ckd_priv,
    ckd_pub,
    parse_xkey,
    pubkey_of,
    pubkey_point,
    serialize_point,
)
from ._descriptor_keys import MULTIPATH, parse_key_text, reject_bad_single_key
from ._descriptor_text import is_hex, name_for_error, split_call
from ._encoding import compact_size
from ._errors import DescriptorError
from ._hashes import tagged_hash

__all__ = ["BareKey", "BlindingKey", "Slip77", "ViewKey", "parse_blinding_key"]


def _ct_tweak(pubkey: bytes, script_pubkey: bytes) -> bytes:
    msg = pubkey + compact_size(len(script_pubkey)) + script_pubkey
    return tagged_hash(b"CT-Blinding-Key/1.0", msg)


class Slip77:
    kind = "slip77"

    def __init__(self, master: bytes) -> None:
        self._master = master
        self.text = f"slip77({master.hex()})"

    def private_key(self, script_pubkey: bytes) -> bytes:
        key = hmac.new(self._master, script_pubkey, hashlib.sha256).digest()
        if not secp256k1.ec_seckey_verify(key):
            raise DescriptorError("SLIP-77 blinding key out of range for this script")
        return key

    def public_key(self, script_pubkey: bytes) -> bytes:
        return pubkey_of(self.private_key(script_pubkey))


class ViewKey:
    kind = "view"

    def __init__(self, secret: int, text: str) -> None:
        self._secret = secret
        self._pub = pubkey_of(secret.to_bytes(32, "big"))
        self.text = text

    def private_key(self, script_pubkey: bytes) -> bytes:
        tweak = int.from_bytes(_ct_tweak(self._pub, script_pubkey), "big")
        key = (self._secret + tweak) % CURVE_ORDER
        if key == 0 or tweak >= CURVE_ORDER:
            raise DescriptorError("blinding key tweak out of range for this script")
        return key.to_bytes(32, "big")

    def public_key(self, script_pubkey: bytes) -> bytes:
        return pubkey_of(self.private_key(script_pubkey))


class BareKey:
    kind = "public"

    def __init__(self, sec: bytes, text: str) -> None:
        self._sec = sec
        self._point = pubkey_point(sec)
        self.text = text

    def private_key(self, script_pubkey: bytes) -> bytes:
        raise DescriptorError("descriptor has only a public blinding key: it cannot unblind")

    def public_key(self, script_pubkey: bytes) -> bytes:
        return serialize_point(add_tweak(self._point, _ct_tweak(self._sec, script_pubkey)))


BlindingKey = Slip77 | ViewKey | BareKey


def parse_blinding_key(text: str) -> Slip77 | ViewKey | BareKey:
    if "(" in text:
        name, args = split_call(text, "a blinding key")
        if name != "slip77":
            raise DescriptorError(f"unknown blinding key form {name_for_error(name)}")
        if len(args) != 1 or not is_hex(args[0], 64):
            raise DescriptorError("slip77() takes exactly one 64-hex-character master key")
        return Slip77(bytes.fromhex(args[0]))
    parsed = parse_key_text(text)
    if parsed.wildcard:
        raise DescriptorError("a blinding key cannot have a wildcard")
    if MULTIPATH in parsed.steps:
        raise DescriptorError("a blinding key cannot be multipath")
    canonical = parsed.canonical()
    xkey = parse_xkey(parsed.body)
    if xkey is None:
        if not is_hex(parsed.body, 64) and not (
            is_hex(parsed.body, 66) and parsed.body[:2] in ("02", "03")
        ):
            reject_bad_single_key(parsed.body)
        if parsed.steps:
            raise DescriptorError("derivation steps after a single blinding key")
        if len(parsed.body) == 66:
            return BareKey(bytes.fromhex(parsed.body), canonical)
        secret = int(parsed.body, 16)
        if not 0 < secret < CURVE_ORDER:
            raise DescriptorError("view key out of range")
        return ViewKey(secret, canonical)
    if xkey.private:
        secret, chain_code = int.from_bytes(xkey.key[1:], "big"), xkey.chain_code
        for step in parsed.steps:
            secret, chain_code = ckd_priv(secret, chain_code, step)
        return ViewKey(secret, canonical)
    if any(s >= HARDENED for s in parsed.steps):
        raise DescriptorError("hardened derivation after an xpub is impossible")
    node = Node(pubkey_point(xkey.key), xkey.key, xkey.chain_code)
    for step in parsed.steps:
        node = ckd_pub(node, step)
    return BareKey(node.sec, canonical)
