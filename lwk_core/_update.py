"""Update: everything one scan learned, applied to a Wollet with `apply_update`.

Serialized (`Update.serialize`, as LWK's `Update::serialize`, in this library's own format):

    an envelope (`_records`) of magic "LWKUPDAT", version 1, around the records
    32 wallet id | 32 base status | tip | genesis (u8 present; 32 hash)
    | txid_height_delete (txids) | history (new_txs, txid_height_new, timestamps, scripts,
    unblinded, last_unused; transactions named by txid)

The encrypted form (`serialize_encrypted`, as LWK's) seals those bytes under the wallet
descriptor's key (`_sealing`, magic "LWKUPENC", version 1).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

import attrs

from ._descriptor import WolletDescriptor
from ._errors import InvalidArgument, UpdateError
from ._network import Chain
from ._records import (
    History,
    by_txid,
    check_size,
    envelope,
    hex32,
    open_envelope,
    optional_hash,
    write_history,
    write_tip,
    write_txids,
)
from ._sealing import Sealer, unseal
from ._transaction import Transaction
from ._types import OutPoint, Tip, TxOutSecrets

__all__ = ["Update"]

MAGIC: Final = b"LWKUPDAT"
SEALED_MAGIC: Final = b"LWKUPENC"
VERSION: Final = 1
SEALED_VERSION: Final = 1


def _frozen_map(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(value))


_SHARED_INDEXES: Final = 1024
_POSITIONS: Final = {chain: [(chain, i) for i in range(_SHARED_INDEXES)] for chain in Chain}


def _positions(value: Mapping[bytes, tuple[Chain, int]]) -> Mapping[bytes, tuple[Chain, int]]:
    """`value` frozen, each (chain, index) below `_SHARED_INDEXES` one tuple shared by every
    wallet: the garbage collector tracks a tuple holding an enum member, and the positions
    of a thousand wallets' scripts were a quarter of all objects it went through."""
    return MappingProxyType({script: _shared(path) for script, path in value.items()})


def _shared(path: tuple[Chain, int]) -> tuple[Chain, int]:
    if type(path) is tuple and len(path) == 2 and type(path[0]) is Chain:
        index = path[1]
        if type(index) is int and 0 <= index < _SHARED_INDEXES:
            return _POSITIONS[path[0]][index]
    return path


def _txs(value: Iterable[Transaction]) -> tuple[Transaction, ...]:
    return tuple(value)


