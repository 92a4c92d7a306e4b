"""A faucet paying real confidential transactions on the regtest chain, built with embit.

Every payment to a confidential address is a real blinded output (asset and value
commitments, range proof, surjection proof, ECDH nonce) that any wallet holding the
address's blinding key unblinds. The faucet's own coins (the genesis premine, its change
and the assets it issued to itself) are explicit outputs to `FAUCET_SCRIPT`.

Blinding is deterministic: the random-looking factors derive from a hash of everything the
transaction spends and pays, so a transaction is a pure function of its parameters and the
bytes can be cached on disk (`TxCache`): a chain of hundreds of blinded payments rebuilds
in a fraction of the ~25 ms each one takes to prove.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import attrs
from embit import ec
from embit.liquid.transaction import (
    AssetIssuance,
    LTransaction,
    LTransactionInput,
    LTransactionOutput,
    Proof,
    RangeProof,
    TxOutWitness,
)
from embit.script import Script
from embit.util import secp256k1

from lwk_core import DecodeError, Network, OutPoint, Transaction, TxOut, TxOutSecrets
from lwk_core.primitives import address_to_script, fast_merkle_root, sha256, sha256d, tagged_hash

from ._chain import FAUCET_SCRIPT, RegtestChain

__all__ = [
    "DEFAULT_FEE",
    "FAUCET_SCRIPT",
    "Faucet",
    "TxCache",
    "decode_address",
    "default_cache_dir",
]

DEFAULT_FEE = 250  # sats, paid in an explicit fee output
_ZERO = bytes(32)
_SEQUENCE = 0xFFFFFFFD  # signals RBF
_CACHE_FORMAT = "lwk-regtest-tx-1"


def decode_address(address: str, network: Network) -> tuple[bytes, bytes | None]:
    """(scriptPubKey, blinding pubkey or None) of an address of `network`.

    DecodeError (a ValueError) for a malformed address or one of another network.
    """
    decoded = address_to_script(address)
    if decoded.network is not network:
        raise DecodeError(f"address of {decoded.network.value}, not {network.value}")
    return decoded.script_pubkey, decoded.blinding_pubkey


# ---------------------------------------------------------------------------------- cache
def default_cache_dir() -> Path:
    """$LWK_REGTEST_CACHE, else $XDG_CACHE_HOME/lwk-regtest, else ~/.cache/lwk-regtest."""
    env = os.environ.get("LWK_REGTEST_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lwk-regtest"


@attrs.define
class TxCache:
    """Raw transactions on disk, keyed by a hash of what they spend and pay."""

    directory: Path | None
    hits: int = 0
    misses: int = 0

    def get(self, key: str) -> bytes | None:
        if self.directory is None:
            return None
        try:
            raw = (self.directory / f"{key}.tx").read_bytes()
        except OSError:
            self.misses += 1
            return None
        self.hits += 1
        return raw

    def put(self, key: str, raw: bytes) -> None:
        if self.directory is None:
            return
        with contextlib.suppress(OSError):  # a read-only cache only costs time
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(raw)
            os.replace(tmp, self.directory / f"{key}.tx")


# ------------------------------------------------------------------------------- building
@attrs.frozen
class _Input:
    txid: str
    vout: int
    asset: bytes  # internal order
    value: int
    abf: bytes = _ZERO
    vbf: bytes = _ZERO
    commitment: bytes | None = None  # 33-byte asset commitment when the asset is blinded
    issuance: tuple[int, int] | None = None  # (amount, tokens): a new explicit issuance


@attrs.frozen
class _Output:
    script: bytes
    asset: bytes  # internal order
    value: int
    blinding_pubkey: bytes | None = None


def _issuance_ids(txid: str, vout: int) -> tuple[bytes, bytes]:
    """(asset, reissuance token) in internal order for a new issuance with contract hash 0."""
    outpoint = bytes.fromhex(txid)[::-1] + vout.to_bytes(4, "little")
    entropy = fast_merkle_root([sha256d(outpoint), _ZERO])
    token_tag = (1).to_bytes(32, "little")  # explicit issuance amount
    return fast_merkle_root([entropy, _ZERO]), fast_merkle_root([entropy, token_tag])


def _holdings(inputs: Sequence[_Input]) -> dict[bytes, int]:
    """What inputs bring in, per asset (issued amounts included)."""
    have: dict[bytes, int] = {}
    for i in inputs:
        have[i.asset] = have.get(i.asset, 0) + i.value
        if i.issuance:
            for tag, value in zip(_issuance_ids(i.txid, i.vout), i.issuance, strict=True):
                have[tag] = have.get(tag, 0) + value
    return have


def _cache_key(inputs: Sequence[_Input], outputs: Sequence[_Output]) -> str:
    def hx(b: bytes | None) -> str | None:
        return None if b is None else b.hex()

    spec = {
        "format": _CACHE_FORMAT,
        "in": [
            [
                i.txid,
                i.vout,
                hx(i.asset),
                i.value,
                hx(i.abf),
                hx(i.vbf),
                hx(i.commitment),
                list(i.issuance) if i.issuance else None,
            ]
            for i in inputs
        ],
        "out": [[hx(o.script), hx(o.asset), o.value, hx(o.blinding_pubkey)] for o in outputs],
    }
    return sha256(json.dumps(spec, sort_keys=True).encode()).hex()


def _blinded_output(
    out: _Output,
    abf: bytes,
    vbf: bytes,
    seed: bytes,
    domain: list[tuple[bytes, bytes, bytes]],
) -> LTransactionOutput:
    """Commit, prove and encrypt one output to its blinding pubkey (PROTOCOL 4.1)."""
    assert out.blinding_pubkey is not None
    gen = secp256k1.generator_generate_blinded(out.asset, abf)
    value_commit = secp256k1.pedersen_commit(vbf, out.value, gen)
    tags = [tag for tag, _, _ in domain]
    proof, index = secp256k1.surjectionproof_initialize(
        tags, out.asset, tagged_hash(b"lwk-regtest/surjection", seed)
    )
    gens = [g for _, g, _ in domain]
    secp256k1.surjectionproof_generate(proof, index, gens, gen, domain[index][2], abf)
    ephemeral = ec.PrivateKey(tagged_hash(b"lwk-regtest/ephemeral", seed))
    shared = secp256k1.ec_pubkey_parse(out.blinding_pubkey)
    secp256k1.ec_pubkey_tweak_mul(shared, ephemeral.secret)
    nonce = sha256d(secp256k1.ec_pubkey_serialize(shared))
    range_proof = secp256k1.rangeproof_sign(
        nonce, out.value, value_commit, vbf, out.asset + abf, out.script, gen
    )
    return LTransactionOutput(
        secp256k1.generator_serialize(gen),
        secp256k1.pedersen_commitment_serialize(value_commit),
        Script(out.script),
        ephemeral.get_public_key().sec(),
        TxOutWitness(Proof(secp256k1.surjectionproof_serialize(proof)), RangeProof(range_proof)),
    )


def _build(inputs: Sequence[_Input], outputs: Sequence[_Output], seed: bytes) -> bytes:
    """Serialize a transaction, blinding the outputs that have a blinding pubkey."""
    domain: list[tuple[bytes, bytes, bytes]] = []  # (asset tag, generator, abf) per input
    values: list[int] = []
    abfs: list[bytes] = []
    vbfs: list[bytes] = []
    vin = []
    for i in inputs:
        gen = (
            secp256k1.generator_parse(i.commitment)
            if i.commitment
            else secp256k1.generator_generate(i.asset)
        )
        domain.append((i.asset, gen, i.abf))
        values.append(i.value)
        abfs.append(i.abf)
        vbfs.append(i.vbf)
        issuance = None
        if i.issuance:
            amount, tokens = i.issuance
            asset, token = _issuance_ids(i.txid, i.vout)
            for tag, value in ((asset, amount), (token, tokens)):
                if value:
                    domain.append((tag, secp256k1.generator_generate(tag), _ZERO))
            issuance = AssetIssuance(_ZERO, _ZERO, amount or None, tokens or None)
        vin.append(
            LTransactionInput(
                bytes.fromhex(i.txid), i.vout, sequence=_SEQUENCE, asset_issuance=issuance
            )
        )
    blinded = [k for k, o in enumerate(outputs) if o.blinding_pubkey is not None]
    factors: dict[int, tuple[bytes, bytes]] = {}
    for k in blinded:
        factors[k] = (
            tagged_hash(b"lwk-regtest/abf", seed + k.to_bytes(4, "little")),
            tagged_hash(b"lwk-regtest/vbf", seed + k.to_bytes(4, "little")),
        )
    if blinded:
        # the last value blinder balances the commitments of inputs and outputs
        last = blinded[-1]
        sum_values = values + [outputs[k].value for k in blinded]
        sum_abfs = abfs + [factors[k][0] for k in blinded]
        sum_vbfs = vbfs + [factors[k][1] for k in blinded]
        last_vbf = secp256k1.pedersen_blind_generator_blind_sum(
            sum_values, sum_abfs, sum_vbfs, len(inputs)
        )
        factors[last] = (factors[last][0], last_vbf)
    vout = []
    for k, out in enumerate(outputs):
        if k in factors:
            abf, vbf = factors[k]
            out_seed = tagged_hash(b"lwk-regtest/output", seed + k.to_bytes(4, "little"))
            vout.append(_blinded_output(out, abf, vbf, out_seed, domain))
        else:
            vout.append(LTransactionOutput(out.asset, out.value, Script(out.script)))
    tx = LTransaction(version=2, vin=vin, vout=vout, locktime=0)
    raw: bytes = tx.serialize()
    return raw


# --------------------------------------------------------------------------------- faucet
class Faucet:
    """Pays, issues and spends on a RegtestChain with real confidential transactions."""

    def __init__(
        self, chain: RegtestChain, *, cache: TxCache | None = None, fee: int = DEFAULT_FEE
    ) -> None:
        self.chain = chain
        self.cache = cache or TxCache(None)
        self.fee = fee
        self._policy = bytes.fromhex(chain.network.policy_asset)[::-1]
        self._parsed: dict[str, Transaction] = {}

    def pay(self, address: str, sats: int, asset: str | None = None) -> str:
        """Pay `sats` of `asset` (default L-BTC) to `address`, blinded if it is confidential.

        Non-policy assets come from what the faucet issued to itself (`issue_asset` with no
        address). Returns the txid; the transaction is in the mempool.
        """
        with self.chain.lock:
            return self.chain.broadcast(self.build_payment(address, sats, asset))

    def build_payment(self, address: str, sats: int, asset: str | None = None) -> bytes:
        """The transaction `pay` would broadcast, not broadcast.

        Until it is broadcast the faucet may spend the same coin again (a conflicting tx).
        """
        if sats <= 0:
            raise ValueError("pay a positive amount")
        script, blinding = decode_address(address, self.chain.network)
        asset_id = self._policy if asset is None else bytes.fromhex(asset)[::-1]
        with self.chain.lock:
            return self._fund([], [_Output(script, asset_id, sats, blinding)])

    def issue_asset(
        self, sats: int, address: str | None = None, *, token_sats: int = 0
    ) -> tuple[str, str]:
        """Issue a new asset (explicit amounts, contract hash 0) to `address` or to the faucet.

        The issued amount and any reissuance tokens go to `address` (blinded when it is
        confidential), or stay with the faucet for later `pay(..., asset=...)` when it is
        None. Returns (txid, asset id).
        """
        if sats <= 0 or token_sats < 0:
            raise ValueError("issue a positive amount")
        script, blinding = (
            decode_address(address, self.chain.network) if address else (FAUCET_SCRIPT, None)
        )
        with self.chain.lock:
            coin = self._coin(self._policy, self.fee)
            issuer = attrs.evolve(coin, issuance=(sats, token_sats))
            asset, token = _issuance_ids(coin.txid, coin.vout)
            outputs = [_Output(script, asset, sats, blinding)]
            if token_sats:
                outputs.append(_Output(script, token, token_sats, blinding))
            txid = self.chain.broadcast(self._fund([issuer], outputs))
        return txid, asset[::-1].hex()

    def spend(
        self,
        utxos: Sequence[tuple[OutPoint, TxOutSecrets]],
        address: str,
        sats: int,
        *,
        change_address: str,
        asset: str | None = None,
    ) -> str:
        """Spend wallet outputs (given their unblinded secrets) to `address`; the txid.

        Change of every asset goes to `change_address`, blinded; the L-BTC among the inputs
        pays the fee. Signatures are left empty: the regtest chain does not check them.
        """
        with self.chain.lock:
            raw = self.build_spend(utxos, address, sats, change_address=change_address, asset=asset)
            return self.chain.broadcast(raw)

    def build_spend(
        self,
        utxos: Sequence[tuple[OutPoint, TxOutSecrets]],
        address: str,
        sats: int,
        *,
        change_address: str,
        asset: str | None = None,
    ) -> bytes:
        """The transaction `spend` would broadcast, not broadcast."""
        network = self.chain.network
        script, blinding = decode_address(address, network)
        change_script, change_blinding = decode_address(change_address, network)
        asset_id = self._policy if asset is None else bytes.fromhex(asset)[::-1]
        with self.chain.lock:
            inputs = [self._wallet_input(op, secrets) for op, secrets in utxos]
        payment = _Output(script, asset_id, sats, blinding)
        outputs = self._with_change(inputs, [payment], change_script, change_blinding)
        return self._build_cached(inputs, outputs)

    # ------------------------------------------------------------------- internals
    def _needs(self, payments: Sequence[_Output]) -> dict[bytes, int]:
        need: dict[bytes, int] = {self._policy: self.fee}
        for out in payments:
            need[out.asset] = need.get(out.asset, 0) + out.value
        return need

    def _with_change(
        self,
        inputs: Sequence[_Input],
        payments: Sequence[_Output],
        change_script: bytes,
        change_blinding: bytes | None,
    ) -> list[_Output]:
        """`payments`, one change output per asset, then the fee output."""
        need, have = self._needs(payments), _holdings(inputs)
        if any(have.get(tag, 0) < amount for tag, amount in need.items()):
            raise ValueError("the inputs do not cover the payment and the fee")
        outputs = list(payments)
        for tag, value in have.items():
            change = value - need.get(tag, 0)
            if change:
                outputs.append(_Output(change_script, tag, change, change_blinding))
        outputs.append(_Output(b"", self._policy, self.fee))
        return outputs

    def _fund(self, inputs: list[_Input], payments: list[_Output]) -> bytes:
        """Add faucet coins covering `payments` and the fee; explicit change to the faucet."""
        have = _holdings(inputs)
        for tag, amount in self._needs(payments).items():
            if have.get(tag, 0) < amount:
                coin = self._coin(tag, amount - have.get(tag, 0), exclude=inputs)
                inputs.append(coin)
                have[tag] = have.get(tag, 0) + coin.value
        outputs = self._with_change(inputs, payments, FAUCET_SCRIPT, None)
        return self._build_cached(inputs, outputs)

    def _build_cached(self, inputs: list[_Input], outputs: list[_Output]) -> bytes:
        key = _cache_key(inputs, outputs)
        raw = self.cache.get(key)
        if raw is not None:
            try:
                Transaction.from_bytes(raw)
                return raw
            except DecodeError:
                pass  # a corrupt cache entry: build it again
        raw = _build(inputs, outputs, bytes.fromhex(key))
        self.cache.put(key, raw)
        return raw

    def _output(self, txid: str, vout: int) -> TxOut:
        tx = self._parsed.get(txid)
        if tx is None:
            raw = self.chain.tx_raw(txid)
            if raw is None:
                raise ValueError(f"unknown transaction {txid}")
            tx = self._parsed[txid] = Transaction.from_bytes(raw)
        if not 0 <= vout < len(tx.outputs):
            raise ValueError(f"{txid} has no output {vout}")
        return tx.outputs[vout]

    def _coin(self, asset: bytes, amount: int, exclude: Sequence[_Input] = ()) -> _Input:
        """A faucet output of `asset` worth at least `amount`, confirmed ones first."""
        taken = {(i.txid, i.vout) for i in exclude}
        wanted = asset[::-1].hex()
        for txid, vout in self.chain.unspent(FAUCET_SCRIPT):
            out = self._output(txid, vout)
            if (txid, vout) in taken or out.asset != wanted or out.value is None:
                continue
            if out.value >= amount:
                return _Input(txid, vout, asset, out.value)
        raise ValueError(f"the faucet holds no {asset[::-1].hex()} output of {amount} sats")

    def _wallet_input(self, outpoint: OutPoint, secrets: TxOutSecrets) -> _Input:
        out = self._output(outpoint.txid, outpoint.vout)
        commitment = out.asset_commitment or None
        return _Input(
            outpoint.txid,
            outpoint.vout,
            bytes.fromhex(secrets.asset)[::-1],
            secrets.value,
            bytes.fromhex(secrets.asset_bf)[::-1],
            bytes.fromhex(secrets.value_bf)[::-1],
            commitment,
        )
