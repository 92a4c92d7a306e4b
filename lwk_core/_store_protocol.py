"""Where wallets keep their state: the Store protocol, and moving a wallet between stores.

A `Store` holds the states of many wallets: a datadir of encrypted files (`FileStore`), an
SQLite database (`SqliteStore`), or a third party's. `Store.open(descriptor, network)`
gives the `WalletStore` of one wallet, locked for its opener until `close()`: another opener
of the same wallet, in this process or another, gets StoreLocked.
"""

from __future__ import annotations

from contextlib import closing
from typing import Protocol

from ._descriptor import WolletDescriptor
from ._errors import StoreError
from ._network import Network
from ._state import WolletState

__all__ = ["Store", "WalletStore", "check_owner", "migrate_wallet"]


class WalletStore(Protocol):
    """One wallet's state in a store, held by its opener until `close()`."""

    def load(self) -> WolletState | None:
        """The stored state, or None if none was saved. StoreCorrupted if what is stored
        fails its integrity check (it is never partly loaded); the store is then closed."""
        ...

    def save(self, state: WolletState) -> None:
        """Replace the stored state by `state`, atomically and durably: after a crash at
        any moment the store holds the previous state or this one."""
        ...

    def close(self) -> None:
        """Release the wallet (idempotent)."""
        ...


class Store(Protocol):
    """A place that keeps the states of many wallets."""

    def open(self, descriptor: WolletDescriptor, network: Network) -> WalletStore:
        """The wallet's store, locked until closed (StoreLocked if another holds it)."""
        ...


def check_owner(state: WolletState, descriptor: WolletDescriptor, network: Network) -> None:
    """StoreError unless `state` is the state of this wallet on this network."""
    if state.descriptor.wallet_id != descriptor.wallet_id or state.network != network:
        raise StoreError("the state belongs to another wallet than this store")


def migrate_wallet(
    descriptor: WolletDescriptor, network: Network, *, source: Store, target: Store
) -> WolletState:
    """Copy a wallet's state from `source` to `target` (e.g. a datadir into an SQLite
    database) and return it; the source keeps its copy, delete it once the target is in use.

    StoreError if the source holds no state of this wallet, or if the target already holds
    one (it is never overwritten); StoreLocked if either is in use.
    """
    with closing(source.open(descriptor, network)) as old:
        state = old.load()
        if state is None:
            raise StoreError("the source store holds no state of this wallet")
        with closing(target.open(descriptor, network)) as new:
            if new.load() is not None:
                raise StoreError("the target store already holds a state of this wallet")
            new.save(state)
    return state
