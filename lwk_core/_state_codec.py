"""A compact, versioned binary encoding of a WolletState: what the wallet store encrypts, and
the public export of a wallet's state (`Wollet.serialize_state`).

The encoding is built of `_records`:

    u8 version (2; version 1, without the genesis field, is still read)
    tip          u8 present; if 1: tip record
    genesis      u8 present; if 1: 32 hash (the chain the wallet follows; version 2 on)
    history      transactions named by their index in its list

The export wraps it with what binds it to one wallet, and may be sealed (`_sealing`):

    plain        an envelope (`_records`) of magic "LWKWSTAT", version 1, around
                 blob network name | 32 wallet id | the state's encoding
    encrypted    sealed (`_sealing`) with magic "LWKWSTEN", version 1, around the plain one
"""

from __future__ import annotations

import struct
from typing import Final

import attrs

from ._descriptor import WolletDescriptor
from ._errors import DecodeError, NetworkMismatch
from ._network import Network
from ._records import (
    History,
    RecordReader,
    blob,
    by_index,
    check_size,
    envelope,
    flag,
    hex32,
    open_envelope,
    optional_hash,
    write_history,
    write_tip,
)
from ._sealing import Sealer, unseal
from ._state import WolletState

__all__ = ["decode_state", "encode_state", "export_state", "import_state"]

VERSION: Final = 2
_READABLE: Final = (1, 2)  # version 1 files predate the genesis field
EXPORT_MAGIC: Final = b"LWKWSTAT"
SEALED_EXPORT_MAGIC: Final = b"LWKWSTEN"
EXPORT_VERSION: Final = 1


def encode_state(state: WolletState) -> bytes:
    """The bytes of `state` (ValueError if the state is inconsistent and cannot be stored)."""
    try:
        return _encode(state)
    except (KeyError, struct.error) as e:
        raise ValueError(f"cannot store an inconsistent wallet state ({type(e).__name__})") from e


def _encode(state: WolletState) -> bytes:
    tip = state.tip
    history = History(
        txs=state.txs,
        heights=state.heights,
        timestamps=state.timestamps,
        scripts=state.scripts,
        unblinded=state.unblinded,
        last_unused=state.last_unused,
    )
    return b"".join(
        [
            bytes([VERSION]),
            flag(tip is not None),
            b"" if tip is None else write_tip(tip),
            optional_hash(state.genesis_hash),
            write_history(history, by_index),
        ]
    )


def decode_state(data: bytes, descriptor: WolletDescriptor, network: Network) -> WolletState:
    """The WolletState encoded in `data` for this wallet; DecodeError if it is malformed."""
    r = RecordReader(bytes(data))
    version = r.byte()
    if version not in _READABLE:
        raise DecodeError(f"unknown wallet state encoding version {version}")
    tip = r.tip() if r.flag() else None
    # Absent (version 1, or a regtest wallet not pinned yet): the network's, if it has one.
    genesis = r.optional_hash() if version > 1 else None
    history = r.history(by_index)
    r.end("wallet state")
    state = WolletState(
        descriptor=descriptor, network=network, tip=tip, **attrs.asdict(history, recurse=False)
    )
    if genesis is None:
        return state
    try:
        return attrs.evolve(state, genesis_hash=genesis)
    except NetworkMismatch as exc:
        raise DecodeError(f"the wallet state's chain is not its network's: {exc}") from None


def export_state(state: WolletState, *, encrypted: bool) -> bytes:
    """The public serialization of `state`, sealed under its descriptor if `encrypted`."""
    records = [blob(state.network.value.encode()), hex32(state.descriptor.wallet_id)]
    plain = envelope(EXPORT_MAGIC, EXPORT_VERSION, b"".join([*records, encode_state(state)]))
    if not encrypted:
        return plain
    return Sealer(state.descriptor).seal(SEALED_EXPORT_MAGIC, EXPORT_VERSION, plain)


def import_state(
    data: bytes, descriptor: WolletDescriptor, network: Network, *, encrypted: bool
) -> WolletState:
    """The state `export_state` serialized, for this wallet and network only; DecodeError
    if `data` is anything else."""
    if encrypted:
        data = check_size(data, "wallet state")
        data = unseal(Sealer(descriptor), data, SEALED_EXPORT_MAGIC, EXPORT_VERSION, "wallet state")
    r = open_envelope(data, EXPORT_MAGIC, EXPORT_VERSION, "wallet state", SEALED_EXPORT_MAGIC)
    if r.blob() != network.value.encode():
        raise DecodeError(f"the serialized wallet state is not of a {network.value} wallet")
    if r.hash32() != descriptor.wallet_id:
        raise DecodeError("the serialized wallet state belongs to another wallet")
    return decode_state(r.data[r.pos :], descriptor, network)
