"""Authenticated encryption of a wallet's data under a key derived from its descriptor.

One sealed blob (the wallet store's file, an encrypted Update or wallet state) is

    magic | u8 format version | u8 cipher | 12-byte nonce | ciphertext + 16-byte tag

with the key HKDF-SHA256 of the descriptor's canonical text (whoever can read the wallet
can open it, nobody else) and, as associated data, the header (magic, version, cipher)
followed by the caller's context: a blob opens only as the kind of data its magic names,
in the context it was sealed for (the store binds the network and the wallet id).
"""

from __future__ import annotations

import contextlib
import os
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESGCMSIV
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._descriptor import WolletDescriptor
from ._errors import DecodeError

__all__ = ["CipherUnavailable", "Sealer", "UnknownVersion", "Unopenable", "unseal"]

NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
_KDF_INFO: Final = b"lwk-core wallet store v1"  # the store's first format fixed it

# Cipher ids stored in the header: a blob says which AEAD sealed it.
CIPHER_GCM_SIV: Final = 1
CIPHER_GCM: Final = 2


class Unopenable(Exception):
    """A blob that does not open: not this kind of data, torn, tampered with, or sealed
    under another descriptor (callers raise their public error from it)."""


class UnknownVersion(Unopenable):
    """A blob of the right kind in a format version this lwk-core does not read."""

    def __init__(self, version: int) -> None:
        super().__init__(f"format version {version}")
        self.version = version


class CipherUnavailable(Unopenable):
    """A blob sealed with AES-GCM-SIV, which the installed cryptography/OpenSSL lacks."""


class _Aead(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...
    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


def _ciphers(key: bytes) -> dict[int, _Aead]:
    """The AEADs available for `key`: AES-GCM-SIV needs OpenSSL 3.2 (cryptography's wheels
    have it); AES-GCM with a random nonce is the fallback."""
    ciphers: dict[int, _Aead] = {CIPHER_GCM: AESGCM(key)}
    with contextlib.suppress(UnsupportedAlgorithm):
        ciphers[CIPHER_GCM_SIV] = AESGCMSIV(key)
    return ciphers


def header_size(magic: bytes) -> int:
    """The size of a sealed blob's header (magic, version, cipher, nonce)."""
    return len(magic) + 2 + NONCE_SIZE


class Sealer:
    """Seals and opens blobs with the key of one descriptor."""

    __slots__ = ("_cipher_id", "_ciphers")

    def __init__(self, descriptor: WolletDescriptor) -> None:
        key = HKDF(algorithm=SHA256(), length=32, salt=None, info=_KDF_INFO).derive(
            str(descriptor).encode()
        )
        self._ciphers = _ciphers(key)
        self._cipher_id = min(self._ciphers)  # AES-GCM-SIV when available

    def seal(self, magic: bytes, version: int, payload: bytes, context: bytes = b"") -> bytes:
        header = magic + bytes([version, self._cipher_id])
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._ciphers[self._cipher_id].encrypt(nonce, payload, header + context)
        return header + nonce + sealed

    def open(self, blob: bytes, magic: bytes, version: int, context: bytes = b"") -> bytes:
        """The payload of `blob`; Unopenable (or its UnknownVersion and CipherUnavailable
        kinds) if it is not a `magic` blob of `version` that authenticates in `context`."""
        size = header_size(magic)
        if len(blob) < size + TAG_SIZE or not blob.startswith(magic):
            raise Unopenable("not a sealed blob of this kind")
        found, cipher_id = blob[len(magic)], blob[len(magic) + 1]
        if found != version:
            raise UnknownVersion(found)
        cipher = self._ciphers.get(cipher_id)
        if cipher is None and cipher_id == CIPHER_GCM_SIV:
            raise CipherUnavailable(
                "sealed with AES-GCM-SIV, which the installed cryptography/OpenSSL lacks"
            )
        if cipher is None:
            raise Unopenable(f"unknown cipher {cipher_id}")
        header, nonce = blob[: len(magic) + 2], blob[len(magic) + 2 : size]
        try:
            return cipher.decrypt(nonce, blob[size:], header + context)
        except InvalidTag:
            raise Unopenable("failed authentication") from None


def unseal(sealer: Sealer, blob: bytes, magic: bytes, version: int, what: str) -> bytes:
    """`sealer.open` for a public decoder of an encrypted `what`: DecodeError if it fails."""
    try:
        return sealer.open(blob, magic, version)
    except UnknownVersion as e:
        raise DecodeError(
            f"encrypted {what} of format version {e.version}; this lwk-core reads {version}"
        ) from None
    except CipherUnavailable as e:
        raise DecodeError(f"the encrypted {what} is {e}") from None
    except Unopenable:
        if not blob.startswith(magic):
            raise DecodeError(f"not an encrypted {what}") from None
        raise DecodeError(
            f"the encrypted {what} does not open with this descriptor: made for another "
            "wallet, truncated or altered"
        ) from None
