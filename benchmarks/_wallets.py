"""Benchmark wallets: a deterministic descriptor per size, funded on the regtest chain."""

from __future__ import annotations

import hashlib

import attrs
import lwk
from lwk_regtest import Regtest

from lwk_core import Chain, Network, WolletDescriptor

from ._server import ServerProcess

__all__ = ["BenchWallet", "build_wallet", "fund_wallet"]

TXS_PER_BLOCK = 10
MEMPOOL_TXS = 3  # left unconfirmed, as a live wallet has
ADDRESS_SPREAD = 4  # wallet transactions per receive address, on average
_SATS = 10_000
_MEMPOOL_SATS = 20_000


def _descriptor(size: int) -> str:
    """A fresh slip77 + elwpkh wallet per size, the same in every run (the faucet's cache)."""
    network = lwk.Network.regtest_default()
    seed = hashlib.sha256(f"lwk-core benchmark wallet {size}".encode()).digest()[:16]
    return str(lwk.Signer(lwk.Mnemonic.from_entropy(seed), network).wpkh_slip77_descriptor())


@attrs.define
class BenchWallet:
    """A funded wallet; `fresh_address` hands out receive addresses never paid before."""

    size: int
    descriptor: str = attrs.field(repr=False)
    n_addresses: int
    next_index: int

    def fresh_address(self) -> str:
        index, self.next_index = self.next_index, self.next_index + 1
        return WolletDescriptor(self.descriptor).address(
            Chain.EXTERNAL, index, Network.ELEMENTS_REGTEST
        )


def build_wallet(server: ServerProcess, size: int) -> BenchWallet:
    """`size` blinded payments over size/4 addresses: all but 3 confirmed, 10 per block."""
    return fund_wallet(server.rt, size)


def fund_wallet(rt: Regtest, size: int) -> BenchWallet:
    """`build_wallet` on any chain (e.g. an in-process one with block signers)."""
    if size < 1:
        raise ValueError("a benchmark wallet needs at least one transaction")
    descriptor = _descriptor(size)
    n_addresses = max(1, size // ADDRESS_SPREAD)
    mempool = MEMPOOL_TXS if size > 2 * MEMPOOL_TXS else 0
    options = {"n_addresses": n_addresses, "txs_per_block": TXS_PER_BLOCK, "sats": _SATS}
    rt.fund_wallet(descriptor, size - mempool, **options)
    rt.mine(1)
    if mempool:
        options = {"n_addresses": n_addresses, "txs_per_block": mempool + 1, "sats": _MEMPOOL_SATS}
        rt.fund_wallet(descriptor, mempool, **options)
    return BenchWallet(size, descriptor, n_addresses, n_addresses)
