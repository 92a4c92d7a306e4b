"""What both wallet stores share: a wallet's public name and the sealing of its data.

Data is sealed with AES-GCM-SIV (AES-GCM with a random nonce where OpenSSL lacks it) under a
key derived with HKDF-SHA256 from the descriptor's canonical text, so only a holder of the
descriptor can read or forge a stored state. Stores keep wallets under `wallet_name`, a hash
of the descriptor's wallet id: never the descriptor, which holds the blinding key.
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
from ._errors import StoreCorrupted, StoreError
from ._hashes import tagged_hash

__all__ = ["NONCE_SIZE", "TAG_SIZE", "Sealer", "derive_key", "wallet_name"]

NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
_SEALING_INFO: Final = b"lwk-core wallet store v1"
_NAME_TAG: Final = b"lwk-core wallet dir"
# Cipher ids stored with sealed data: each record says which AEAD sealed it.
_CIPHER_GCM_SIV: Final = 1
_CIPHER_GCM: Final = 2


class _Aead(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...
    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


def wallet_name(descriptor: WolletDescriptor) -> str:
    """The wallet's name in a store (32 hex digits): a hash of its wallet id."""
    return tagged_hash(_NAME_TAG, descriptor.wallet_id.encode()).hex()[:32]


def derive_key(descriptor: WolletDescriptor, info: bytes) -> bytes:
    """A 32-byte key for one purpose (`info`), derived from the descriptor's canonical text."""
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(
        str(descriptor).encode()
    )


class Sealer:
    """Seals and opens one wallet's data (authenticated encryption bound to associated data)."""

    def __init__(self, descriptor: WolletDescriptor) -> None:
        key = derive_key(descriptor, _SEALING_INFO)
        # AES-GCM-SIV needs OpenSSL 3.2 (cryptography's wheels have it).
        self._ciphers: dict[int, _Aead] = {_CIPHER_GCM: AESGCM(key)}
        with contextlib.suppress(UnsupportedAlgorithm):
            self._ciphers[_CIPHER_GCM_SIV] = AESGCMSIV(key)
        self.cipher_id: Final = min(self._ciphers)  # AES-GCM-SIV when available

    def seal(self, payload: bytes, associated_data: bytes) -> tuple[bytes, bytes]:
        """A fresh random nonce and the sealed payload (ciphertext and tag), with the cipher
        `cipher_id` (which `associated_data` should include)."""
        nonce = os.urandom(NONCE_SIZE)
        return nonce, self._ciphers[self.cipher_id].encrypt(nonce, payload, associated_data)

    def open(
        self, cipher_id: int, nonce: bytes, sealed: bytes, associated_data: bytes, corrupted: str
    ) -> bytes:
        """The payload; StoreCorrupted(`corrupted`) if it fails authentication, StoreError if
        it was sealed with AES-GCM-SIV and this OpenSSL lacks it."""
        cipher = self._ciphers.get(cipher_id)
        if cipher is None and cipher_id == _CIPHER_GCM_SIV:
            raise StoreError(
                "the wallet state is sealed with AES-GCM-SIV, which the installed "
                "cryptography/OpenSSL lacks"
            )
        if cipher is None:
            raise StoreCorrupted(corrupted)
        try:
            return cipher.decrypt(nonce, sealed, associated_data)
        except InvalidTag:
            raise StoreCorrupted(corrupted) from None
