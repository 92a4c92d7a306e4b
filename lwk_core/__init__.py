"""lwk-core: Liquid watch-only wallets kept in sync through pluggable backends.

The asyncio API and the SQLite store are imported when first named (`from lwk_core import
AsyncClient` works as ever): a blocking wallet without a database never holds asyncio (with
ssl, ~9 MB resident) or sqlite3.
"""

import importlib
import logging
from typing import TYPE_CHECKING

from ._blocksign import Federation, pinned_federation, verify_header
from ._chain import BackendChain
from ._client import Client, connect
from ._descriptor import WolletDescriptor
from ._errors import (
    AllBackendsFailed,
    AuthenticationFailed,
    BackendConnectError,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    BadBlockSignature,
    BroadcastRejected,
    CertificatePinMismatch,
    CertificateRejected,
    DecodeError,
    DescriptorError,
    ExtraNotInstalled,
    InsecureTransport,
    InsufficientCredits,
    InvalidArgument,
    LwkError,
    NetworkMismatch,
    PluginError,
    ProxyRefused,
    ProxyUnreachable,
    RateLimited,
    ScanLimitExceeded,
    StoreCorrupted,
    StoreError,
    StoreLocked,
    TxidMismatch,
    UnblindError,
    UnknownScheme,
    UpdateError,
    WrongNetwork,
)
from ._events import (
    BalanceChanged,
    NewTip,
    NewTx,
    TxConfirmed,
    TxDropped,
    TxHeightChanged,
    WalletEvent,
)
from ._header import BlockHeader, DynafedParams
from ._monitor import Monitor
from ._network import Chain, Network
from ._scan import ScanLimits
from ._store import FileStore
from ._store_protocol import Store, WalletStore, migrate_wallet
from ._transaction import Issuance, Transaction, TxIn, TxOut
from ._types import HistoryEntry, MerkleProof, OutPoint, Progress, Tip, TxOutSecrets
from ._update import Update
from ._wollet import AddressResult, Balance, WalletTx, WalletTxOut, Wollet
from .plugin.manager import PluginInfo, list_plugins

if TYPE_CHECKING:
    from ._async_chain import AsyncBackendChain
    from ._async_client import AsyncClient, connect_async
    from ._async_monitor import AsyncMonitor
    from ._sqlite_store import SqliteStore

_LAZY = {
    "AsyncBackendChain": "._async_chain",
    "AsyncClient": "._async_client",
    "connect_async": "._async_client",
    "AsyncMonitor": "._async_monitor",
    "SqliteStore": "._sqlite_store",
}

__version__ = "0.1.0"  # the one place: pyproject.toml and `lwk --version` read it

__all__ = [
    "AddressResult",
    "AllBackendsFailed",
    "AsyncBackendChain",
    "AsyncClient",
    "AsyncMonitor",
    "AuthenticationFailed",
    "BackendChain",
    "BackendConnectError",
    "BackendError",
    "BackendProtocolError",
    "BackendTimeout",
    "BadBlockSignature",
    "Balance",
    "BalanceChanged",
    "BlockHeader",
    "BroadcastRejected",
    "CertificatePinMismatch",
    "CertificateRejected",
    "Chain",
    "Client",
    "DecodeError",
    "DescriptorError",
    "DynafedParams",
    "ExtraNotInstalled",
    "Federation",
    "FileStore",
    "HistoryEntry",
    "InsecureTransport",
    "InsufficientCredits",
    "InvalidArgument",
    "Issuance",
    "LwkError",
    "MerkleProof",
    "Monitor",
    "Network",
    "NetworkMismatch",
    "NewTip",
    "NewTx",
    "OutPoint",
    "PluginError",
    "PluginInfo",
    "Progress",
    "ProxyRefused",
    "ProxyUnreachable",
    "RateLimited",
    "ScanLimitExceeded",
    "ScanLimits",
    "SqliteStore",
    "Store",
    "StoreCorrupted",
    "StoreError",
    "StoreLocked",
    "Tip",
    "Transaction",
    "TxConfirmed",
    "TxDropped",
    "TxHeightChanged",
    "TxIn",
    "TxOut",
    "TxOutSecrets",
    "TxidMismatch",
    "UnblindError",
    "UnknownScheme",
    "Update",
    "UpdateError",
    "WalletEvent",
    "WalletStore",
    "WalletTx",
    "WalletTxOut",
    "Wollet",
    "WolletDescriptor",
    "WrongNetwork",
    "connect",
    "connect_async",
    "list_plugins",
    "migrate_wallet",
    "pinned_federation",
    "verify_header",
]

# A library leaves logging to the application: without this, an application that configured
# nothing would get our warnings (a failover) on stderr through logging's last resort.
logging.getLogger("lwk_core").addHandler(logging.NullHandler())

# Errors and events show (in tracebacks, reprs, pickles) under the module users import them
# from.
for _name in __all__:
    _value = globals().get(_name)
    if isinstance(_value, type) and issubclass(_value, LwkError | WalletEvent):
        _value.__module__ = __name__
del _name, _value


def __getattr__(name: str) -> object:
    """A name of `_LAZY`, imported on first use and kept."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
