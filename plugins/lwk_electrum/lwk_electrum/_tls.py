"""What both transports share below the protocol: the TLS context and pin check, and the
typed errors for each way a socket fails (the texts the user sees).

By default the certificate chain and host name are validated against the system's CAs, or
those of `ca_file` (a PEM bundle); a SHA-256 pin of the DER certificate (given, or trusted
on first use) replaces CA validation (self-signed servers); `validate_domain=False` turns
validation off. TLS 1.2 is the minimum either way.
"""

from __future__ import annotations

import ssl

from lwk_core.plugin import BackendConnectError, BackendError, BackendTimeout, CertificateRejected

__all__ = [
    "closed_error",
    "connect_error",
    "handshake_error",
    "nothing_came",
    "recv_error",
    "send_error",
    "tls_context",
]


def tls_context(
    validate_domain: bool, pinned: bool, ca: ssl.SSLContext | None = None
) -> ssl.SSLContext:
    """The client context; `pinned`: a pin (given or first-use) replaces CA validation;
    `ca`: the context trusting the caller's CA bundle (`ca_file`)."""
    if validate_domain and not pinned:
        ctx = ca or ssl.create_default_context()
    else:  # no CA validation: either the pin replaces it or the caller opted out
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def connect_error(e: OSError, timeout: float, *, backend: str) -> BackendError:
    """The error for a TCP connect that failed."""
    if isinstance(e, TimeoutError):
        return BackendTimeout(f"connect timed out after {timeout:g}s", backend=backend)
    return BackendConnectError(f"cannot connect: {os_text(e)}", backend=backend)


def handshake_error(e: BaseException, *, backend: str) -> BackendError | None:
    """The error for a TLS handshake that failed, None if `e` is no TLS or socket error."""
    if isinstance(e, ssl.SSLCertVerificationError):
        return CertificateRejected(f"TLS certificate rejected: {e.verify_message}", backend=backend)
    if isinstance(e, TimeoutError):
        return BackendTimeout("TLS handshake timed out", backend=backend)
    if isinstance(e, OSError):
        return BackendConnectError(f"TLS handshake failed: {os_text(e)}", backend=backend)
    return None


def send_error(e: OSError, timeout: float, *, backend: str) -> BackendError:
    """The error for a write that failed (TimeoutError: not sent within `timeout`)."""
    if isinstance(e, TimeoutError):
        return BackendTimeout(f"request not sent within {timeout:g}s", backend=backend)
    return BackendConnectError(f"connection lost while sending: {os_text(e)}", backend=backend)


def nothing_came(e: OSError) -> bool:
    """Whether a failed read only means that nothing arrived in the time given."""
    return isinstance(e, TimeoutError | BlockingIOError | ssl.SSLWantReadError)


def recv_error(e: OSError, timeout: float, *, backend: str) -> BackendError:
    """The error for a read that failed (or in which nothing came in time)."""
    if nothing_came(e):
        return BackendTimeout(f"no complete reply within {timeout:g}s", backend=backend)
    return BackendConnectError(f"connection lost: {os_text(e)}", backend=backend)


def closed_error(*, backend: str) -> BackendError:
    return BackendConnectError("server closed the connection", backend=backend)


def os_text(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__
