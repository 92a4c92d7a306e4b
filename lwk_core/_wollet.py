"""The watch-only wallet: applies Updates and reports balance, transactions and outputs.

Results follow LWK (lwk_wollet's tx details): explicit outputs are ignored in balances,
transactions are listed newest first (unconfirmed first, ties by txid descending), and a
transaction's type is derived from issuances, burns, fees and its net balance.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping
from typing import cast

import attrs

from ._descriptor import WolletDescriptor
from ._errors import DescriptorError, InvalidArgument, NetworkMismatch, UpdateError
from ._events import WalletEvent, events_between
from ._ledger import is_shown, readable_secrets, summary, tx_balance
from ._network import Chain, Network
from ._state import WolletState
from ._state_codec import export_state, import_state
from ._store import FileStore
from ._store_protocol import Store, WalletStore
from ._transaction import Transaction
from ._types import OutPoint, Tip, TxOutSecrets
from ._update import Update

__all__ = ["AddressResult", "Balance", "WalletTx", "WalletTxOut", "Wollet"]

# LWK's burn script: a bare OP_RETURN.
_BURN_SCRIPT = b"\x6a"
_HEX64 = re.compile(r"[0-9a-f]{64}")


class Balance(Mapping[str, int]):
    """Satoshis per asset id (display hex); the policy asset is always present."""

    def __init__(self, amounts: Mapping[str, int], policy_asset: str) -> None:
        self._amounts = dict(amounts)
        self._amounts.setdefault(policy_asset, 0)
        self._policy_asset = policy_asset

    def __getitem__(self, asset: str) -> int:
        return self._amounts[asset]

    def __iter__(self) -> Iterator[str]:
        return iter(self._amounts)

    def __len__(self) -> int:
        return len(self._amounts)

    def __repr__(self) -> str:
        return f"Balance({self._amounts!r})"

    def btc_balance(self) -> int:
        """The L-BTC (policy asset) balance in satoshis."""
        return self._amounts[self._policy_asset]


@attrs.frozen
class AddressResult:
    """A receive address and its derivation index."""

    _address: str
    _index: int

    def address(self) -> str:
        return self._address

    def index(self) -> int:
        return self._index

    def __str__(self) -> str:
        return self._address


@attrs.frozen
class WalletTxOut:
    """An output of the wallet with its unblinded secrets."""

    outpoint: OutPoint
    script_pubkey: bytes = attrs.field(repr=False)
    height: int | None
    unblinded: TxOutSecrets
    chain: Chain
    wildcard_index: int
    is_spent: bool

    @property
    def asset(self) -> str:
        return self.unblinded.asset

    @property
    def value(self) -> int:
        return self.unblinded.value


@attrs.frozen
class WalletTx:
    """A wallet transaction as LWK describes it."""

    txid: str
    height: int | None
    timestamp: int | None
    type: str
    fee: int
    balance: Mapping[str, int]
    tx: Transaction = attrs.field(repr=False)


class Wollet:
    """A watch-only Liquid wallet for one CT descriptor.

    `Wollet(network, descriptor, datadir=None)`: with a datadir the state is persisted
    (encrypted, atomically) and reloaded on the next start; `store=` keeps it in any
    `Store` instead (`SqliteStore(path)`: many wallets in one database), `datadir=DIR`
    being `store=FileStore(DIR)`.

    Every server must prove it serves the wallet's chain (its genesis block). A regtest
    chain may have any genesis: give `genesis_hash`, or the first server the wallet syncs
    from pins its own (kept in the state, with the datadir); servers of other chains are
    refused after that.

    A Wollet may be shared between threads: `apply_update` is serialized (of two updates
    computed from the same state, the second is refused), and each query reads one
    snapshot of the state.
    """

    def __init__(
        self,
        network: Network,
        descriptor: WolletDescriptor | str,
        datadir: str | os.PathLike[str] | None = None,
        *,
        store: Store | None = None,
        genesis_hash: str | None = None,
    ) -> None:
        if isinstance(descriptor, str):
            descriptor = WolletDescriptor(descriptor)
        if descriptor.is_mainnet != network.is_mainnet:
            kind = "mainnet" if descriptor.is_mainnet else "a test network"
            raise DescriptorError(f"the descriptor's keys are for {kind}, not {network.value}")
        self._network = network
        self._descriptor = descriptor
        self._state = WolletState(descriptor=descriptor, network=network)
        self._lock = threading.Lock()  # one apply_update at a time
        self._store: WalletStore | None = None
        # (txid, backend name): a backend served this tx with wallet outputs that did not
        # unblind; scans ask that backend for it again only if its height changes.
        self._unreadable: set[tuple[str, str]] = set()
        if datadir is not None:
            if store is not None:
                raise InvalidArgument("give a datadir or a store, not both")
            store = FileStore(datadir)
        if store is not None:
            self._store = store.open(descriptor, network)
            loaded = self._store.load()
            if loaded is not None:
                self._state = loaded
        if genesis_hash is not None:
            try:
                self._state = _pinned(self._state, genesis_hash)
            except NetworkMismatch:
                self.close()
                raise

    def __repr__(self) -> str:
        return f"<Wollet {self._network.value} {len(self._state.heights)} txs>"

    @property
    def network(self) -> Network:
        return self._network

    @property
    def descriptor(self) -> WolletDescriptor:
        return self._descriptor

    @property
    def state(self) -> WolletState:
        """The current immutable snapshot (what scans start from)."""
        return self._state

    def dwid(self) -> str:
        return self._descriptor.dwid(self._network)

    def tip(self) -> Tip | None:
        return self._state.tip

    @property
    def genesis_hash(self) -> str | None:
        """The genesis of the chain the wallet follows; None for a regtest wallet that no
        server has pinned yet."""
        return self._state.genesis_hash

    def apply_update(self, update: Update) -> list[WalletEvent]:
        """Apply a scan's result and return what it changed (see `events_between`: tip,
        transactions, balances, in a deterministic order); a refused update (UpdateError)
        leaves the wallet unchanged.

        With a datadir the new state is on disk before the wallet reports it.
        """
        if not isinstance(cast(object, update), Update):  # typed callers never get here
            raise UpdateError(
                f"apply_update takes an Update, not {type(update).__name__} (a scan returns "
                "None when nothing changed: check `if update:` first)"
            )
        with self._lock:
            state = self._state.applied(update)
            if self._store is not None:
                self._store.save(state)
            before, self._state = self._state, state
        return events_between(before, state)

    def serialize_state(self, *, encrypted: bool = False) -> bytes:
        """The wallet's state as bytes (versioned), for `restore_state`. Plain, they hold
        its transactions, scripts and amounts in clear (never its descriptor); encrypted,
        they are sealed under the descriptor and reveal nothing without it."""
        return export_state(self._state, encrypted=encrypted)

    def restore_state(self, data: bytes, *, encrypted: bool = False) -> None:
        """Replace the wallet's state by one `serialize_state` wrote for this wallet
        (DecodeError for anything else; NetworkMismatch if it follows another chain than
        the one this wallet is pinned to). With a datadir it is saved before it is used."""
        restored = import_state(data, self._descriptor, self._network, encrypted=encrypted)
        with self._lock:
            pinned = self._state.genesis_hash
            if pinned is not None and restored.genesis_hash not in (None, pinned):
                raise NetworkMismatch(
                    f"the state follows the chain with genesis {restored.genesis_hash}; this "
                    f"wallet follows {pinned}"
                )
            restored = attrs.evolve(restored, genesis_hash=restored.genesis_hash or pinned)
            if self._store is not None:
                self._store.save(restored)
            self._state = restored
            self._unreadable.clear()  # what a backend failed to serve was of the old state

    def close(self) -> None:
        """Release the wallet in its store (a no-op without a store)."""
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Wollet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries -----------------------------------------------------------------------

    def address(self, index: int | None = None) -> AddressResult:
        """The receive address at `index`, or the first unused one (an index once used stays
        used, so an address handed out is not handed out again after a reorg)."""
        if not self._descriptor.has_wildcard:
            if index is not None:  # as LWK: there is one address, not an index to ask for
                raise DescriptorError("a single-address descriptor takes no address index")
            index = 0
        elif index is None:
            index = self._state.last_unused.get(Chain.EXTERNAL, 0)
        if not 0 <= index < 2**31:
            raise DescriptorError("address index out of range (0 .. 2^31-1)")
        return AddressResult(self._descriptor.address(Chain.EXTERNAL, index, self._network), index)

    def txos(self) -> list[WalletTxOut]:
        """Every output the wallet received, spent or not, newest transaction first (as
        `transactions()`), then by output index; explicit outputs have zero blinders."""
        return self._txos(self._state)

    def utxos(self) -> list[WalletTxOut]:
        """Confidential outputs not spent by any wallet transaction (confirmed or not),
        largest value first as LWK sorts them (ties in `txos()` order)."""
        state = self._state
        unspent = [t for t in self._txos(state) if not t.is_spent and t.outpoint in state.unblinded]
        return sorted(unspent, key=lambda txo: txo.value, reverse=True)

    def balance(self) -> Balance:
        """Satoshis per asset of the unspent confidential outputs (explicit ones are not
        counted, as LWK)."""
        return Balance(summary(self._state).balance, self._network.policy_asset)

    def transactions(self) -> list[WalletTx]:
        """Wallet transactions as LWK lists them: unconfirmed first, then by height,
        descending. Transactions that touch wallet scripts without any output the wallet
        can read (blinded to another key, or listed by a lying server) are left out, as LWK
        does: see `hidden_transactions()`."""
        return self._transactions(self._state)

    def hidden_transactions(self) -> list[WalletTx]:
        """The transactions `transactions()` leaves out, for support and diagnosis: a server
        listed them under a wallet script, but no output of theirs is readable by the
        wallet and they spend none of its outputs."""
        state = self._state
        hidden = [item for item in self._ordered(state) if not is_shown(state, item[0])]
        return [self._wallet_tx(state, txid, height) for txid, height in hidden]

    def transaction(self, txid: str) -> WalletTx | None:
        state = self._state
        if txid not in state.heights:
            return None
        return self._wallet_tx(state, txid, state.heights[txid])

    # Each query reads `self._state` once and works on that snapshot: `apply_update` in
    # another thread swaps in a new state, never changes one.

    def _transactions(self, state: WolletState) -> list[WalletTx]:
        shown = [item for item in self._ordered(state) if is_shown(state, item[0])]
        return [self._wallet_tx(state, txid, height) for txid, height in shown]

    def _txos(self, state: WolletState) -> list[WalletTxOut]:
        return [
            txo
            for tx in self._transactions(state)
            for txo in self._txos_of(state, tx.txid, tx.height)
        ]

    @staticmethod
    def _ordered(state: WolletState) -> list[tuple[str, int | None]]:
        return sorted(
            state.heights.items(),
            # LWK compares txids as stored: internal byte order, the reverse of the hex shown
            key=lambda item: (
                item[1] if item[1] is not None else 2**32,
                bytes.fromhex(item[0])[::-1],
            ),
            reverse=True,
        )

    @staticmethod
    def _txos_of(state: WolletState, txid: str, height: int | None) -> list[WalletTxOut]:
        outs = []
        for vout, out in enumerate(state.txs[txid].outputs):
            outpoint = OutPoint(txid, vout)
            secrets = readable_secrets(state, outpoint)
            if secrets is None:
                continue
            chain, index = state.scripts[out.script_pubkey]
            outs.append(
                WalletTxOut(
                    outpoint=outpoint,
                    script_pubkey=out.script_pubkey,
                    height=height,
                    unblinded=secrets,
                    chain=chain,
                    wildcard_index=index,
                    is_spent=outpoint in state.spent,
                )
            )
        return outs

    def _wallet_tx(self, state: WolletState, txid: str, height: int | None) -> WalletTx:
        tx = state.txs[txid]
        balance = tx_balance(state, txid)
        return WalletTx(
            txid=txid,
            height=height,
            timestamp=state.timestamps.get(height) if height is not None else None,
            type=_tx_type(tx, balance),
            fee=tx.fee(self._network.policy_asset),
            balance=balance,
            tx=tx,
        )


def _pinned(state: WolletState, genesis_hash: str) -> WolletState:
    """`state` following the chain of `genesis_hash` (NetworkMismatch if it follows another
    one: its network's, or the one its datadir was pinned to)."""
    genesis = genesis_hash.lower()
    if not _HEX64.fullmatch(genesis):
        raise NetworkMismatch("genesis_hash must be a block hash: 64 hexadecimal digits")
    if state.genesis_hash not in (None, genesis):
        raise NetworkMismatch(
            f"this {state.network.value} wallet follows the chain with genesis "
            f"{state.genesis_hash}, not {genesis}"
        )
    return attrs.evolve(state, genesis_hash=genesis)


def _tx_type(tx: Transaction, balance: Mapping[str, int]) -> str:
    issuances = [txin.issuance for txin in tx.inputs if txin.issuance is not None]
    if any(not i.is_reissuance for i in issuances):
        return "issuance"
    if issuances:
        return "reissuance"
    if any(out.script_pubkey == _BURN_SCRIPT for out in tx.outputs):
        return "burn"
    fees: dict[str, int] = {}
    for out in tx.outputs:
        if out.is_fee and out.asset is not None and out.value is not None:
            fees[out.asset] = fees.get(out.asset, 0) + out.value
    if fees and balance and all(v == -fees.get(a, 0) for a, v in balance.items()):
        return "redeposit"  # only fees left the wallet, in whatever asset they were paid
    if balance and all(v > 0 for v in balance.values()):
        return "incoming"
    if balance and all(v < 0 for v in balance.values()):
        return "outgoing"
    return "unknown"
