"""lwk-core: Liquid watch-only wallets kept in sync through pluggable backends."""

from ._errors import (
    AllBackendsFailed,
    BackendConnectError,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    BroadcastRejected,
    DecodeError,
    DescriptorError,
    LwkError,
    PluginError,
    RateLimited,
    StoreCorrupted,
    StoreError,
    StoreLocked,
    TxidMismatch,
    UnblindError,
    UnknownScheme,
    UpdateError,
)
from ._network import Chain, Network
from ._update import HistoryEntry, OutPoint, Tip, TxOutSecrets, Update

__version__ = "0.1.0"

__all__ = [
    "AllBackendsFailed",
    "BackendConnectError",
    "BackendError",
    "BackendProtocolError",
    "BackendTimeout",
    "BroadcastRejected",
    "Chain",
    "DecodeError",
    "DescriptorError",
    "HistoryEntry",
    "LwkError",
    "Network",
    "OutPoint",
    "PluginError",
    "RateLimited",
    "StoreCorrupted",
    "StoreError",
    "StoreLocked",
    "Tip",
    "TxOutSecrets",
    "TxidMismatch",
    "UnblindError",
    "UnknownScheme",
    "Update",
    "UpdateError",
]
