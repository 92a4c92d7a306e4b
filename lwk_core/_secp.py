"""Our own ctypes binding of the libsecp256k1-zkp that embit ships.

embit serialises every secp256k1 call behind one global lock, so threads cannot rewind range
proofs in parallel through it. We load the same shared library embit found with our own ctypes
handle and our own context. Per the library's documentation a constructed context can be used
from many threads at once as long as nothing mutates it (we randomize it once, before sharing),
and ctypes releases the GIL during each foreign call.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeAlias

from ._errors import LwkError, UnblindError

__all__ = ["Secp", "get_secp"]

_CONTEXT_SIGN_VERIFY: Final = 0x0301  # SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY
_COMPRESSED: Final = 0x102  # SECP256K1_EC_COMPRESSED

_c_buf = ctypes.c_char_p
_c_ptr = ctypes.c_void_p
_c_size = ctypes.c_size_t
_c_size_p = ctypes.POINTER(ctypes.c_size_t)
_c_u64_p = ctypes.POINTER(ctypes.c_uint64)

_SIGNATURES: Final[dict[str, list[object]]] = {
    "secp256k1_context_create": [ctypes.c_uint],
    "secp256k1_context_randomize": [_c_ptr, _c_buf],
    "secp256k1_ec_pubkey_parse": [_c_ptr, _c_buf, _c_buf, _c_size],
    "secp256k1_ec_pubkey_serialize": [_c_ptr, _c_buf, _c_size_p, _c_buf, ctypes.c_uint],
    "secp256k1_ec_pubkey_create": [_c_ptr, _c_buf, _c_buf],
    "secp256k1_ec_pubkey_tweak_mul": [_c_ptr, _c_buf, _c_buf],
    "secp256k1_ec_pubkey_combine": [_c_ptr, _c_buf, ctypes.POINTER(_c_buf), _c_size],
    "secp256k1_ecdsa_signature_parse_der": [_c_ptr, _c_buf, _c_buf, _c_size],
    "secp256k1_ecdsa_signature_normalize": [_c_ptr, _c_buf, _c_buf],
    "secp256k1_ecdsa_verify": [_c_ptr, _c_buf, _c_buf, _c_buf],
    "secp256k1_ecdh": [_c_ptr, _c_buf, _c_buf, _c_buf, _c_ptr, _c_ptr],
    "secp256k1_pedersen_commitment_parse": [_c_ptr, _c_buf, _c_buf],
    "secp256k1_pedersen_commitment_serialize": [_c_ptr, _c_buf, _c_buf],
    "secp256k1_pedersen_commit": [_c_ptr, _c_buf, _c_buf, ctypes.c_uint64, _c_buf],
    "secp256k1_generator_parse": [_c_ptr, _c_buf, _c_buf],
    "secp256k1_generator_generate_blinded": [_c_ptr, _c_buf, _c_buf, _c_buf],
    "secp256k1_generator_serialize": [_c_ptr, _c_buf, _c_buf],
    "secp256k1_rangeproof_rewind": [
        _c_ptr,  # ctx
        _c_buf,  # blind_out[32]
        _c_u64_p,  # value_out
        _c_buf,  # message_out
        _c_size_p,  # outlen (in: capacity, out: written)
        _c_buf,  # nonce[32]
        _c_u64_p,  # min_value
        _c_u64_p,  # max_value
        _c_buf,  # commit
        _c_buf,  # proof
        _c_size,  # plen
        _c_buf,  # extra_commit
        _c_size,  # extra_commit_len
        _c_buf,  # gen
    ],
}

Buffer = ctypes.Array[ctypes.c_char]
# lwk_core._native.unblind: (nonce commitment, key, value commitment, asset commitment, proof,
# script) -> (value, value blinder, message) or an outcome code (lwk_core/_unblind.py)
NativeUnblind: TypeAlias = Callable[
    [bytes, bytes, bytes, bytes, bytes, bytes], tuple[int, bytes, bytes] | int
]


class Secp:
    """The secp256k1-zkp functions we need, with exact signatures, one shared context, and
    the few point operations range-proof opening needs (UnblindError when one fails).

    `native_unblind` is the C extension's whole unblinding over the same library, or None
    where the extension was not built (the Python opening is used then)."""

    def __init__(self) -> None:
        path = _embit_library()
        lib = ctypes.CDLL(path)
        for name, argtypes in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.argtypes = argtypes
            fn.restype = _c_ptr if name == "secp256k1_context_create" else ctypes.c_int
        ctx = lib.secp256k1_context_create(_CONTEXT_SIGN_VERIFY)
        if not ctx:
            raise RuntimeError("secp256k1_context_create failed")
        if lib.secp256k1_context_randomize(ctx, os.urandom(32)) != 1:
            raise RuntimeError("secp256k1_context_randomize failed")
        self.lib = lib
        self.ctx = ctx
        self.native_unblind: NativeUnblind | None = _load_native(path)

    def point(self, sec: bytes) -> Buffer:
        out = ctypes.create_string_buffer(64)
        if self.lib.secp256k1_ec_pubkey_parse(self.ctx, out, sec, len(sec)) != 1:
            raise UnblindError("range proof point is not on the curve")
        return out

    def ecdsa_verify(self, der: bytes, msg32: bytes, pubkey: bytes) -> bool | None:
        """Check a DER signature of `msg32` by `pubkey` (SEC encoded): True or False; None
        when the key does not parse or S is high (BIP 62's low-S rule, which the library's
        verify also enforces)."""
        key = ctypes.create_string_buffer(64)
        if self.lib.secp256k1_ec_pubkey_parse(self.ctx, key, pubkey, len(pubkey)) != 1:
            return None
        sig = ctypes.create_string_buffer(64)
        if self.lib.secp256k1_ecdsa_signature_parse_der(self.ctx, sig, der, len(der)) != 1:
            return False
        if self.lib.secp256k1_ecdsa_signature_normalize(self.ctx, None, sig) == 1:
            return None  # high S
        return bool(self.lib.secp256k1_ecdsa_verify(self.ctx, sig, msg32, key) == 1)

    def serialize(self, point: Buffer) -> bytes:
        out = ctypes.create_string_buffer(33)
        size = ctypes.c_size_t(33)
        self.lib.secp256k1_ec_pubkey_serialize(
            self.ctx, out, ctypes.byref(size), point, _COMPRESSED
        )
        return out.raw

    def times_g(self, scalar: int) -> Buffer:
        out = ctypes.create_string_buffer(64)
        if self.lib.secp256k1_ec_pubkey_create(self.ctx, out, scalar.to_bytes(32, "big")) != 1:
            raise UnblindError("range proof scalar out of range")
        return out

    def times(self, point: Buffer, scalar: int) -> Buffer:
        out = ctypes.create_string_buffer(point.raw, 64)
        if self.lib.secp256k1_ec_pubkey_tweak_mul(self.ctx, out, scalar.to_bytes(32, "big")) != 1:
            raise UnblindError("range proof scalar out of range")
        return out

    def add(self, a: Buffer, b: Buffer) -> Buffer:
        out = ctypes.create_string_buffer(64)
        both = (_c_buf * 2)(ctypes.cast(a, _c_buf), ctypes.cast(b, _c_buf))
        if self.lib.secp256k1_ec_pubkey_combine(self.ctx, out, both, 2) != 1:
            raise UnblindError("range proof point sum is infinity")
        return out


def _load_native(path: str) -> NativeUnblind | None:
    """The C extension's `unblind` over the library at `path` (its own context, randomized
    like ours), or None where the extension was not built or the library lacks a function
    it calls."""
    try:
        from ._native import load, unblind

        load(path, os.urandom(32))
    except (ImportError, OSError):
        return None
    return unblind


def _embit_library() -> str:
    """The path of the libsecp256k1-zkp that embit loads (dlopen then returns its handle).

    embit keeps its CDLL in a private attribute; if a release renames it, the library is
    looked up where embit 0.8 ships it (`embit/util/prebuilt/libsecp256k1_<os>_<arch><ext>`).
    """
    from embit.util import ctypes_secp256k1 as embit_secp

    loaded = getattr(getattr(embit_secp, "_secp", None), "_name", None)
    if isinstance(loaded, str):
        return loaded
    system = platform.system()
    suffix = {"Darwin": ".dylib", "Windows": ".dll"}.get(system, ".so")
    name = f"libsecp256k1_{system.lower()}_{platform.machine().lower()}{suffix}"
    shipped = Path(embit_secp.__file__).parent / "prebuilt" / name
    if not shipped.is_file():
        raise OSError(f"embit's libsecp256k1-zkp not found (looked for prebuilt/{name})")
    return str(shipped)


_secp: Secp | None = None
_secp_lock = threading.Lock()


def get_secp() -> Secp:
    """The binding, loaded on first use; LwkError (not UnblindError) if the library is missing."""
    global _secp
    if _secp is None:
        with _secp_lock:
            if _secp is None:
                try:
                    _secp = Secp()
                except (ImportError, OSError, AttributeError, RuntimeError) as e:
                    raise LwkError(
                        f"libsecp256k1-zkp (shipped with embit) is unavailable: {e} (is embit "
                        "installed, in a version lwk-core supports?)"
                    ) from e
    return _secp
