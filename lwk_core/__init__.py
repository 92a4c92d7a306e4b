"""lwk-core: Liquid watch-only wallets kept in sync through pluggable backends."""

from ._async_chain import AsyncBackendChain
from ._async_client import AsyncClient, connect_async
from ._chain import BackendChain
from ._client import Client, connect
from ._descriptor import WolletDescriptor
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
from ._header import BlockHeader
from ._network import Chain, Network
from ._transaction import Issuance, Transaction, TxIn, TxOut
from ._types import HistoryEntry, OutPoint, Progress, Tip, TxOutSecrets
from ._update import Update
from ._wollet import AddressResult, Balance, WalletTx, WalletTxOut, Wollet
from .plugin.manager import PluginInfo, list_plugins

__version__ = "0.1.0"

__all__ = [
    "AddressResult",
    "AllBackendsFailed",
    "AsyncBackendChain",
    "AsyncClient",
    "BackendChain",
    "BackendConnectError",
    "BackendError",
    "BackendProtocolError",
    "BackendTimeout",
    "Balance",
    "BlockHeader",
    "BroadcastRejected",
    "Chain",
    "Client",
    "DecodeError",
    "DescriptorError",
    "HistoryEntry",
    "Issuance",
    "LwkError",
    "Network",
    "OutPoint",
    "PluginError",
    "PluginInfo",
    "Progress",
    "RateLimited",
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
    "connect",
    "connect_async",
    "list_plugins",
]
