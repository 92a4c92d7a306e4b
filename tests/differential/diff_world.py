"""A seeded random world on the embedded regtest chain: wallets, a faucet, and chain events.

Every step is one random action (payments in L-BTC or issued assets to indexes within and
beyond the gap, spends built and signed by LWK, RBF replacements, mempool evictions, mines,
reorgs that move, drop or re-confirm transactions at the same heights) written to `log`, so a
failure names the seed and the steps that led to it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

import attrs
import lwk
from lwk_electrum import ElectrumClient
from lwk_esplora import EsploraClient
from lwk_regtest import Regtest, RegtestChain, RegtestRejected

from lwk_core import Chain, Wollet, WolletDescriptor

LWK_NET = lwk.Network.regtest_default()
POLICY = LWK_NET.policy_asset()
GAP = 20
# open difference, for the lead to decide (match LWK, or a deliberate difference with a rule)
KINDS = ("wpkh-slip77", "shwpkh-slip77", "wpkh-viewkey", "single-address")


def lwk_descriptor(kind: str, signer: lwk.Signer) -> lwk.WolletDescriptor:
    """A descriptor of `kind` whose keys `signer` holds."""
    if kind == "wpkh-slip77":
        return signer.wpkh_slip77_descriptor()
    if kind == "shwpkh-slip77":
        return signer.singlesig_desc(lwk.Singlesig.SH_WPKH, lwk.DescriptorBlindingKey.SLIP77)
    if kind == "wpkh-viewkey":  # ELIP 151: a plain private view key, no slip77
        return signer.singlesig_desc(lwk.Singlesig.WPKH, lwk.DescriptorBlindingKey.ELIP151)
    if kind == "single-address":  # one fixed key of the multipath xpub: no wildcard
        text = str(signer.wpkh_slip77_descriptor()).split("#")[0]
        return lwk.WolletDescriptor(text.replace("/<0;1>/*", "/0/7"))
    raise ValueError(kind)


@attrs.define
class Wallet:
    """One descriptor: LWK's incremental wallet, ours (Electrum and Esplora), its signer."""

    name: str
    kind: str
    signer: lwk.Signer
    descriptor: lwk.WolletDescriptor
    lwk_inc: lwk.Wollet
    ours_el: Wollet
    ours_es: Wollet
    lwk_fresh: lwk.Wollet | None = None  # LWK's fresh view of this step: spends are built on it
    inc_index: int = 0  # our incremental wallet's address index at the previous step

    @property
    def ours_descriptor(self) -> WolletDescriptor:
        return self.ours_el.descriptor

    @property
    def wildcard(self) -> bool:
        return self.kind != "single-address"


