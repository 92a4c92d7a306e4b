"""Helpers for regtest tests that use LWK 0.19's own client (the `lwk` wheel) as the oracle."""

from __future__ import annotations

import hashlib

import attrs
import lwk
from shared_data import DATA

from lwk_core._descriptor import WolletDescriptor
from lwk_core._network import Chain, Network
from lwk_core._types import OutPoint, TxOutSecrets

FIXTURE = DATA / "liquid-testnet-wallet.json"


@attrs.define
class LwkWallet:
    """A regtest wallet known to LWK (the oracle) and to the test (its addresses)."""

    descriptor: str
    wollet: lwk.Wollet

    def address(self, index: int, chain: Chain = Chain.EXTERNAL) -> str:
        return WolletDescriptor(self.descriptor).address(chain, index, Network.ELEMENTS_REGTEST)

    def scan(self, electrum_url: str) -> None:
        """Full scan through LWK's ElectrumClient and apply the update."""
        update = lwk.ElectrumClient.from_url(electrum_url).full_scan(self.wollet)
        if update is not None:
            self.wollet.apply_update(update)

    def secrets(self, txid: str) -> tuple[OutPoint, TxOutSecrets]:
        """The wallet's unspent output of `txid` with its secrets, as LWK unblinded them."""
        for utxo in self.wollet.utxos():
            if str(utxo.outpoint().txid()) == txid:
                s = utxo.unblinded()
                secrets = TxOutSecrets(s.asset(), s.value(), str(s.asset_bf()), str(s.value_bf()))
                return OutPoint(txid, utxo.outpoint().vout()), secrets
        raise AssertionError(f"LWK sees no unspent output of {txid}")

    def balance(self) -> dict[str, int]:
        return {asset: value for asset, value in self.wollet.balance().items() if value}

    def ledger(self) -> dict[str, tuple[str, dict[str, int], int, int | None]]:
        """txid -> (type, balance per asset, fee, height) as LWK reports them."""
        return {
            str(tx.txid()): (tx.type(), dict(tx.balance()), tx.fee(), tx.height())
            for tx in self.wollet.transactions()
        }


def new_wallet(name: str) -> LwkWallet:
    """A fresh regtest slip77 + elwpkh wallet from a seed derived from `name`."""
    network = lwk.Network.regtest_default()
    mnemonic = lwk.Mnemonic.from_entropy(hashlib.sha256(name.encode()).digest()[:16])
    descriptor = lwk.Signer(mnemonic, network).wpkh_slip77_descriptor()
    return LwkWallet(str(descriptor), lwk.Wollet(network, descriptor, None))
