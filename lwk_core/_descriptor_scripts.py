"""The script expressions of a descriptor and the scriptPubKeys they build: `elwpkh`,
`elsh(wpkh)`, `elwsh(multi|sortedmulti)`, `elsh(wsh(multi|sortedmulti))`, legacy `elsh(multi)`
and key-path-only `eltr`."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ._bip32 import add_tweak, pubkey_point, serialize_point
from ._descriptor_keys import Key
from ._descriptor_text import name_for_error, split_call
from ._errors import DescriptorError
from ._hashes import hash160, sha256, tagged_hash

__all__ = ["Script", "parse_script"]

_MAX_MULTI_KEYS = 20
_MAX_P2SH_MULTI_KEYS = 15  # a larger redeem script exceeds 520 bytes
_TAPTWEAK_TAG = b"TapTweak/elements"  # Elements' BIP-341 tweak tag


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
    output = add_tweak(pubkey_point(b"\x02" + xonly), tweak)
    return b"\x51\x20" + serialize_point(output)[1:]


class Script(NamedTuple):
    kind: str  # shape for repr, e.g. "elwsh(sortedmulti)"
    text: str  # canonical text
    keys: tuple[Key, ...]
    build: Callable[[list[bytes]], bytes]  # pubkeys (in key order) -> scriptPubKey


def _one_key(name: str, args: list[str]) -> Key:
    if len(args) != 1:
        raise DescriptorError(f"{name}() takes exactly one key")
    return Key(args[0])


class _Multi(NamedTuple):
    name: str  # multi | sortedmulti
    text: str
    keys: tuple[Key, ...]
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
    keys = tuple(Key(t) for t in key_texts)
    ordered = name == "sortedmulti"

    def script(pks: list[bytes]) -> bytes:
        pks = sorted(pks) if ordered else pks
        body = b"".join(b"\x21" + pk for pk in pks)
        return _push_small_int(k) + body + _push_small_int(len(pks)) + b"\xae"

    return _Multi(name, f"{name}({k},{','.join(key.text for key in keys)})", keys, script)


def _parse_wsh_inner(text: str) -> _Multi:
    name, args = split_call(text, "multi(...) or sortedmulti(...) inside wsh()")
    if name not in ("multi", "sortedmulti"):
        raise DescriptorError(f"unsupported script {name_for_error(name)} inside wsh()")
    return _parse_multi(name, args, _MAX_MULTI_KEYS)


def parse_script(text: str) -> Script:
    name, args = split_call(text, "a script expression such as elwpkh(...)")
    if name == "elwpkh":
        key = _one_key(name, args)
        return Script("elwpkh", f"elwpkh({key.text})", (key,), lambda p: _p2wpkh(p[0]))
    if name == "eltr":
        if len(args) != 1:
            raise DescriptorError("eltr() script paths are not supported (key path only)")
        key = _one_key(name, args)
        return Script("eltr", f"eltr({key.text})", (key,), lambda p: _p2tr(p[0]))
    if name == "elwsh":
        if len(args) != 1:
            raise DescriptorError("elwsh() takes exactly one argument")
        m = _parse_wsh_inner(args[0])
        return Script(f"elwsh({m.name})", f"elwsh({m.text})", m.keys, lambda p: _p2wsh(m.script(p)))
    if name == "elsh":
        if len(args) != 1:
            raise DescriptorError("elsh() takes exactly one argument")
        inner_name, inner_args = split_call(args[0], "wpkh(...), wsh(...) or multi(...) in elsh()")
        if inner_name == "wpkh":
            key = _one_key(inner_name, inner_args)
            return Script(
                "elsh(wpkh)", f"elsh(wpkh({key.text}))", (key,), lambda p: _p2sh(_p2wpkh(p[0]))
            )
        if inner_name == "wsh" and len(inner_args) == 1:
            m = _parse_wsh_inner(inner_args[0])
            return Script(
                f"elsh(wsh({m.name}))",
                f"elsh(wsh({m.text}))",
                m.keys,
                lambda p: _p2sh(_p2wsh(m.script(p))),
            )
        if inner_name == "multi":  # legacy P2SH multisig, which LWK accepts (not sortedmulti)
            m = _parse_multi(inner_name, inner_args, _MAX_P2SH_MULTI_KEYS)
            return Script("elsh(multi)", f"elsh({m.text})", m.keys, lambda p: _p2sh(m.script(p)))
        raise DescriptorError(f"unsupported script {name_for_error(inner_name)} inside elsh()")
    raise DescriptorError(f"unsupported script type {name_for_error(name)}")