class World:
    """The chain, its servers, the wallets and the random actions, driven by one seed."""

    def __init__(self, rt: Regtest, seed: int, n_wallets: int = 3) -> None:
        self.rt = rt
        self.chain: RegtestChain = rt.chain
        self.seed = seed
        self.rng = random.Random(seed)
        self.log: list[str] = [f"seed {seed}"]
        self.lwk_electrum = lwk.ElectrumClient.from_url(rt.electrum_url)
        self.lwk_esplora = lwk.EsploraClient(rt.esplora_url, LWK_NET)
        self.electrum = ElectrumClient.from_url(rt.electrum_url)
        self.esplora = EsploraClient(rt.esplora_url, network=rt.network)
        self.faucet_assets: dict[str, int] = {}  # issued assets the faucet holds
        self.replacements: dict[str, bytes] = {}  # mempool txid -> a prepared RBF replacement
        others = KINDS[1:][seed % 3 :] + KINDS[1:][: seed % 3]  # consecutive seeds: every kind
        kinds = [KINDS[0], *others[: n_wallets - 1]]
        self.wallets = [self._wallet(f"w{i}", kind) for i, kind in enumerate(kinds)]

    def _wallet(self, name: str, kind: str) -> Wallet:
        entropy = hashlib.sha256(f"{self.seed}/{name}".encode()).digest()[:16]
        signer = lwk.Signer(lwk.Mnemonic.from_entropy(entropy), LWK_NET)
        descriptor = lwk_descriptor(kind, signer)
        return Wallet(
            name,
            kind,
            signer,
            descriptor,
            lwk.Wollet(LWK_NET, descriptor, None),
            Wollet(self.rt.network, str(descriptor)),
            Wollet(self.rt.network, str(descriptor)),
        )

    def note(self, text: str) -> None:
        self.log.append(f"{len(self.log)}: {text}")

    def history(self) -> str:
        return "\n".join(self.log)

    # ------------------------------------------------------------------ actions
    def step(self) -> None:
        """Run one random action that applies to the current state."""
        actions: list[tuple[float, Callable[[], str | None]]] = [
            (2.0, self.pay),
            (0.8, self.pay_asset),
            (0.5, self.issue),
            (2.5, self.spend),
            (1.2, self.rbf),
            (1.2, self.evict),
            (2.5, self.mine),
            (1.5, self.reorg),
            (1.0, self.reorg_same_heights),
        ]
        while True:
            (action,) = self.rng.choices([a for _, a in actions], [w for w, _ in actions])
            text = action()
            if text is not None:
                self.note(text)
                return

    def _address(self, wallet: Wallet, *, beyond_gap_ok: bool = True) -> tuple[str, str]:
        """A random address of `wallet` (within or beyond the gap) and how it was chosen."""
        if not wallet.wildcard:
            return str(wallet.lwk_inc.address(None).address()), "its address"
        chain = Chain.INTERNAL if self.rng.random() < 0.2 else Chain.EXTERNAL
        used = wallet.lwk_inc.address(None).index()
        roll = self.rng.random()
        if roll < 0.4:
            index = used
        elif roll < 0.85 or not beyond_gap_ok:
            index = self.rng.randrange(0, used + GAP)
        else:
            index = used + GAP + self.rng.randrange(0, 6)
        address = wallet.ours_descriptor.address(chain, index, self.rt.network)
        return address, f"{chain.name.lower()}/{index}"

    def pay(self) -> str:
        wallet = self.rng.choice(self.wallets)
        address, where = self._address(wallet)
        sats = self.rng.randrange(1_000, 200_000)
        txid = self.rt.faucet(address, sats)
        return f"faucet pays {sats} L-BTC to {wallet.name} {where}: {txid}"

    def pay_asset(self) -> str | None:
        held = [(a, v) for a, v in self.faucet_assets.items() if v > 0]
        if not held:
            return None
        asset, value = self.rng.choice(held)
        wallet = self.rng.choice(self.wallets)
        address, where = self._address(wallet)
        sats = self.rng.randrange(1, value + 1)
        try:
            txid = self.rt.faucet(address, sats, asset)
        except ValueError:  # the issuance or the faucet's change was evicted or reorged away
            self.faucet_assets[asset] = 0
            return None
        self.faucet_assets[asset] = value - sats
        return f"faucet pays {sats} of asset {asset[:8]} to {wallet.name} {where}: {txid}"

    def issue(self) -> str:
        sats = self.rng.randrange(1_000, 1_000_000)
        if self.rng.random() < 0.5:
            txid, asset = self.rt.issue_asset(sats)
            self.faucet_assets[asset] = sats
            return f"faucet issues {sats} of asset {asset[:8]} to itself: {txid}"
        wallet = self.rng.choice(self.wallets)
        address, where = self._address(wallet, beyond_gap_ok=False)
        txid, asset = self.rt.issue_asset(sats, address)
        return f"faucet issues {sats} of asset {asset[:8]} to {wallet.name} {where}: {txid}"

    def spend(self) -> str | None:
        """An LWK-built, LWK-signed spend, with a higher-fee replacement kept for RBF."""
        payer = self.rng.choice(self.wallets)
        view = payer.lwk_fresh
        if view is None:
            return None
        held = {a: v for a, v in view.balance().items() if v > 0}
        if held.get(POLICY, 0) < 2_000:
            return None
        asset = self.rng.choice(sorted(held)) if self.rng.random() < 0.3 else POLICY
        sats = self.rng.randrange(1, max(2, held[asset] // 2))
        payee = self.rng.choice(self.wallets)
        address, where = self._address(payee)
        original = self._signed(payer, view, [(address, sats, asset)], fee_rate=100.0)
        if original is None:
            return None
        raw, inputs = original
        bumped = self._signed(payer, view, [(address, sats, asset)], 300.0, inputs)
        txid = self.chain.broadcast(raw)
        if bumped is not None:
            self.replacements[txid] = bumped[0]
        what = "L-BTC" if asset == POLICY else f"asset {asset[:8]}"
        return f"{payer.name} (LWK-signed) pays {sats} {what} to {payee.name} {where}: {txid}"

    def _signed(
        self,
        payer: Wallet,
        view: lwk.Wollet,
        recipients: list[tuple[str, int, str]],
        fee_rate: float,
        inputs: list[lwk.OutPoint] | None = None,
    ) -> tuple[bytes, list[lwk.OutPoint]] | None:
        builder = LWK_NET.tx_builder()
        for address, sats, asset in recipients:
            builder.add_recipient(lwk.Address(address), sats, asset)
        builder.fee_rate(fee_rate)
        if inputs is not None:
            builder.set_wallet_utxos(inputs)
        try:
            pset = view.finalize(payer.signer.sign(builder.finish(view)))
        except lwk.LwkError:
            return None  # not enough of an asset, or of L-BTC for the fee
        tx = pset.extract_tx()
        return tx.to_bytes(), [txin.outpoint() for txin in tx.inputs()]

    def rbf(self) -> str | None:
        pending = [t for t in self.replacements if self.chain.in_mempool(t)]
        if not pending:
            return None
        old = self.rng.choice(pending)  # in broadcast order: LWK's txids are not seeded
        raw = self.replacements.pop(old)
        try:
            new = self.chain.replace(old, raw)
        except RegtestRejected:
            return None  # its inputs went away since
        return f"RBF: {old} replaced by {new}"

    def evict(self) -> str | None:
        mempool = self.chain.mempool_txids()
        if not mempool:
            return None
        txid = self.rng.choice(mempool)
        self.chain.evict(txid)
        return f"evict {txid} (and its descendants)"

    def mine(self) -> str:
        n = self.rng.choice([1, 1, 1, 2])
        self.rt.mine(n)
        return f"mine {n} -> tip {self.chain.tip_height()}"

    def reorg(self) -> str | None:
        depth = self.rng.randint(1, 3)
        if depth >= self.chain.tip_height():
            return None
        keep = self.rng.random() < 0.6
        self.rt.reorg(depth, keep_txs=keep)
        what = "moved to the new tip" if keep else "dropped"
        return f"reorg {depth} (txs {what}) -> tip {self.chain.tip_height()}"

    def reorg_same_heights(self) -> str | None:
        depth = self.rng.randint(1, 2)
        if depth >= self.chain.tip_height():
            return None
        self.chain.reorg(depth, same_heights=True)
        return f"reorg {depth}: same txs at the same heights in new blocks (new times), +1 block"
