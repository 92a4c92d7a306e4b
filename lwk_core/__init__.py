"""lwk-core: Liquid watch-only wallets kept in sync through pluggable backends."""

from ._blocksign import Federation, pinned_federation, verify_header
from ._chain import BackendChain
from ._client import Client, connect
from ._descriptor import WolletDescriptor
from ._errors import (
    AllBackendsFailed,
    BackendConnectError,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    BadBlockSignature,
    BroadcastRejected,
    DecodeError,
    DescriptorError,
    LwkError,
    NetworkMismatch,
    PluginError,
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
from ._header import BlockHeader, DynafedParams
from ._network import Chain, Network
from ._scan import ScanLimits
from ._transaction import Issuance, Transaction, TxIn, TxOut
from ._types import HistoryEntry, OutPoint, Progress, Tip, TxOutSecrets
from ._update import Update
from ._wollet import AddressResult, Balance, WalletTx, WalletTxOut, Wollet
from .plugin.manager import PluginInfo, list_plugins

__version__ = "0.1.0"

__all__ = [
    "AddressResult",
    "AllBackendsFailed",
    "BackendChain",
    "BackendConnectError",
    "BackendError",
    "BackendProtocolError",
    "BackendTimeout",
    "BadBlockSignature",
    "Balance",
    "BlockHeader",
    "BroadcastRejected",
    "Chain",
    "Client",
    "DecodeError",
    "DescriptorError",
    "DynafedParams",
    "Federation",
    "HistoryEntry",
    "Issuance",
    "LwkError",
    "Network",
    "NetworkMismatch",
    "OutPoint",
    "PluginError",
    "PluginInfo",
    "Progress",
    "RateLimited",
    "ScanLimitExceeded",
    "ScanLimits",
    "StoreCorrupted",
    "StoreError",
    "StoreLocked",
    "Tip",
    "Transaction",
    "TxIn",
    "TxOut",
    "TxOutSecrets",
    "TxidMismatch",
    "UnblindError",
    "UnknownScheme",
    "Update",
    "UpdateError",
    "WalletTx",
    "WalletTxOut",
    "Wollet",
    "WolletDescriptor",
    "WrongNetwork",
    "connect",
    "list_plugins",
    "pinned_federation",
    "verify_header",
]
