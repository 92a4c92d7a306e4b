"""A wallet's public name in a store, and the authenticated encryption of its data.

Data is sealed with AES-GCM-SIV (AES-GCM with a random nonce where OpenSSL lacks it) under a
key derived with HKDF-SHA256 from the descriptor's canonical text: whoever can read the wallet
can open it, nobody else can read or forge it. Two shapes share the key and the ciphers:

- a record (`seal_record`/`open_record`): nonce and ciphertext, bound to the caller's
  associated data (the stores' files and rows, which frame them themselves);
- a blob (`seal`/`open`): `magic | u8 format version | u8 cipher | 12-byte nonce |
  ciphertext + 16-byte tag`, the header (then the caller's context) as associated data, so a
  blob opens only as the kind of data its magic names (an encrypted Update or wallet state).

Stores keep wallets under `wallet_name`, a hash of the descriptor's wallet id: never the
descriptor, which holds the blinding key.

`cryptography` (its Rust and OpenSSL bindings: ~8 MB resident) is imported on first use, so a
process that never seals or opens anything, a wallet without a store, does not hold it.
"""

from __future__ import annotations

import contextlib
import os
from typing import Final, Protocol

from ._descriptor import WolletDescriptor
from ._errors import DecodeError, StoreCorrupted, StoreError
from ._hashes import tagged_hash

__all__ = [
    "NONCE_SIZE",
    "TAG_SIZE",
    "CipherUnavailable",
    "Sealer",
    "UnknownVersion",
    "Unopenable",
    "derive_key",
    "open_stored",
    "unseal",
    "wallet_name",
]

NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
_SEALING_INFO: Final = b"lwk-core wallet store v1"  # the store's first format fixed it
_NAME_TAG: Final = b"lwk-core wallet dir"
# Cipher ids stored with sealed data: each record or blob says which AEAD sealed it.
_CIPHER_GCM_SIV: Final = 1
_CIPHER_GCM: Final = 2


class Unopenable(Exception):
    """Sealed data that does not open: not this kind of data, torn, tampered with, or sealed
    under another descriptor (callers raise their public error from it)."""


class UnknownVersion(Unopenable):
    """A blob of the right kind in a format version this lwk-core does not read."""

    def __init__(self, version: int) -> None:
        super().__init__(f"format version {version}")
        self.version = version


class CipherUnavailable(Unopenable):
    """Data sealed with AES-GCM-SIV, which the installed cryptography/OpenSSL lacks."""


class _Aead(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...
    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


def wallet_name(descriptor: WolletDescriptor) -> str:
    """The wallet's name in a store (32 hex digits): a hash of its wallet id."""
    return tagged_hash(_NAME_TAG, descriptor.wallet_id.encode()).hex()[:32]


def derive_key(descriptor: WolletDescriptor, info: bytes) -> bytes:
    """A 32-byte key for one purpose (`info`), derived from the descriptor's canonical text."""
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(
        str(descriptor).encode()
    )


class Sealer:
    """Seals and opens one wallet's data (authenticated encryption bound to associated data)."""

    __slots__ = ("_ciphers", "cipher_id")

    def __init__(self, descriptor: WolletDescriptor) -> None:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESGCMSIV

        key = derive_key(descriptor, _SEALING_INFO)
        # AES-GCM-SIV needs OpenSSL 3.2 (cryptography's wheels have it).
        self._ciphers: dict[int, _Aead] = {_CIPHER_GCM: AESGCM(key)}
        with contextlib.suppress(UnsupportedAlgorithm):
            self._ciphers[_CIPHER_GCM_SIV] = AESGCMSIV(key)
        self.cipher_id: Final = min(self._ciphers)  # AES-GCM-SIV when available

    def seal_record(self, payload: bytes, associated_data: bytes) -> tuple[bytes, bytes]:
        """A fresh random nonce and the sealed payload (ciphertext and tag), with the cipher
        `cipher_id` (which `associated_data` should include)."""
        nonce = os.urandom(NONCE_SIZE)
        return nonce, self._ciphers[self.cipher_id].encrypt(nonce, payload, associated_data)

    def open_record(
        self, cipher_id: int, nonce: bytes, sealed: bytes, associated_data: bytes
    ) -> bytes:
        """The payload of a record; Unopenable (CipherUnavailable) if it does not open."""
        cipher = self._ciphers.get(cipher_id)
        if cipher is None and cipher_id == _CIPHER_GCM_SIV:
            raise CipherUnavailable(
                "sealed with AES-GCM-SIV, which the installed cryptography/OpenSSL lacks"
            )
        if cipher is None:
            raise Unopenable(f"unknown cipher {cipher_id}")
        from cryptography.exceptions import InvalidTag  # loaded by __init__ already

        try:
            return cipher.decrypt(nonce, sealed, associated_data)
        except InvalidTag:
            raise Unopenable("failed authentication") from None

    def seal(self, magic: bytes, version: int, payload: bytes, context: bytes = b"") -> bytes:
        header = magic + bytes([version, self.cipher_id])
        nonce, sealed = self.seal_record(payload, header + context)
        return header + nonce + sealed

    def open(self, blob: bytes, magic: bytes, version: int, context: bytes = b"") -> bytes:
        """The payload of `blob`; Unopenable (or its UnknownVersion and CipherUnavailable
        kinds) if it is not a `magic` blob of `version` that authenticates in `context`."""
        size = len(magic) + 2 + NONCE_SIZE
        if len(blob) < size + TAG_SIZE or not blob.startswith(magic):
            raise Unopenable("not a sealed blob of this kind")
        found, cipher_id = blob[len(magic)], blob[len(magic) + 1]
        if found != version:
            raise UnknownVersion(found)
        header, nonce = blob[: len(magic) + 2], blob[len(magic) + 2 : size]
        return self.open_record(cipher_id, nonce, blob[size:], header + context)


def open_stored(
    sealer: Sealer, cipher_id: int, nonce: bytes, sealed: bytes, associated_data: bytes,
    corrupted: str,
) -> bytes:  # fmt: skip
    """`sealer.open_record` for a store: StoreCorrupted(`corrupted`) if the record does not
    open, StoreError if it was sealed with a cipher this OpenSSL lacks."""
    try:
        return sealer.open_record(cipher_id, nonce, sealed, associated_data)
    except CipherUnavailable as e:
        raise StoreError(f"the wallet state is {e}") from None
    except Unopenable:
        raise StoreCorrupted(corrupted) from None


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
