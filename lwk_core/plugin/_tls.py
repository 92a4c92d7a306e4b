"""TLS helpers for backends: a context trusting a CA bundle, and certificate pins (the
SHA-256 of the server's DER certificate, as `openssl x509 -outform der | sha256sum` or a
browser shows it)."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import TYPE_CHECKING

from .._errors import CertificatePinMismatch, InvalidArgument

if TYPE_CHECKING:  # imported by ca_context: ssl loads OpenSSL (~5 MB resident)
    import ssl

__all__ = ["ca_context", "check_pin", "parse_fingerprint"]

_HEX64 = re.compile(r"[0-9a-f]{64}")


def parse_fingerprint(fingerprint: str) -> bytes:
    """A fingerprint ("ab12..." or "AB:12:...") as 32 bytes; InvalidArgument otherwise."""
    text = fingerprint.replace(":", "").strip().lower() if isinstance(fingerprint, str) else ""
    if not _HEX64.fullmatch(text):
        raise InvalidArgument(
            "cert_fingerprint must be the SHA-256 of the DER certificate (64 hex)"
        )
    return bytes.fromhex(text)


def check_pin(der: bytes | None, pin: bytes, *, backend: str) -> None:
    """Raise CertificatePinMismatch unless the certificate `der` hashes to `pin`."""
    served = hashlib.sha256(der or b"").digest()
    if not hmac.compare_digest(served, pin):
        raise CertificatePinMismatch(
            f"server certificate (sha256 {served.hex()}) does not match the pinned"
            f" fingerprint {pin.hex()}",
            backend=backend,
            expected=pin.hex(),
            served=served.hex(),
        )


def ca_context(ca_file: str | os.PathLike[str]) -> ssl.SSLContext:
    """A client context (TLS 1.2 at least, host names checked) that trusts the certificates
    of the PEM bundle `ca_file` instead of the default CAs; InvalidArgument if it cannot be
    loaded, so a bad path fails when the client is built, not at its first connection."""
    import ssl

    try:
        context = ssl.create_default_context(cafile=ca_file)
    except OSError as e:  # missing, unreadable, or no PEM certificate in it (ssl.SSLError)
        raise InvalidArgument(f"ca_file cannot be loaded: {e.strerror or e}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
