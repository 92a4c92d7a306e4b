"""The exception tree of lwk-core and its backend plugins.

    LwkError                      root: catch this to catch everything we raise
    ├── DescriptorError           a CT descriptor that cannot be parsed or used (also ValueError)
    ├── DecodeError               bytes that are not a valid Elements transaction or header
    │   └── TxidMismatch          bytes that do not hash to the txid they were asked for
    ├── UnblindError              an output that cannot be unblinded with the key given
    ├── InvalidArgument           an argument out of its range (also ValueError)
    │   └── InsecureTransport     a token would travel over plain HTTP or TCP (not opted in)
    ├── UpdateError               an Update the wallet refuses; the wallet is left unchanged
    ├── NetworkMismatch           a genesis hash given for a wallet that its network refuses
    ├── StoreError                the wallet's datadir cannot be used
    │   ├── StoreCorrupted        a torn, tampered or foreign state file (never loaded)
    │   └── StoreLocked           another process holds the datadir
    ├── PluginError               plugin discovery or configuration problems
    │   ├── UnknownScheme         no installed backend owns a URL scheme
    │   └── ExtraNotInstalled     an option needs a plugin's extra that is not installed
    ├── BackendError              a backend could not give a usable answer (a chain fails over)
    │   ├── BackendConnectError   refused, unreachable, TLS failure, dropped connection
    │   │   ├── ProxyUnreachable  the SOCKS/HTTP proxy itself cannot be reached
    │   │   ├── ProxyRefused      the proxy refused the connection or could not make it
    │   │   ├── CertificateRejected   TLS validation failed (unknown CA, host name, expired)
    │   │   └── CertificatePinMismatch the certificate is not the pinned (or first-seen) one
    │   ├── BackendTimeout        no (complete) answer within the timeout
    │   ├── BackendProtocolError  an answer that is malformed, oversized, inconsistent or a lie
    │   │   ├── ScanLimitExceeded a scan past its ScanLimits (a server claiming endless use)
    │   │   └── BadBlockSignature a block header the trusted federation did not sign
    │   ├── WrongNetwork          the server serves another chain (genesis) than the wallet's
    │   ├── RateLimited           the server keeps refusing with 429/503 after the retries
    │   ├── AuthenticationFailed  the server or its token endpoint refuses our credentials
    │   └── InsufficientCredits   the server accepts our token but our credits are used up
    ├── BroadcastRejected         the server validly refused a transaction (no failover)
    └── AllBackendsFailed         every backend of a chain failed; `.causes` holds each one

Messages never carry descriptors, blinding keys, tokens, client secrets or other secrets.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AllBackendsFailed",
    "AuthenticationFailed",
    "BackendConnectError",
    "BackendError",
    "BackendProtocolError",
    "BackendTimeout",
    "BadBlockSignature",
    "BroadcastRejected",
    "CertificatePinMismatch",
    "CertificateRejected",
    "DecodeError",
    "DescriptorError",
    "ExtraNotInstalled",
    "InsecureTransport",
    "InsufficientCredits",
    "InvalidArgument",
    "LwkError",
    "NetworkMismatch",
    "PluginError",
    "ProxyRefused",
    "ProxyUnreachable",
    "RateLimited",
    "ScanLimitExceeded",
    "StoreCorrupted",
    "StoreError",
    "StoreLocked",
    "TxidMismatch",
    "UnblindError",
    "UnknownScheme",
    "UpdateError",
    "WrongNetwork",
]


class LwkError(Exception):
    """Root of every error raised by lwk-core and its plugins."""


class DescriptorError(LwkError, ValueError):
    """A CT descriptor is malformed, has a bad checksum, or uses an unsupported form."""


class DecodeError(LwkError, ValueError):
    """Bytes that do not decode as the Elements structure they claim to be."""


class TxidMismatch(DecodeError):
    """A transaction's bytes hash to another txid than the one requested."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"transaction bytes hash to {actual}, expected {expected}")
        self.expected = expected
        self.actual = actual


class UnblindError(LwkError):
    """An output cannot be unblinded with the given key (not ours, or corrupt)."""


class InvalidArgument(LwkError, ValueError):
    """An argument outside its documented range: a negative cool-down or gap limit, an
    empty backend list. (An out-of-range derivation index is a DescriptorError.)"""


class InsecureTransport(InvalidArgument):
    """A client given a token (or client credentials) for a plain http:// or tcp:// server
    or token endpoint, where anyone on the path could read it: refused when the client is
    built, unless the caller opts in (`allow_insecure_auth=True`, e.g. a loopback server)."""


class UpdateError(LwkError):
    """The wallet refused an Update; its state is unchanged."""


class NetworkMismatch(LwkError, ValueError):
    """A genesis hash given for a wallet that its network (or its datadir's pin) refuses."""


class StoreError(LwkError):
    """The wallet's persistent store cannot be used."""


