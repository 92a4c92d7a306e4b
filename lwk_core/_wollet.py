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
_ZERO_BLINDER = "00" * 32
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

    def apply_update(self, update: Update) -> None:
        """Apply a scan's result; a refused update (UpdateError) leaves the wallet unchanged.

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
            self._state = state

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
        return [txo for tx in self.transactions() for txo in self._txos_of(tx.txid, tx.height)]

    def utxos(self) -> list[WalletTxOut]:
        """Confidential outputs not spent by any wallet transaction (confirmed or not),
        largest value first as LWK sorts them (ties in `txos()` order)."""
        unspent = [t for t in self.txos() if not t.is_spent and t.outpoint in self._state.unblinded]
        return sorted(unspent, key=lambda txo: txo.value, reverse=True)

    def balance(self) -> Balance:
        """Satoshis per asset of the unspent confidential outputs (explicit ones are not
        counted, as LWK)."""
        amounts: dict[str, int] = {}
        for utxo in self.utxos():
            amounts[utxo.asset] = amounts.get(utxo.asset, 0) + utxo.value
        return Balance(amounts, self._network.policy_asset)

    def transactions(self) -> list[WalletTx]:
        """Wallet transactions as LWK lists them: unconfirmed first, then by height,
        descending. Transactions that touch wallet scripts without any output the wallet
        can read (blinded to another key, or listed by a lying server) are left out, as LWK
        does: see `hidden_transactions()`."""
        shown = [item for item in self._ordered() if self._is_shown(item[0])]
        return [self._wallet_tx(txid, height) for txid, height in shown]

    def hidden_transactions(self) -> list[WalletTx]:
        """The transactions `transactions()` leaves out, for support and diagnosis: a server
        listed them under a wallet script, but no output of theirs is readable by the
        wallet and they spend none of its outputs."""
        hidden = [item for item in self._ordered() if not self._is_shown(item[0])]
        return [self._wallet_tx(txid, height) for txid, height in hidden]

    def transaction(self, txid: str) -> WalletTx | None:
        if txid not in self._state.heights:
            return None
        return self._wallet_tx(txid, self._state.heights[txid])

    def _ordered(self) -> list[tuple[str, int | None]]:
        return sorted(
            self._state.heights.items(),
            # LWK compares txids as stored: internal byte order, the reverse of the hex shown
            key=lambda item: (
                item[1] if item[1] is not None else 2**32,
                bytes.fromhex(item[0])[::-1],
            ),
            reverse=True,
        )

    def _is_shown(self, txid: str) -> bool:
        state = self._state
        if not self._descriptor.can_unblind:
            return True  # a public blinding key: nothing is readable, history is all there is
        tx = state.txs[txid]
        return any(_secrets(state, txin.prevout) is not None for txin in tx.inputs) or any(
            _secrets(state, OutPoint(txid, vout)) is not None for vout in range(len(tx.outputs))
        )

    def _txos_of(self, txid: str, height: int | None) -> list[WalletTxOut]:
        state = self._state
        outs = []
        for vout, out in enumerate(state.txs[txid].outputs):
            outpoint = OutPoint(txid, vout)
            secrets = _secrets(state, outpoint)
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

    def _wallet_tx(self, txid: str, height: int | None) -> WalletTx:
        state = self._state
        tx = state.txs[txid]
        balance: dict[str, int] = {}
        for txin in tx.inputs:
            secrets = state.unblinded.get(txin.prevout)
            if secrets is not None and _is_wallet_output(state, txin.prevout):
                balance[secrets.asset] = balance.get(secrets.asset, 0) - secrets.value
        for vout, out in enumerate(tx.outputs):
            secrets = state.unblinded.get(OutPoint(txid, vout))
            if secrets is not None and out.script_pubkey in state.scripts:
                balance[secrets.asset] = balance.get(secrets.asset, 0) + secrets.value
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


def _is_wallet_output(state: WolletState, outpoint: OutPoint) -> bool:
    tx = state.txs.get(outpoint.txid)
    if tx is None or outpoint.vout >= len(tx.outputs):
        return False
    return tx.outputs[outpoint.vout].script_pubkey in state.scripts


def _secrets(state: WolletState, outpoint: OutPoint) -> TxOutSecrets | None:
    """What the wallet knows of one of its outputs: the unblinded secrets, or for an explicit
    output its asset and value with zero blinders (as LWK); None if not a readable output
    of the wallet."""
    if not _is_wallet_output(state, outpoint):
        return None
    secrets = state.unblinded.get(outpoint)
    if secrets is not None:
        return secrets
    out = state.txs[outpoint.txid].outputs[outpoint.vout]
    if out.is_blinded or out.asset is None or out.value is None:
        return None
    return TxOutSecrets(out.asset, out.value, _ZERO_BLINDER, _ZERO_BLINDER)


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
