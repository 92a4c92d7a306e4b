"""Funded wallets on the embedded regtest chain, and what a correct scan of them must show."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
from lwk_regtest import Regtest
from lwk_regtest.testing import new_wallet_descriptor

from lwk_core import BackendChain, Chain, Client, Network, Update, Wollet, WolletDescriptor

__all__ = [
    "FundedWallet",
    "Payment",
    "Summary",
    "chain_height_of",
    "chain_tip",
    "fund",
    "summary",
    "sync_into",
]

Summary = tuple[
    tuple[tuple[str, int | None], ...],  # (txid, height) sorted; height None: mempool
    tuple[tuple[str, int], ...],  # balance per asset, sorted
    tuple[int, str] | None,  # tip (height, hash)
]
"""Everything two scans must agree on to be called identical."""


@attrs.frozen
class Payment:
    txid: str
    asset: str
    sats: int


@attrs.define
class FundedWallet:
    """A descriptor and the payments the faucet made to it (txid, asset, amount)."""

    descriptor: str
    network: Network
    payments: list[Payment] = attrs.field(factory=list)

    def wollet(self) -> Wollet:
        return Wollet(self.network, self.descriptor)

    def pay(self, rt: Regtest, sats: int, *, chain: Chain = Chain.EXTERNAL, index: int = 0) -> str:
        """One blinded L-BTC payment to the address at (chain, index); left in the mempool."""
        address = WolletDescriptor(self.descriptor).address(chain, index, self.network)
        txid = rt.faucet(address, sats)
        self.payments.append(Payment(txid, self.network.policy_asset, sats))
        return txid

    def pay_asset(self, rt: Regtest, sats: int, *, index: int = 0) -> str:
        """A newly issued asset, paid blinded to the external address `index`."""
        _, asset = rt.issue_asset(sats)
        address = WolletDescriptor(self.descriptor).address(Chain.EXTERNAL, index, self.network)
        txid = rt.faucet(address, sats, asset)
        self.payments.append(Payment(txid, asset, sats))
        return txid

    def truth(self, height_of: Callable[[str], int | None], tip: tuple[int, str] | None) -> Summary:
        """The summary a correct scan gives, from the chain's own facts.

        `height_of(txid)` is the chain's confirmation height (None: mempool); a payment
        the chain no longer knows (`height_of` raising KeyError) is not in the wallet.
        """
        txs = []
        balance = {self.network.policy_asset: 0}
        for p in self.payments:
            try:
                height = height_of(p.txid)
            except KeyError:
                continue
            txs.append((p.txid, height))
            balance[p.asset] = balance.get(p.asset, 0) + p.sats
        return tuple(sorted(txs)), tuple(sorted(balance.items())), tip


def fund(rt: Regtest, seed: int, amounts: Sequence[int]) -> FundedWallet:
    """A new wallet (deterministic from `seed`) paid `amounts` at external indexes 0, 1, ..."""
    wallet = FundedWallet(new_wallet_descriptor(seed.to_bytes(32, "big")), rt.network)
    for index, sats in enumerate(amounts):
        wallet.pay(rt, sats, index=index)
    return wallet


def chain_height_of(rt: Regtest) -> Callable[[str], int | None]:
    """`height_of` for FundedWallet.truth from an in-process chain."""

    def height_of(txid: str) -> int | None:
        if rt.chain.tx_raw(txid) is None:
            raise KeyError(txid)
        return rt.chain.tx_height(txid)

    return height_of


def chain_tip(rt: Regtest) -> tuple[int, str]:
    return rt.chain.tip_height(), rt.chain.tip_hash()


def summary(wollet: Wollet) -> Summary:
    tip = wollet.tip()
    return (
        tuple(sorted((tx.txid, tx.height) for tx in wollet.transactions())),
        tuple(sorted(wollet.balance().items())),
        None if tip is None else (tip.height, tip.hash),
    )


def sync_into(backend: Client | BackendChain, wollet: Wollet) -> Update | None:
    """Full scan and apply; returns the Update (None: nothing changed)."""
    update = backend.full_scan(wollet)
    if update is not None:
        wollet.apply_update(update)
    return update
