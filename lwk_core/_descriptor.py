"""ELIP-150 CT descriptors, parsed and derived the way LWK's `WolletDescriptor` does.

`ct(<blinding key>,<descriptor>)#checksum` (ELIP-150; blinding keys per SLIP-77 and ELIP-151).
The ct layer is parsed here; keys use libsecp256k1 through embit's bindings. Supported blinding
keys: `slip77(hex)`, a hex or xprv view key, a bare public key (hex or xpub: addresses only) and
`elip151`. Supported scripts: `elwpkh`, `elsh(wpkh)`, `elwsh(multi|sortedmulti)`,
`elsh(wsh(multi|sortedmulti))`, legacy `elsh(multi)` and key-path-only `eltr`.

An xprv view key with a derivation path blinds with the derived key, for addresses and for
unblinding alike. (LWK 0.19 applies the path for its addresses but its private blinding key
ignores it, so LWK cannot unblind such a wallet; plain xprv and hex view keys agree.)

Derivation is cached per key and branch: the chain-level node (everything before `/*`) is
derived once at parse time, so each index costs one BIP-32 child step per key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import NamedTuple, NoReturn

from embit.util import secp256k1

from ._address import base58check_decode, script_to_address
from ._encoding import compact_size
from ._errors import DecodeError, DescriptorError
from ._hashes import hash160, sha256, tagged_hash
from ._network import Chain, Network

__all__ = ["WolletDescriptor", "descriptor_checksum"]

_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HARDENED = 1 << 31
_DWID_INDEX = _HARDENED - 1  # ELIP-151 and LWK's dwid use the last unhardened index
_MAX_MULTI_KEYS = 20
_MAX_P2SH_MULTI_KEYS = 15  # a larger redeem script exceeds 520 bytes
_TAPTWEAK_TAG = b"TapTweak/elements"  # Elements' BIP-341 tweak tag
_XPUB_VERSIONS = {bytes.fromhex("0488b21e"): True, bytes.fromhex("043587cf"): False}
_XPRV_VERSIONS = {bytes.fromhex("0488ade4"): True, bytes.fromhex("04358394"): False}
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


def _strip_checksum(text: str) -> str:
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


def _name_for_error(name: str) -> str:
    return f"'{name}'" if name in _KNOWN_NAMES else "this"


def _split_call(text: str, what: str) -> tuple[str, list[str]]:
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


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and all(c in "0123456789abcdefABCDEF" for c in text)


# ---------------------------------------------------------------------------------------------
# secp256k1 and BIP-32


def _pubkey_point(sec: bytes) -> bytes:
    try:
        return bytes(secp256k1.ec_pubkey_parse(sec))
    except ValueError:
        raise DescriptorError("public key is not a valid curve point") from None


def _serialize(point: bytes) -> bytes:
    return bytes(secp256k1.ec_pubkey_serialize(point))


def _pubkey_of(secret: bytes) -> bytes:
    return _serialize(secp256k1.ec_pubkey_create(secret))


def _add_tweak(point: bytes, tweak: bytes) -> bytes:
    """point + tweak*G; fails (with negligible probability) if tweak >= n or the sum is 0."""
    try:
        return bytes(secp256k1.ec_pubkey_add(point, tweak))
    except ValueError:
        raise DescriptorError("key tweak out of range") from None


class _Node(NamedTuple):
    """A BIP-32 public node: libsecp256k1 point, compressed key, chain code."""

    point: bytes
    sec: bytes
    chain_code: bytes


def _ckd_pub(node: _Node, index: int) -> _Node:
    i = hmac.new(node.chain_code, node.sec + index.to_bytes(4, "big"), hashlib.sha512).digest()
    point = _add_tweak(node.point, i[:32])
    return _Node(point, _serialize(point), i[32:])


def _ckd_priv(secret: int, chain_code: bytes, index: int) -> tuple[int, bytes]:
    if index >= _HARDENED:
        data = b"\x00" + secret.to_bytes(32, "big")
    else:
        data = _pubkey_of(secret.to_bytes(32, "big"))
    i = hmac.new(chain_code, data + index.to_bytes(4, "big"), hashlib.sha512).digest()
    child = (int.from_bytes(i[:32], "big") + secret) % _N
    if int.from_bytes(i[:32], "big") >= _N or child == 0:
        raise DescriptorError("BIP-32 derivation failed")
    return child, i[32:]


# ---------------------------------------------------------------------------------------------
# Key expressions: [fingerprint/path]KEY/path/<0;1>/*

_MULTIPATH = -1  # marker for <0;1> in a parsed derivation path


class _KeyText(NamedTuple):
    origin: str  # canonical "[fingerprint/path]" or ""
    origin_path: tuple[int, ...]
    body: str  # hex or base58 as given (hex lower-cased)
    steps: tuple[int, ...]  # _MULTIPATH marks <0;1>; hardened steps have bit 31 set
    wildcard: bool

    def canonical(self) -> str:
        path = "".join("/" + _step_text(s) for s in self.steps)
        return self.origin + self.body + path + ("/*" if self.wildcard else "")


def _step_text(step: int) -> str:
    if step == _MULTIPATH:
        return "<0;1>"
    if step >= _HARDENED:
        return f"{step - _HARDENED}'"
    return str(step)


def _parse_index(text: str) -> int:
    hardened = text[-1:] in ("h", "'")
    digits = text[:-1] if hardened else text
    if not digits or len(digits) > 10 or any(c not in "0123456789" for c in digits):
        raise DescriptorError("invalid derivation step")
    value = int(digits)
    if value >= _HARDENED:
        raise DescriptorError("derivation index out of range")
    return value + _HARDENED if hardened else value


def _parse_key_text(text: str) -> _KeyText:
    origin, origin_path = "", tuple[int, ...]()
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise DescriptorError("key origin is missing ']'")
        fingerprint, *origin_steps = text[1:close].split("/")
        if not _is_hex(fingerprint, 8):
            raise DescriptorError("key origin fingerprint must be 8 hex characters")
        origin_path = tuple(_parse_index(s) for s in origin_steps)
        origin = "[" + "".join([fingerprint.lower(), *("/" + _step_text(s) for s in origin_path)])
        origin += "]"
        text = text[close + 1 :]
    body, *path = text.split("/")
    wildcard = False
    if path and path[-1] in ("*", "*h", "*'"):
        if path[-1] != "*":
            raise DescriptorError("hardened wildcards are not supported")
        wildcard = True
        path = path[:-1]
    steps = []
    for step in path:
        if step.startswith("<"):
            if step != "<0;1>":
                raise DescriptorError("only the multipath step <0;1> is supported")
            steps.append(_MULTIPATH)
        elif "*" in step:
            raise DescriptorError("a wildcard must be the last derivation step")
        else:
            steps.append(_parse_index(step))
    if _MULTIPATH in steps[:-1]:
        raise DescriptorError("the multipath step <0;1> must be the last one (before /*)")
    if _is_hex(body, len(body)):
        body = body.lower()
    return _KeyText(origin, origin_path, body, tuple(steps), wildcard)


class _XKey(NamedTuple):
    mainnet: bool
    private: bool
    chain_code: bytes
    key: bytes  # 33-byte compressed pubkey, or 0x00 || 32-byte secret


def _parse_xkey(body: str) -> _XKey | None:
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
        _pubkey_point(key)
        return _XKey(_XPUB_VERSIONS[version], False, chain_code, key)
    if version in _XPRV_VERSIONS:
        if key[0] != 0 or not secp256k1.ec_seckey_verify(key[1:]):
            raise DescriptorError("invalid extended private key")
        return _XKey(_XPRV_VERSIONS[version], True, chain_code, key)
    raise DescriptorError("unknown extended key version")


def _reject_bad_single_key(body: str) -> NoReturn:
    if _is_hex(body, 130) and body.startswith("04"):
        raise DescriptorError("uncompressed public keys are not allowed")
    raise DescriptorError("unknown key form")


class _Key:
    """One public key of the descriptor, with per-branch derivation cached."""

    __slots__ = ("branches", "full_path", "mainnet", "multipath", "text", "wildcard")

    def __init__(self, text: str) -> None:
        parsed = _parse_key_text(text)
        self.text = parsed.canonical()
        self.wildcard = parsed.wildcard
        self.multipath = _MULTIPATH in parsed.steps
        self.mainnet: bool | None = None
        xkey = _parse_xkey(parsed.body)
        # branches: one entry per multipath branch (0, 1), else one; a _Node to derive
        # children from when the key has a wildcard, else the fixed compressed key.
        self.branches: tuple[_Node | bytes, ...]
        if xkey is None:
            if _is_hex(parsed.body, 66) and parsed.body[:2] in ("02", "03"):
                sec = bytes.fromhex(parsed.body)
            elif _is_hex(parsed.body, 64):  # x-only: the even-y point, as in miniscript
                sec = b"\x02" + bytes.fromhex(parsed.body)
            else:
                _reject_bad_single_key(parsed.body)
            if parsed.steps or parsed.wildcard:
                raise DescriptorError("derivation steps after a single public key")
            _pubkey_point(sec)
            self.branches = (sec,)
            self.full_path = parsed.origin_path
            return
        if xkey.private:
            raise DescriptorError("private keys are not allowed in a watch-only descriptor")
        if any(s >= _HARDENED for s in parsed.steps):
            raise DescriptorError("hardened derivation after an xpub is impossible")
        self.mainnet = xkey.mainnet
        root = _Node(_pubkey_point(xkey.key), xkey.key, xkey.chain_code)
        branches = []
        for branch in (0, 1) if self.multipath else (0,):
            node = root
            for step in parsed.steps:
                node = _ckd_pub(node, branch if step == _MULTIPATH else step)
            branches.append(node if self.wildcard else node.sec)
        self.branches = tuple(branches)
        self.full_path = parsed.origin_path + tuple(s for s in parsed.steps if s != _MULTIPATH)

    def pubkey(self, branch: int, index: int) -> bytes:
        entry = self.branches[branch if len(self.branches) > 1 else 0]
        if isinstance(entry, bytes):
            return entry
        return _ckd_pub(entry, index).sec


# ---------------------------------------------------------------------------------------------
# Scripts


def _p2wpkh(pk: bytes) -> bytes:
    return b"\x00\x14" + hash160(pk)


def _p2sh(script: bytes) -> bytes:
    return b"\xa9\x14" + hash160(script) + b"\x87"


def _p2wsh(script: bytes) -> bytes:
    return b"\x00\x20" + sha256(script)


def _push_small_int(n: int) -> bytes:
    return bytes([0x50 + n]) if n <= 16 else bytes([1, n])


def _p2tr(pk: bytes) -> bytes:
    xonly = pk[1:]
    tweak = tagged_hash(_TAPTWEAK_TAG, xonly)
    output = _add_tweak(_pubkey_point(b"\x02" + xonly), tweak)
    return b"\x51\x20" + _serialize(output)[1:]


class _Script(NamedTuple):
    kind: str  # shape for repr, e.g. "elwsh(sortedmulti)"
    text: str  # canonical text
    keys: tuple[_Key, ...]
    build: Callable[[list[bytes]], bytes]  # pubkeys (in key order) -> scriptPubKey


def _one_key(name: str, args: list[str]) -> _Key:
    if len(args) != 1:
        raise DescriptorError(f"{name}() takes exactly one key")
    return _Key(args[0])


class _Multi(NamedTuple):
    name: str  # multi | sortedmulti
    text: str
    keys: tuple[_Key, ...]
    script: Callable[[list[bytes]], bytes]  # pubkeys -> k <pk>... n OP_CHECKMULTISIG


def _parse_multi(name: str, args: list[str], max_keys: int) -> _Multi:
    threshold, key_texts = args[0], args[1:]
    if not 1 <= len(key_texts) <= max_keys:
        raise DescriptorError(f"{name}() needs 1 to {max_keys} keys here")
    if not threshold.isascii() or not threshold.isdigit() or len(threshold) > 2:
        raise DescriptorError(f"{name}() threshold must be a small decimal number")
    k = int(threshold)
    if not 1 <= k <= len(key_texts) or str(k) != threshold:
        raise DescriptorError(f"{name}() threshold must be between 1 and the number of keys")
    keys = tuple(_Key(t) for t in key_texts)
    ordered = name == "sortedmulti"

    def script(pks: list[bytes]) -> bytes:
        pks = sorted(pks) if ordered else pks
        body = b"".join(b"\x21" + pk for pk in pks)
        return _push_small_int(k) + body + _push_small_int(len(pks)) + b"\xae"

    return _Multi(name, f"{name}({k},{','.join(key.text for key in keys)})", keys, script)


def _parse_wsh_inner(text: str) -> _Multi:
    name, args = _split_call(text, "multi(...) or sortedmulti(...) inside wsh()")
    if name not in ("multi", "sortedmulti"):
        raise DescriptorError(f"unsupported script {_name_for_error(name)} inside wsh()")
    return _parse_multi(name, args, _MAX_MULTI_KEYS)


def _parse_script(text: str) -> _Script:
    name, args = _split_call(text, "a script expression such as elwpkh(...)")
    if name == "elwpkh":
        key = _one_key(name, args)
        return _Script("elwpkh", f"elwpkh({key.text})", (key,), lambda p: _p2wpkh(p[0]))
    if name == "eltr":
        if len(args) != 1:
            raise DescriptorError("eltr() script paths are not supported (key path only)")
        key = _one_key(name, args)
        return _Script("eltr", f"eltr({key.text})", (key,), lambda p: _p2tr(p[0]))
    if name == "elwsh":
        if len(args) != 1:
            raise DescriptorError("elwsh() takes exactly one argument")
        m = _parse_wsh_inner(args[0])
        return _Script(
            f"elwsh({m.name})", f"elwsh({m.text})", m.keys, lambda p: _p2wsh(m.script(p))
        )
    if name == "elsh":
        if len(args) != 1:
            raise DescriptorError("elsh() takes exactly one argument")
        inner_name, inner_args = _split_call(args[0], "wpkh(...), wsh(...) or multi(...) in elsh()")
        if inner_name == "wpkh":
            key = _one_key(inner_name, inner_args)
            return _Script(
                "elsh(wpkh)", f"elsh(wpkh({key.text}))", (key,), lambda p: _p2sh(_p2wpkh(p[0]))
            )
        if inner_name == "wsh" and len(inner_args) == 1:
            m = _parse_wsh_inner(inner_args[0])
            return _Script(
                f"elsh(wsh({m.name}))",
                f"elsh(wsh({m.text}))",
                m.keys,
                lambda p: _p2sh(_p2wsh(m.script(p))),
            )
        if inner_name == "multi":  # legacy P2SH multisig, which LWK accepts (not sortedmulti)
            m = _parse_multi(inner_name, inner_args, _MAX_P2SH_MULTI_KEYS)
            return _Script("elsh(multi)", f"elsh({m.text})", m.keys, lambda p: _p2sh(m.script(p)))
        raise DescriptorError(f"unsupported script {_name_for_error(inner_name)} inside elsh()")
    raise DescriptorError(f"unsupported script type {_name_for_error(name)}")


# ---------------------------------------------------------------------------------------------
# Blinding keys (ELIP-150)


def _ct_tweak(pubkey: bytes, script_pubkey: bytes) -> bytes:
    msg = pubkey + compact_size(len(script_pubkey)) + script_pubkey
    return tagged_hash(b"CT-Blinding-Key/1.0", msg)


class _Slip77:
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
        return _pubkey_of(self.private_key(script_pubkey))


class _ViewKey:
    kind = "view"

    def __init__(self, secret: int, text: str) -> None:
        self._secret = secret
        self._pub = _pubkey_of(secret.to_bytes(32, "big"))
        self.text = text

    def private_key(self, script_pubkey: bytes) -> bytes:
        tweak = int.from_bytes(_ct_tweak(self._pub, script_pubkey), "big")
        key = (self._secret + tweak) % _N
        if key == 0 or tweak >= _N:
            raise DescriptorError("blinding key tweak out of range for this script")
        return key.to_bytes(32, "big")

    def public_key(self, script_pubkey: bytes) -> bytes:
        return _pubkey_of(self.private_key(script_pubkey))


class _BareKey:
    kind = "public"

    def __init__(self, sec: bytes, text: str) -> None:
        self._sec = sec
        self._point = _pubkey_point(sec)
        self.text = text

    def private_key(self, script_pubkey: bytes) -> bytes:
        raise DescriptorError("descriptor has only a public blinding key: it cannot unblind")

    def public_key(self, script_pubkey: bytes) -> bytes:
        return _serialize(_add_tweak(self._point, _ct_tweak(self._sec, script_pubkey)))


_BlindingKey = _Slip77 | _ViewKey | _BareKey


def _parse_blinding_key(text: str) -> _Slip77 | _ViewKey | _BareKey:
    if "(" in text:
        name, args = _split_call(text, "a blinding key")
        if name != "slip77":
            raise DescriptorError(f"unknown blinding key form {_name_for_error(name)}")
        if len(args) != 1 or not _is_hex(args[0], 64):
            raise DescriptorError("slip77() takes exactly one 64-hex-character master key")
        return _Slip77(bytes.fromhex(args[0]))
    parsed = _parse_key_text(text)
    if parsed.wildcard:
        raise DescriptorError("a blinding key cannot have a wildcard")
    if _MULTIPATH in parsed.steps:
        raise DescriptorError("a blinding key cannot be multipath")
    canonical = parsed.canonical()
    xkey = _parse_xkey(parsed.body)
    if xkey is None:
        if not _is_hex(parsed.body, 64) and not (
            _is_hex(parsed.body, 66) and parsed.body[:2] in ("02", "03")
        ):
            _reject_bad_single_key(parsed.body)
        if parsed.steps:
            raise DescriptorError("derivation steps after a single blinding key")
        if len(parsed.body) == 66:
            return _BareKey(bytes.fromhex(parsed.body), canonical)
        secret = int(parsed.body, 16)
        if not 0 < secret < _N:
            raise DescriptorError("view key out of range")
        return _ViewKey(secret, canonical)
    if xkey.private:
        secret, chain_code = int.from_bytes(xkey.key[1:], "big"), xkey.chain_code
        for step in parsed.steps:
            secret, chain_code = _ckd_priv(secret, chain_code, step)
        return _ViewKey(secret, canonical)
    if any(s >= _HARDENED for s in parsed.steps):
        raise DescriptorError("hardened derivation after an xpub is impossible")
    node = _Node(_pubkey_point(xkey.key), xkey.key, xkey.chain_code)
    for step in parsed.steps:
        node = _ckd_pub(node, step)
    return _BareKey(node.sec, canonical)


# ---------------------------------------------------------------------------------------------
# WolletDescriptor


class WolletDescriptor:
    """A CT descriptor of a watch-only wallet (LWK's `WolletDescriptor`).

    `str(d)` is LWK's canonical text with checksum; it carries the blinding key, so treat it
    as a secret. `repr(d)` and every error message never carry key material.
    """

    __slots__ = ("_blinding", "_branches", "_chains", "_script", "_text", "_wallet_id")

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise DescriptorError("a descriptor must be given as text")
        if not text:
            raise DescriptorError("empty descriptor")
        name, args = _split_call(_strip_checksum(text), "ct(<blinding key>,<descriptor>)")
        if name != "ct":
            raise DescriptorError("not a CT descriptor: expected ct(<blinding key>,<descriptor>)")
        if len(args) != 2:
            raise DescriptorError(
                f"ct() takes 2 arguments (blinding key, descriptor), not {len(args)}"
            )
        script = _parse_script(args[1])
        multipath = [key.multipath for key in script.keys]
        if any(multipath) and not all(multipath):
            raise DescriptorError("in a multipath descriptor every key must end with /<0;1>")
        self._script = script
        self._branches = 2 if any(multipath) else 1
        self._chains = (
            (Chain.EXTERNAL, Chain.INTERNAL) if any(multipath) else (self._single_chain(),)
        )
        if args[0] == "elip151":
            self._blinding: _BlindingKey = self._elip151_key()
        else:
            self._blinding = _parse_blinding_key(args[0])
        body = f"ct({self._blinding.text},{script.text})"
        self._text = f"{body}#{descriptor_checksum(body)}"
        self._wallet_id = sha256(self._text.encode()).hex()

    def _single_chain(self) -> Chain:
        """LWK: the chain of a single-path descriptor is the first key's last path step
        (before `/*`; one step earlier without a wildcard) if it is 0 or 1, else EXTERNAL."""
        path = self._script.keys[0].full_path
        pos = -1 if self.has_wildcard else -2
        step = path[pos] if len(path) >= -pos else None
        return Chain.INTERNAL if step == 1 else Chain.EXTERNAL

    def _elip151_key(self) -> _ViewKey:
        if not self.has_wildcard:
            raise DescriptorError("elip151 needs a descriptor with a wildcard")
        data = b"".join(
            b"\x01\xff" + compact_size(len(spk)) + spk
            for spk in (self._spk(branch, _DWID_INDEX) for branch in range(self._branches))
        )
        secret = int.from_bytes(tagged_hash(b"Deterministic-View-Key/1.0", data), "big") % _N
        if secret == 0:
            raise DescriptorError("elip151 view key out of range")
        return _ViewKey(secret, secret.to_bytes(32, "big").hex())

    # -- derivation ------------------------------------------------------------------------

    def _spk(self, branch: int, index: int) -> bytes:
        return self._script.build([key.pubkey(branch, index) for key in self._script.keys])

    def _branch(self, chain: Chain) -> int:
        try:
            chain = Chain(chain)
        except ValueError:
            raise DescriptorError("chain must be Chain.EXTERNAL or Chain.INTERNAL") from None
        return int(chain) if self._branches == 2 else 0

    @staticmethod
    def _check_range(start: int, count: int) -> None:
        if start < 0 or count < 0 or start >= _HARDENED or start + count > _HARDENED:
            raise DescriptorError("derivation index out of range (0 .. 2^31-1)")

    def script_pubkey(self, chain: Chain, index: int) -> bytes:
        """The scriptPubKey at `index` of `chain` (single-path descriptors ignore `chain`)."""
        self._check_range(index, 1)
        return self._spk(self._branch(chain), index)

    def script_pubkeys(self, chain: Chain, start: int, count: int) -> list[bytes]:
        """The scriptPubKeys at indexes `start .. start+count-1` of `chain`."""
        self._check_range(start, count)
        branch = self._branch(chain)
        return [self._spk(branch, i) for i in range(start, start + count)]

    def blinding_private_key(self, script_pubkey: bytes) -> bytes:
        """The 32-byte blinding private key for a scriptPubKey (needs a private blinding key)."""
        return self._blinding.private_key(bytes(script_pubkey))

    def blinding_public_key(self, script_pubkey: bytes) -> bytes:
        """The 33-byte compressed blinding public key for a scriptPubKey."""
        return self._blinding.public_key(bytes(script_pubkey))

    def address(self, chain: Chain, index: int, network: Network) -> str:
        """The confidential address at `index` of `chain`."""
        spk = self.script_pubkey(chain, index)
        return script_to_address(spk, self.blinding_public_key(spk), network)

    def unconfidential_address(self, chain: Chain, index: int, network: Network) -> str:
        return script_to_address(self.script_pubkey(chain, index), None, network)

    def dwid(self, network: Network) -> str:
        """LWK's descriptor wallet id (ELIP-152): the first 16 bytes of the SHA-256 of the
        external confidential address at index 2^31-1, hex in dash-separated groups of 4."""
        digest = sha256(self.address(Chain.EXTERNAL, _DWID_INDEX, network).encode()).hex()
        return "-".join(digest[i : i + 4] for i in range(0, 32, 4))

    # -- properties ------------------------------------------------------------------------

    @property
    def chains(self) -> tuple[Chain, ...]:
        """The chains a sync scans: (EXTERNAL, INTERNAL) for `<0;1>`, else the one chain."""
        return self._chains

    @property
    def has_wildcard(self) -> bool:
        """False for a single-address descriptor: every index gives the same script."""
        return any(key.wildcard for key in self._script.keys)

    @property
    def wallet_id(self) -> str:
        """Stable internal id: hex SHA-256 of the canonical text (not reversible)."""
        return self._wallet_id

    @property
    def is_mainnet(self) -> bool:
        """True unless some extended key is a testnet one (tpub), as in LWK."""
        return all(key.mainnet is not False for key in self._script.keys)

    @property
    def can_unblind(self) -> bool:
        return not isinstance(self._blinding, _BareKey)

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        paths = "multipath" if self._branches == 2 else "single-path"
        kind = f"{self._script.kind} {self._blinding.kind} {paths}"
        return f"<WolletDescriptor {kind} {self._wallet_id[:8]}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WolletDescriptor):
            return NotImplemented
        return self._text == other._text

    def __hash__(self) -> int:
        return hash(self._text)

    def __reduce__(self) -> tuple[type[WolletDescriptor], tuple[str]]:
        return (WolletDescriptor, (self._text,))