def _txids(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


@attrs.frozen
class Update:
    """Everything one scan learned, to be applied to a Wollet with `apply_update`.

    - `new_txs`: transactions the wallet did not have (txids already verified);
    - `txid_height_new`: txid -> height (None = unconfirmed) for new txs and changed heights;
    - `txid_height_delete`: txids that vanished (reorg, replacement, mempool eviction);
    - `timestamps`: block height -> block time for the heights of `txid_height_new`;
    - `scripts`: newly derived wallet scripts -> (chain, index);
    - `unblinded`: secrets of the wallet's outputs in `new_txs`;
    - `last_unused`: per chain, the index after the last script with history;
    - `wallet_id`: which wallet scanned (a hash of the descriptor, not a secret);
    - `base_status`: the wallet state the scan started from; applying the update to a
      wallet in another state is refused (it could resurrect or lose transactions);
    - `tip`: the best block at the time of the scan;
    - `genesis_hash`: the genesis of the chain the scanning server proved it serves (set by
      `Client.sync`); None for an update of a server not checked, which may not delete
      history.

    Two updates are equal when their contents are (the order of `new_txs` included).
    `serialize()` / `Update.deserialize(data)` turn an update into bytes and back;
    `serialize_encrypted(descriptor)` / `Update.deserialize_decrypted(data, descriptor)`
    do the same sealed under the wallet's descriptor, so the bytes can be stored anywhere.
    """

    wallet_id: str
    base_status: str
    tip: Tip
    new_txs: tuple[Transaction, ...] = attrs.field(default=(), converter=_txs)
    txid_height_new: Mapping[str, int | None] = attrs.field(
        factory=dict,
        converter=_frozen_map,
    )
    txid_height_delete: frozenset[str] = attrs.field(default=frozenset(), converter=_txids)
    timestamps: Mapping[int, int] = attrs.field(factory=dict, converter=_frozen_map)
    scripts: Mapping[bytes, tuple[Chain, int]] = attrs.field(
        factory=dict,
        converter=_positions,
        repr=False,
    )
    unblinded: Mapping[OutPoint, TxOutSecrets] = attrs.field(
        factory=dict,
        converter=_frozen_map,
        repr=False,
    )
    last_unused: Mapping[Chain, int] = attrs.field(factory=dict, converter=_frozen_map)
    genesis_hash: str | None = None

    @property
    def only_tip(self) -> bool:
        """True when the update carries nothing but a new tip."""
        return not (
            self.new_txs
            or self.txid_height_new
            or self.txid_height_delete
            or self.scripts
            or self.unblinded
        )

    def __hash__(self) -> int:
        # The mappings are not hashable; equal updates agree on these fields.
        return hash((self.wallet_id, self.base_status, self.tip, self.new_txs, self.genesis_hash))

    def serialize(self) -> bytes:
        """The update as bytes, read back by `Update.deserialize`. Not encrypted: they hold
        the wallet's transactions, scripts and unblinded amounts in clear.

        InvalidArgument if a field cannot be encoded (a hash that is not 64 hex digits, a
        negative height): an update made by a scan always can.
        """
        try:
            return self._encode()
        except (ValueError, struct.error) as e:
            raise InvalidArgument(f"cannot serialize this Update: {e}") from None

    def _encode(self) -> bytes:
        txs = {tx.txid: tx for tx in self.new_txs}
        if len(txs) != len(self.new_txs):
            raise ValueError("new_txs lists a transaction twice")
        history = History(
            txs=txs,
            heights=self.txid_height_new,
            timestamps=self.timestamps,
            scripts=self.scripts,
            unblinded=self.unblinded,
            last_unused=self.last_unused,
        )
        records = [
            hex32(self.wallet_id),
            hex32(self.base_status),
            write_tip(self.tip),
            optional_hash(self.genesis_hash),
            write_txids(self.txid_height_delete),
            write_history(history, by_txid),
        ]
        return envelope(MAGIC, VERSION, b"".join(records))

    @classmethod
    def deserialize(cls, data: bytes) -> Update:
        """The update `serialize` wrote; DecodeError (nothing else) for anything else:
        another format or version, truncated, altered, or over MAX_ENCODED_SIZE."""
        r = open_envelope(data, MAGIC, VERSION, "Update", SEALED_MAGIC)
        wallet_id = r.hash32()
        base_status = r.hash32()
        tip = r.tip()
        genesis_hash = r.optional_hash()
        txid_height_delete = r.txids()
        history = r.history(by_txid)
        r.end("Update")
        return cls(
            wallet_id=wallet_id,
            base_status=base_status,
            tip=tip,
            genesis_hash=genesis_hash,
            txid_height_delete=txid_height_delete,
            new_txs=history.txs.values(),
            txid_height_new=history.heights,
            timestamps=history.timestamps,
            scripts=history.scripts,
            unblinded=history.unblinded,
            last_unused=history.last_unused,
        )

    def serialize_encrypted(self, descriptor: WolletDescriptor | str) -> bytes:
        """The update as bytes sealed under `descriptor` (the wallet's: UpdateError for
        another one), read back by `Update.deserialize_decrypted`: without the descriptor
        they reveal nothing but their length."""
        descriptor = _descriptor(descriptor)
        if descriptor.wallet_id != self.wallet_id:
            raise UpdateError("the update was made for another wallet than this descriptor's")
        return Sealer(descriptor).seal(SEALED_MAGIC, SEALED_VERSION, self.serialize())

    @classmethod
    def deserialize_decrypted(cls, data: bytes, descriptor: WolletDescriptor | str) -> Update:
        """The update `serialize_encrypted` sealed under `descriptor`; DecodeError if it
        does not open with it (another wallet's, truncated, altered) or is malformed."""
        sealer = Sealer(_descriptor(descriptor))
        plain = unseal(sealer, check_size(data, "Update"), SEALED_MAGIC, SEALED_VERSION, "Update")
        return cls.deserialize(plain)


def _descriptor(descriptor: WolletDescriptor | str) -> WolletDescriptor:
    return WolletDescriptor(descriptor) if isinstance(descriptor, str) else descriptor
