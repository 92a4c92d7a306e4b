"""Canned chain contents: the real Liquid testnet fixture wallet, and a funded example wallet.

`fixture_chain` serves the fixture's 64 real testnet transactions at their real heights and
block times (empty blocks in between are hashed lazily, see EmptyRun). Their inputs spend
outputs that are not in the fixture, so they are loaded without input validation.

`example_descriptor` is a CT descriptor (SLIP-77 blinding, elwpkh, multipath, tpub) made from
a fixed seed with embit, for demos and the CLI; `fund_wallet` pays a descriptor's addresses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from embit import bip32, bip39
from embit.liquid import slip77
from embit.networks import NETWORKS

from lwk_core import Chain, Network, WolletDescriptor
from lwk_core.primitives import descriptor_checksum, sha256

from ._chain import RegtestChain
from ._faucet import Faucet
from ._signing import DEFAULT_SIGNERS, BlockSigners

__all__ = [
    "EXAMPLE_MNEMONIC",
    "Fixture",
    "example_descriptor",
    "extend_to_step",
    "fixture_chain",
    "fund_wallet",
    "load_fixture",
]

EXAMPLE_MNEMONIC = bip39.mnemonic_from_bytes(sha256(b"lwk-core regtest example wallet")[:16])


@attrs.frozen
class Fixture:
    """The testnet wallet fixture (its format: tests/data/README.md)."""

    network: Network
    descriptor: str = attrs.field(repr=False)
    transactions: Mapping[str, tuple[bytes, int, int]] = attrs.field(repr=False)  # raw, h, time
    steps: tuple[Mapping[str, Any], ...] = attrs.field(repr=False)


def load_fixture(path: str | os.PathLike[str]) -> Fixture:
    """Read a wallet fixture file (ValueError if it is not one)."""
    try:
        data = json.loads(Path(path).read_text())
        transactions = {
            txid: (bytes.fromhex(t["hex"]), int(t["height"]), int(t["timestamp"]))
            for txid, t in data["transactions"].items()
        }
        return Fixture(
            Network.from_name(data["network"]),
            data["descriptor"],
            transactions,
            tuple(data["steps"]),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a wallet fixture: {path}") from exc


def _step_txids(fixture: Fixture, step: int) -> list[str]:
    if not 0 <= step < len(fixture.steps):
        raise ValueError(f"the fixture has steps 0..{len(fixture.steps) - 1}")
    return list(fixture.steps[step]["txids"])


def extend_to_step(chain: RegtestChain, fixture: Fixture, step: int) -> None:
    """Confirm the step's transactions the chain lacks, each block at its real height."""
    by_height: dict[int, list[str]] = {}
    for txid in _step_txids(fixture, step):
        if chain.tx_raw(txid) is None:
            by_height.setdefault(fixture.transactions[txid][1], []).append(txid)
    for height in sorted(by_height):
        txids = by_height[height]
        raws = [fixture.transactions[t][0] for t in txids]
        block_time = fixture.transactions[txids[0]][2]
        chain.append_block(raws, height=height, time=block_time, validate=False)


def fixture_chain(
    fixture: Fixture, step: int = 1, *, signers: BlockSigners | None = DEFAULT_SIGNERS
) -> RegtestChain:
    """A chain serving the fixture's transactions of `step` (0: the first 63, 1: all 64),
    its blocks signed by `signers` (None: unsigned)."""
    chain = RegtestChain(fixture.network, signers=signers)
    extend_to_step(chain, fixture, step)
    return chain


def example_descriptor(network: Network = Network.ELEMENTS_REGTEST) -> str:
    """The example wallet: ct(slip77(...),elwpkh([fp/84'/1'/0']tpub.../<0;1>/*))#checksum."""
    seed = bip39.mnemonic_to_seed(EXAMPLE_MNEMONIC)
    version = NETWORKS["main" if network.is_mainnet else "test"]
    root = bip32.HDKey.from_seed(seed, version=version["xprv"])
    coin = 1776 if network.is_mainnet else 1
    account = root.derive(f"m/84h/{coin}h/0h").to_public()
    xpub = account.to_base58(version=version["xpub"])
    master = slip77.master_blinding_from_seed(seed).secret.hex()
    origin = f"{root.my_fingerprint.hex()}/84'/{coin}'/0'"
    text = f"ct(slip77({master}),elwpkh([{origin}]{xpub}/<0;1>/*))"
    return f"{text}#{descriptor_checksum(text)}"


def fund_wallet(
    faucet: Faucet,
    descriptor: str,
    n_txs: int,
    *,
    sats: int = 10_000,
    n_addresses: int = 20,
    txs_per_block: int = 10,
) -> list[str]:
    """Pay `n_txs` blinded payments of `sats + i` to the first `n_addresses` receive addresses.

    A block is mined after every `txs_per_block` payments; the rest stay in the mempool.
    Returns the txids in payment order.
    """
    wallet = WolletDescriptor(descriptor)
    network = faucet.chain.network
    addresses = [wallet.address(Chain.EXTERNAL, i, network) for i in range(n_addresses)]
    txids = []
    for i in range(n_txs):
        txids.append(faucet.pay(addresses[i % n_addresses], sats + i))
        if (i + 1) % txs_per_block == 0:
            faucet.chain.mine()
    return txids