class StoreCorrupted(StoreError):
    """A state file failed its integrity check and was not loaded."""


class StoreLocked(StoreError):
    """Another process holds the lock on this datadir."""


class PluginError(LwkError):
    """A backend plugin could not be loaded or configured."""


class UnknownScheme(PluginError):
    """No installed backend plugin handles the URL's scheme."""


class ExtraNotInstalled(PluginError):
    """An option needs an optional dependency that is not installed (raised when the client
    is built, with the command that installs it); `extra` is e.g. "lwk-electrum[socks]"."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(f"{what} needs the {extra} extra: pip install '{extra}'")
        self.extra = extra


class BackendError(LwkError):
    """A backend failed to give a usable answer; a BackendChain moves to the next one.

    `backend` names the server (scheme, host and port only; never credentials or paths).
    """

    def __init__(self, message: str, *, backend: str | None = None) -> None:
        super().__init__(f"{backend}: {message}" if backend else message)
        self.backend = backend
        self.reason = message


class BackendConnectError(BackendError):
    """The server refused, could not be reached, failed TLS, or dropped the connection."""


class ProxyUnreachable(BackendConnectError):
    """The proxy (e.g. Tor's SOCKS port) could not be reached: nothing went to the server."""


class ProxyRefused(BackendConnectError):
    """The proxy answered but did not connect to the server: it refused (rules, credentials)
    or could not reach it (unknown host, network or host unreachable, connection refused)."""


class CertificateRejected(BackendConnectError):
    """The server's TLS certificate failed validation against the trusted CAs (unknown or
    self-signed issuer, wrong host name, expired)."""


class CertificatePinMismatch(BackendConnectError):
    """The server's TLS certificate is not the pinned one (`cert_fingerprint`, or the one
    trusted on first use). `expected` and `served` are SHA-256 fingerprints (hex) of
    public certificates."""

    def __init__(
        self, message: str, *, backend: str | None = None, expected: str, served: str
    ) -> None:
        super().__init__(message, backend=backend)
        self.expected = expected
        self.served = served


class BackendTimeout(BackendError):
    """The server did not answer completely within the timeout."""


class BackendProtocolError(BackendError):
    """The server answered something malformed, oversized, inconsistent or false."""


class ScanLimitExceeded(BackendProtocolError):
    """A scan reached one of its ScanLimits (scripts used without end, histories too long):
    what an honest server of a real wallet does not send."""


class BadBlockSignature(BackendProtocolError):
    """A block header that the trusted block signers did not sign: an unknown signblockscript,
    a missing, malformed or wrong signature, or a witness over its size limit."""


class WrongNetwork(BackendError):
    """The server's chain starts at another genesis block than the wallet's: it serves
    another network, or another regtest chain than the one the wallet is pinned to.

    `expected` and `served` are the two genesis hashes (display hex); `expected` is None
    for a regtest wallet not pinned yet, which refuses only the Liquid networks.
    """

    def __init__(
        self, message: str, *, backend: str | None = None, expected: str | None, served: str
    ) -> None:
        super().__init__(message, backend=backend)
        self.expected = expected
        self.served = served


class RateLimited(BackendError):
    """The server kept rate-limiting (HTTP 429/503) after the allowed retries."""

    def __init__(
        self, message: str, *, backend: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, backend=backend)
        self.retry_after = retry_after


class AuthenticationFailed(BackendError):
    """Our credentials are refused: the token endpoint refuses the client (a revoked or
    wrong client id or secret, RFC 6749 section 5.2 `invalid_client`), or the server refuses
    a token that was just issued (or a static token, which cannot be refreshed).

    `error` is the token endpoint's OAuth error code when it gave one (e.g.
    "invalid_client"), never its free text.
    """

    def __init__(
        self, message: str, *, backend: str | None = None, error: str | None = None
    ) -> None:
        super().__init__(message, backend=backend)
        self.error = error


class InsufficientCredits(BackendError):
    """The server accepts our token but refuses the request until credits are bought
    (HTTP 402 Payment Required; the Electrum proxy's JSON-RPC error -32000)."""


class BroadcastRejected(LwkError):
    """The server received the transaction and refused it; `reason` is the node's text."""

    def __init__(self, reason: str, *, backend: str | None = None) -> None:
        super().__init__(f"{backend}: transaction rejected: {reason}" if backend else reason)
        self.backend = backend
        self.reason = reason


class AllBackendsFailed(BackendError):
    """Every backend of a chain failed; `causes` pairs each backend with its error."""

    causes: list[tuple[str, BackendError]]
    """(backend name, its error), in the order the backends were tried."""

    def __init__(self, causes: Sequence[tuple[str, BackendError]]) -> None:
        lines = "; ".join(f"{name}: {type(exc).__name__}: {exc.reason}" for name, exc in causes)
        super().__init__(f"all {len(causes)} backends failed ({lines})")
        self.causes = list(causes)
