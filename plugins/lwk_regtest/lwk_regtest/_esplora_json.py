"""JSON shapes of Blockstream electrs' Liquid REST API (electrs' `src/rest.rs`:
`BlockValue`, `TransactionValue`, `UtxoValue`; Blockstream/esplora's `API.md`).

Pure functions from parsed transactions and headers to the dicts electrs serializes, with
the same keys, the same optional-key rules and the same byte orders. Not rendered (electrs
has them, no client here reads them): the `*_asm` fields and `pegout`.
"""

from __future__ import annotations

from typing import Any, Final

from lwk_core import BlockHeader, DecodeError, Issuance, Network, Transaction, TxIn, TxOut
from lwk_core.primitives import compact_size, script_to_address

__all__ = [
    "DISCOUNT_CT_START",
    "Json",
    "block_status_value",
    "block_value",
    "discount_weight",
    "script_type",
    "spending_value",
    "status_value",
    "tx_value",
    "txout_value",
    "utxo_value",
]

Json = dict[str, Any]

DISCOUNT_CT_START: Final = 1734120000  # 2024-12-13 20:00 UTC, electrs' liquid constant
_OP_RETURN: Final = 0x6A
_OP_CHECKSIG: Final = 0xAC


def status_value(height: int | None, block_hash: str | None, block_time: int | None) -> Json:
    """`TransactionStatus`: only `confirmed` for mempool or unknown transactions."""
    if height is None:
        return {"confirmed": False}
    return {
        "confirmed": True,
        "block_height": height,
        "block_hash": block_hash,
        "block_time": block_time,
    }


def script_type(out: TxOut) -> str:
    """electrs' `scriptpubkey_type`, tested in electrs' order."""
    spk = out.script_pubkey
    n = len(spk)
    if out.is_fee:
        return "fee"
    if n == 0:
        return "empty"
    if spk[0] == _OP_RETURN:
        return "op_return"
    if ((n == 35 and spk[0] == 33) or (n == 67 and spk[0] == 65)) and spk[-1] == _OP_CHECKSIG:
        return "p2pk"
    if n == 25 and spk[:3] == b"\x76\xa9\x14" and spk[23:] == b"\x88\xac":
        return "p2pkh"
    if n == 23 and spk[:2] == b"\xa9\x14" and spk[22] == 0x87:
        return "p2sh"
    if n == 22 and spk[:2] == b"\x00\x14":
        return "v0_p2wpkh"
    if n == 34 and spk[:2] == b"\x00\x20":
        return "v0_p2wsh"
    if n == 34 and spk[:2] == b"\x51\x20":
        return "v1_p2tr"
    return "unknown"


def _address(spk: bytes, network: Network) -> str | None:
    """The unconfidential address electrs shows for an output script, if it has one."""
    try:
        return script_to_address(spk, None, network)
    except DecodeError:
        return None


def txout_value(out: TxOut, network: Network) -> Json:
    """`TxOutValue`: explicit `value`/`asset` or their commitments, never both."""
    value: Json = {
        "scriptpubkey": out.script_pubkey.hex(),
        "scriptpubkey_type": script_type(out),
    }
    address = _address(out.script_pubkey, network)
    if address is not None:
        value["scriptpubkey_address"] = address
    _put_amount(value, "value", out.value, out.value_commitment)
    _put_amount(value, "asset", out.asset, out.asset_commitment)
    return value


def _put_amount(value: Json, key: str, explicit: object, commitment: bytes) -> None:
    """An explicit field as `key`, a confidential one as `key + "commitment"` (Esplora omits
    whichever the transaction does not carry)."""
    if explicit is not None:
        value[key] = explicit
    if commitment:
        value[f"{key}commitment"] = commitment.hex()


def _issuance_value(issuance: Issuance) -> Json:
    """`IssuanceValue`; hashes and entropy in display (reversed) order as rust serializes them."""
    value: Json = {"asset_id": issuance.asset_id, "is_reissuance": issuance.is_reissuance}
    if issuance.is_reissuance:
        value["asset_blinding_nonce"] = issuance.blinding_nonce.hex()
    if issuance.contract_hash is not None:
        value["contract_hash"] = issuance.contract_hash[::-1].hex()
    value["asset_entropy"] = issuance.entropy[::-1].hex()
    _put_amount(value, "assetamount", issuance.amount, issuance.amount_commitment)
    _put_amount(value, "tokenamount", issuance.token_amount, issuance.token_amount_commitment)
    return value


