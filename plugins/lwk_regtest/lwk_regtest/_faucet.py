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

from collections.abc import Sequence

import attrs

from lwk_core import DecodeError, Network, OutPoint, Transaction, TxOut, TxOutSecrets
from lwk_core.primitives import address_to_script

from ._chain import FAUCET_SCRIPT, RegtestChain
from ._tx_builder import TxInput, TxOutput, build_tx, cache_key, holdings, issuance_ids
from ._tx_cache import TxCache, default_cache_dir

__all__ = [
    "DEFAULT_FEE",
    "FAUCET_SCRIPT",
    "Faucet",
    "TxCache",
    "decode_address",
    "default_cache_dir",
]

DEFAULT_FEE = 250  # sats, paid in an explicit fee output


def decode_address(address: str, network: Network) -> tuple[bytes, bytes | None]:
    """(scriptPubKey, blinding pubkey or None) of an address of `network`.

    DecodeError (a ValueError) for a malformed address or one of another network.
    """
    decoded = address_to_script(address)
    if decoded.network is not network:
        raise DecodeError(f"address of {decoded.network.value}, not {network.value}")
    return decoded.script_pubkey, decoded.blinding_pubkey


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
            return self._fund([], [TxOutput(script, asset_id, sats, blinding)])

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
            asset, token = issuance_ids(coin.txid, coin.vout)
            outputs = [TxOutput(script, asset, sats, blinding)]
            if token_sats:
                outputs.append(TxOutput(script, token, token_sats, blinding))
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
        payment = TxOutput(script, asset_id, sats, blinding)
        outputs = self._with_change(inputs, [payment], change_script, change_blinding)
        return self._build_cached(inputs, outputs)

    # ------------------------------------------------------------------- internals
    def _needs(self, payments: Sequence[TxOutput]) -> dict[bytes, int]:
        need: dict[bytes, int] = {self._policy: self.fee}
        for out in payments:
            need[out.asset] = need.get(out.asset, 0) + out.value
        return need

    def _with_change(
        self,
        inputs: Sequence[TxInput],
        payments: Sequence[TxOutput],
        change_script: bytes,
        change_blinding: bytes | None,
    ) -> list[TxOutput]:
        """`payments`, one change output per asset, then the fee output."""
        need, have = self._needs(payments), holdings(inputs)
        if any(have.get(tag, 0) < amount for tag, amount in need.items()):
            raise ValueError("the inputs do not cover the payment and the fee")
        outputs = list(payments)
        for tag, value in have.items():
            change = value - need.get(tag, 0)
            if change:
                outputs.append(TxOutput(change_script, tag, change, change_blinding))
        outputs.append(TxOutput(b"", self._policy, self.fee))
        return outputs

    def _fund(self, inputs: list[TxInput], payments: list[TxOutput]) -> bytes:
        """Add faucet coins covering `payments` and the fee; explicit change to the faucet."""
        have = holdings(inputs)
        for tag, amount in self._needs(payments).items():
            if have.get(tag, 0) < amount:
                coin = self._coin(tag, amount - have.get(tag, 0), exclude=inputs)
                inputs.append(coin)
                have[tag] = have.get(tag, 0) + coin.value
        outputs = self._with_change(inputs, payments, FAUCET_SCRIPT, None)
        return self._build_cached(inputs, outputs)

    def _build_cached(self, inputs: list[TxInput], outputs: list[TxOutput]) -> bytes:
        key = cache_key(inputs, outputs)
        raw = self.cache.get(key)
        if raw is not None:
            try:
                Transaction.from_bytes(raw)
                return raw
            except DecodeError:
                pass  # a corrupt cache entry: build it again
        raw = build_tx(inputs, outputs, bytes.fromhex(key))
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

    def _coin(self, asset: bytes, amount: int, exclude: Sequence[TxInput] = ()) -> TxInput:
        """A faucet output of `asset` worth at least `amount`, confirmed ones first."""
        taken = {(i.txid, i.vout) for i in exclude}
        wanted = asset[::-1].hex()
        for txid, vout in self.chain.unspent(FAUCET_SCRIPT):
            out = self._output(txid, vout)
            if (txid, vout) in taken or out.asset != wanted or out.value is None:
                continue
            if out.value >= amount:
                return TxInput(txid, vout, asset, out.value)
        raise ValueError(f"the faucet holds no {asset[::-1].hex()} output of {amount} sats")

    def _wallet_input(self, outpoint: OutPoint, secrets: TxOutSecrets) -> TxInput:
        out = self._output(outpoint.txid, outpoint.vout)
        commitment = out.asset_commitment or None
        return TxInput(
            outpoint.txid,
            outpoint.vout,
            bytes.fromhex(secrets.asset)[::-1],
            secrets.value,
            bytes.fromhex(secrets.asset_bf)[::-1],
            bytes.fromhex(secrets.value_bf)[::-1],
            commitment,
        )
