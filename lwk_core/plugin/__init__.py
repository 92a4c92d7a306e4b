"""The plugin SDK: everything a backend plugin imports, in one public module.

A backend plugin is a module registered under the entry-point group `lwk.backends` whose
functions, marked `@hookimpl`, are named after the hooks of `lwk_core.plugin.spec`. Its
`lwk_connect` returns a `Backend` (core wraps it in a `lwk_core.Client`) or its own Client
subclass; each later hook receives that backend, and only its owner (and wrapper plugins)
is called. The wire helpers below are the ones lwk-electrum and lwk-esplora use.

Asked with `asynchronous=True` (by `lwk_core.connect_async`), `lwk_connect` returns an
`AsyncBackend` instead, the same methods as coroutines, and each hook returns the awaitable
of its backend's method; wrappers observe the awaited work with `when_done`.
"""

from __future__ import annotations

from .._async_backend import (
    AsyncBackend,
    AsyncDescriptorScanner,
    AsyncMerkleProver,
    AsyncUsageScanner,
)
from .._backend import Backend, DescriptorHistories, DescriptorScanner, MerkleProver, UsageScanner
from .._errors import (
    AuthenticationFailed,
    BackendConnectError,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    BroadcastRejected,
    CertificatePinMismatch,
    CertificateRejected,
    DecodeError,
    ExtraNotInstalled,
    InsufficientCredits,
    LwkError,
    PluginError,
    ProxyRefused,
    ProxyUnreachable,
    RateLimited,
    WrongNetwork,
)
from .._hashes import electrum_scripthash, electrum_status, esplora_scripthash
from .._header import BlockHeader, merkle_root_from_branch, parse_headers, parse_merkle_proof
from .._network import Chain, Network
from .._transaction import Transaction
from .._types import USED, HistoryEntry, MerkleProof, OutPoint, ScriptUsage, Tip, Used
from ._markers import ENTRY_POINT_GROUP, NAME, hookimpl, hookspec
from ._observe import when_done
from ._tls import ca_context, check_pin, parse_fingerprint
from .manager import register_plugin

__all__ = [
    "ENTRY_POINT_GROUP",
    "NAME",
    "USED",
    "AsyncBackend",
    "AsyncDescriptorScanner",
    "AsyncMerkleProver",
    "AsyncUsageScanner",
    "AuthenticationFailed",
    "Backend",
    "BackendConnectError",
    "BackendError",
    "BackendProtocolError",
    "BackendTimeout",
    "BlockHeader",
    "BroadcastRejected",
    "CertificatePinMismatch",
    "CertificateRejected",
    "Chain",
    "DecodeError",
    "DescriptorHistories",
    "DescriptorScanner",
    "ExtraNotInstalled",
    "HistoryEntry",
    "InsufficientCredits",
    "LwkError",
    "MerkleProof",
    "MerkleProver",
    "Network",
    "OutPoint",
    "PluginError",
    "ProxyRefused",
    "ProxyUnreachable",
    "RateLimited",
    "ScriptUsage",
    "Tip",
    "Transaction",
    "UsageScanner",
    "Used",
    "WrongNetwork",
    "ca_context",
    "check_pin",
    "electrum_scripthash",
    "electrum_status",
    "esplora_scripthash",
    "hookimpl",
    "hookspec",
    "merkle_root_from_branch",
    "parse_fingerprint",
    "parse_headers",
    "parse_merkle_proof",
    "register_plugin",
    "when_done",
]