def _txin_value(txin: TxIn, prevout: TxOut | None, network: Network) -> Json:
    value: Json = {
        "txid": txin.prevout.txid,
        "vout": txin.prevout.vout,
        "prevout": None if prevout is None else txout_value(prevout, network),
        "scriptsig": txin.script_sig.hex(),
    }
    if txin.witness:
        value["witness"] = [item.hex() for item in txin.witness]
    value["is_coinbase"] = txin.is_coinbase
    value["sequence"] = txin.sequence
    value["is_pegin"] = txin.is_pegin
    if txin.issuance is not None:
        value["issuance"] = _issuance_value(txin.issuance)
    return value


def tx_value(
    tx: Transaction,
    prevouts: dict[int, TxOut],
    fee: int,
    status: Json,
    network: Network,
) -> Json:
    """`TransactionValue`; `prevouts` maps input index -> spent output where known.

    The discounted sizes of Liquid's discount CT policy are shown for mempool transactions
    and for blocks from the policy's start on, as electrs does.
    """
    value = {
        "txid": tx.txid,
        "version": tx.version,
        "locktime": tx.locktime,
        "vin": [_txin_value(i, prevouts.get(n), network) for n, i in enumerate(tx.inputs)],
        "vout": [txout_value(o, network) for o in tx.outputs],
        "size": tx.size(),
        "weight": tx.weight(),
        "fee": fee,
        "status": status,
    }
    if status.get("block_time", DISCOUNT_CT_START) >= DISCOUNT_CT_START:
        weight = discount_weight(tx)
        value["discount_vsize"] = (weight + 3) // 4
        value["discount_weight"] = weight
    return value


def discount_weight(tx: Transaction) -> int:
    """rust-elements' discount weight: the weight without output witnesses (but the two
    bytes of empty proofs) and without the extra bytes of value and nonce commitments."""
    weight = tx.weight()
    for out in tx.outputs:
        proofs = out.surjection_proof, out.range_proof
        witness = sum(len(compact_size(len(p))) + len(p) for p in proofs)
        weight -= max(witness - 2, 0)
        if out.value_commitment:
            weight -= (33 - 9) * 4
        if out.nonce_commitment[:1] in (b"\x02", b"\x03"):
            weight -= (33 - 1) * 4
    return weight


def utxo_value(txid: str, vout: int, out: TxOut, status: Json) -> Json:
    """`UtxoValue`: what unblinding needs, without downloading the transaction."""
    value: Json = {"txid": txid, "vout": vout, "status": status}
    if out.value is not None:
        value["value"] = out.value
    if out.value_commitment:
        value["valuecommitment"] = out.value_commitment.hex()
    if out.asset is not None:
        value["asset"] = out.asset
    if out.asset_commitment:
        value["assetcommitment"] = out.asset_commitment.hex()
    if out.nonce_commitment[:1] in (b"\x02", b"\x03"):
        value["noncecommitment"] = out.nonce_commitment.hex()
    if out.surjection_proof:
        value["surjection_proof"] = out.surjection_proof.hex()
    if out.range_proof:
        value["range_proof"] = out.range_proof.hex()
    return value


def spending_value(spend: tuple[str, int, Json] | None) -> Json:
    """`SpendingValue` from (spending txid, input index, its status), or unspent."""
    if spend is None:
        return {"spent": False}
    txid, vin, status = spend
    return {"spent": True, "txid": txid, "vin": vin, "status": status}


def block_status_value(height: int | None, next_best: str | None) -> Json:
    """`BlockStatus`: an unknown or stale block is just not in the best chain."""
    if height is None:
        return {"in_best_chain": False}
    value: Json = {"in_best_chain": True, "height": height}
    if next_best is not None:
        value["next_best"] = next_best
    return value


def _ext_value(header: BlockHeader) -> Json:
    """`ext` for a legacy header; a dynafed one shows only its signblock witness."""
    if header.is_dynafed:
        return {"signblock_witness": [item.hex() for item in header.signblock_witness]}
    return {"challenge": header.challenge.hex(), "solution": header.solution.hex()}


def block_value(header: BlockHeader, height: int, txs: list[Transaction], median_time: int) -> Json:
    """`BlockValue`; `previousblockhash` is null for the genesis block, as electrs emits it."""
    size = len(header.to_bytes()) + len(compact_size(len(txs)))
    return {
        "id": header.block_hash,
        "height": height,
        "version": header.version,
        "timestamp": header.time,
        "tx_count": len(txs),
        "size": size + sum(tx.size() for tx in txs),
        "weight": 4 * size + sum(tx.weight() for tx in txs),
        "merkle_root": header.merkle_root,
        "previousblockhash": None if header.prev_hash == "00" * 32 else header.prev_hash,
        "mediantime": median_time,
        "ext": _ext_value(header),
    }
