"""Unblinding confidential outputs (PROTOCOL.md 4.1) through our own libsecp256k1-zkp binding.

embit serialises every secp256k1 call behind one global lock, so threads cannot rewind range
proofs in parallel through it. We load the same shared library embit found with our own ctypes
handle and our own context. Per the library's documentation a constructed context can be used
from many threads at once as long as nothing mutates it (we randomize it once, before sharing),
and ctypes releases the GIL during each foreign call, so `unblind_many` scales with cores.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final

from ._errors import LwkError, UnblindError
from ._hashes import sha256
from ._update import TxOutSecrets

if TYPE_CHECKING:
    from ._transaction import TxOut

__all__ = ["unblind_many", "unblind_output"]

_ZERO_HEX: Final = "00" * 32
_CONTEXT_SIGN_VERIFY: Final = 0x0301  # SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY
_MESSAGE_LEN: Final = 64  # asset id (32) || asset blinding factor (32)
_MIN_JOBS_PER_THREAD: Final = 2  # below this a pool costs more than it saves

_c_buf = ctypes.c_char_p
_c_ptr = ctypes.c_void_p
_c_size_p = ctypes.POINTER(ctypes.c_size_t)
_c_u64_p = ctypes.POINTER(ctypes.c_uint64)


class _Secp:
    """The secp256k1-zkp functions we need, with exact signatures, and one shared context."""

    def __init__(self) -> None:
        from embit.util import ctypes_secp256k1 as embit_secp

        path = embit_secp._secp._name  # the library embit loaded (dlopen returns its handle)
        lib = ctypes.CDLL(path)
        self._declare(lib)
        ctx = lib.secp256k1_context_create(_CONTEXT_SIGN_VERIFY)
        if not ctx:
            raise RuntimeError("secp256k1_context_create failed")
        if lib.secp256k1_context_randomize(ctx, os.urandom(32)) != 1:
            raise RuntimeError("secp256k1_context_randomize failed")
        self.lib = lib
        self.ctx = ctx

    @staticmethod
    def _declare(lib: ctypes.CDLL) -> None:
        signatures: dict[str, list[object]] = {
            "secp256k1_context_create": [ctypes.c_uint],
            "secp256k1_context_randomize": [_c_ptr, _c_buf],
            "secp256k1_ec_pubkey_parse": [_c_ptr, _c_buf, _c_buf, ctypes.c_size_t],
            "secp256k1_ecdh": [_c_ptr, _c_buf, _c_buf, _c_buf, _c_ptr, _c_ptr],
            "secp256k1_pedersen_commitment_parse": [_c_ptr, _c_buf, _c_buf],
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
                ctypes.c_size_t,  # plen
                _c_buf,  # extra_commit
                ctypes.c_size_t,  # extra_commit_len
                _c_buf,  # gen
            ],
        }
        for name, argtypes in signatures.items():
            fn = getattr(lib, name)
            fn.argtypes = argtypes
            fn.restype = _c_ptr if name == "secp256k1_context_create" else ctypes.c_int


_secp: _Secp | None = None
_secp_lock = threading.Lock()


def _get_secp() -> _Secp:
    """The binding, loaded on first use; LwkError (not UnblindError) if the library is missing."""
    global _secp
    if _secp is None:
        with _secp_lock:
            if _secp is None:
                try:
                    _secp = _Secp()
                except (ImportError, OSError, AttributeError, RuntimeError) as e:
                    raise LwkError("libsecp256k1-zkp (shipped with embit) is unavailable") from e
    return _secp


def _rewind_nonce(s: _Secp, ephemeral_pubkey: bytes, blinding_private_key: bytes) -> bytes:
    """sha256(ECDH): libsecp256k1's default ECDH already hashes the compressed shared point,
    so this is sha256d(compressed(k * P)) as Elements computes it."""
    pubkey = ctypes.create_string_buffer(64)
    if s.lib.secp256k1_ec_pubkey_parse(s.ctx, pubkey, ephemeral_pubkey, 33) != 1:
        raise UnblindError("output nonce is not a valid public key")
    shared = ctypes.create_string_buffer(32)
    if s.lib.secp256k1_ecdh(s.ctx, shared, pubkey, blinding_private_key, None, None) != 1:
        raise UnblindError("blinding private key is not a valid scalar")
    return sha256(shared.raw)


def unblind_output(txout: TxOut, blinding_private_key: bytes) -> TxOutSecrets:
    """Reveal an output's asset, value and blinders with the receiver's blinding key.

    Explicit outputs give zero blinders without using the key (as LWK's try_unblind). As in
    LWK (rust-elements TxOut::unblind), both asset and value must otherwise be confidential:
    Elements could also rewind an explicit-asset/blinded-value output, LWK does not count it.
    Unlike rust-elements, the asset commitment is checked against the unblinded asset and
    blinder (Elements' UnblindConfidentialPair), so a sender cannot make us credit an asset
    the output does not carry.
    Raises UnblindError if the output is not ours, is corrupt, or cannot be unblinded.
    """
    if txout.asset is not None and txout.value is not None:
        return TxOutSecrets(txout.asset, txout.value, _ZERO_HEX, _ZERO_HEX)
    if not (txout.value_commitment and txout.asset_commitment):
        raise UnblindError("output is not confidential")
    if len(txout.nonce_commitment) != 33 or txout.nonce_commitment[0] not in (2, 3):
        raise UnblindError("output has no ECDH nonce")
    if not txout.range_proof:
        raise UnblindError("output has no range proof")
    if len(blinding_private_key) != 32:
        raise UnblindError("blinding private key must be 32 bytes")
    s = _get_secp()
    lib, ctx = s.lib, s.ctx
    nonce = _rewind_nonce(s, txout.nonce_commitment, bytes(blinding_private_key))
    commit = ctypes.create_string_buffer(64)
    if lib.secp256k1_pedersen_commitment_parse(ctx, commit, txout.value_commitment) != 1:
        raise UnblindError("output has an invalid value commitment")
    gen = ctypes.create_string_buffer(64)
    if lib.secp256k1_generator_parse(ctx, gen, txout.asset_commitment) != 1:
        raise UnblindError("output has an invalid asset commitment")
    vbf = ctypes.create_string_buffer(32)
    value = ctypes.c_uint64(0)
    message = ctypes.create_string_buffer(_MESSAGE_LEN)
    message_len = ctypes.c_size_t(_MESSAGE_LEN)
    min_value = ctypes.c_uint64(0)
    max_value = ctypes.c_uint64(0)
    proof, spk = txout.range_proof, txout.script_pubkey
    ok = lib.secp256k1_rangeproof_rewind(
        ctx,
        vbf,
        ctypes.byref(value),
        message,
        ctypes.byref(message_len),
        nonce,
        ctypes.byref(min_value),
        ctypes.byref(max_value),
        commit,
        proof,
        len(proof),
        spk,
        len(spk),
        gen,
    )
    if ok != 1:
        raise UnblindError("range proof does not rewind with this key")
    if message_len.value != _MESSAGE_LEN:
        raise UnblindError("range proof message is too short")
    asset, abf = message.raw[:32], message.raw[32:]
    recomputed = ctypes.create_string_buffer(64)
    if lib.secp256k1_generator_generate_blinded(ctx, recomputed, asset, abf) != 1:
        raise UnblindError("range proof message has an invalid asset blinding factor")
    serialized = ctypes.create_string_buffer(33)
    lib.secp256k1_generator_serialize(ctx, serialized, recomputed)
    if serialized.raw != txout.asset_commitment:
        raise UnblindError("asset commitment does not match the unblinded asset")
    return TxOutSecrets(
        asset=asset[::-1].hex(),
        value=value.value,
        asset_bf=abf[::-1].hex(),
        value_bf=vbf.raw[::-1].hex(),
    )


def _unblind_or_error(job: tuple[TxOut, bytes]) -> TxOutSecrets | UnblindError:
    try:
        return unblind_output(*job)
    except UnblindError as e:
        return e


def unblind_many(
    jobs: Sequence[tuple[TxOut, bytes]], *, threads: int | None = None
) -> list[TxOutSecrets | UnblindError]:
    """Unblind many (output, key) pairs, in order; a failed one gives its UnblindError.

    Runs on a thread pool (default: one thread per CPU) when there is enough work for it.
    """
    if threads is None:
        threads = os.cpu_count() or 1
    threads = max(1, min(threads, len(jobs) // _MIN_JOBS_PER_THREAD))
    if threads == 1:
        return [_unblind_or_error(job) for job in jobs]
    _get_secp()  # load once, before the workers race for it
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lwk-unblind") as pool:
        return list(pool.map(_unblind_or_error, jobs))
