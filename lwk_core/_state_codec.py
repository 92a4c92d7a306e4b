"""A compact, versioned binary encoding of a WolletState (what the wallet store encrypts).

Layout (integers little-endian; `tx#` is an index into the transaction list; every map keeps
its iteration order so a decoded state lists things in the same order):

    u8 version (2; version 1, without the genesis field, is still read)
    tip          u8 present; if 1: u32 height, 32 hash, u64 timestamp, u32 len + header
    genesis      u8 present; if 1: 32 hash (the chain the wallet follows; version 2 on)
    txs          u32 n; n x (u32 len + raw transaction bytes)
    heights      u32 n; n x (u32 tx#, u8 confirmed, [u32 height if confirmed])
    timestamps   u32 n; n x (u32 height, u64 time)
    scripts      u32 n; n x (u8 chain, u32 index, u32 len + script_pubkey)
    unblinded    u32 n; n x (u32 tx#, u32 vout, 32 asset, u64 value, 32 asset_bf, 32 value_bf)
    last_unused  u32 n; n x (u8 chain, u32 index)

Hashes, asset ids and blinders are stored as the 32 bytes their display hex spells.
Decoding re-parses every transaction and checks every count, index, enum and duplicate:
anything off raises DecodeError.
"""

from __future__ import annotations

import struct
from collections.abc import Sized
from typing import Final

import attrs

from ._descriptor import WolletDescriptor
from ._errors import DecodeError, NetworkMismatch
from ._network import Chain, Network
from ._reader import Reader
from ._state import WolletState
from ._transaction import Transaction
from ._types import OutPoint, Tip, TxOutSecrets

__all__ = ["decode_state", "encode_state", "hex32"]

VERSION: Final = 2
_READABLE: Final = (1, 2)  # version 1 files predate the genesis field
_U8 = struct.Struct("<B")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_TIMESTAMP = struct.Struct("<IQ")
_PATH = struct.Struct("<BI")
_SECRET_HEAD = struct.Struct("<II")
# Smallest encoded record of each section, to bound a count before allocating anything.
_MIN_TX: Final = 4
_MIN_HEIGHT: Final = 5
_MIN_SCRIPT: Final = 9
_MIN_SECRET: Final = 8 + 32 + 8 + 32 + 32


def hex32(text: str) -> bytes:
    """The 32 bytes of a lowercase 64-digit hex string (refused otherwise: it would not
    round-trip to the same text)."""
    raw = bytes.fromhex(text)
    if len(raw) != 32 or raw.hex() != text:
        raise ValueError("cannot store a hash that is not 64 lowercase hex digits")
    return raw


def _blob(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


def encode_state(state: WolletState) -> bytes:
    """The bytes of `state` (ValueError if the state is inconsistent and cannot be stored)."""
    try:
        return _encode(state)
    except (KeyError, struct.error) as e:
        raise ValueError(f"cannot store an inconsistent wallet state ({type(e).__name__})") from e


def _encode(state: WolletState) -> bytes:
    out = [_U8.pack(VERSION)]
    tip = state.tip
    if tip is None:
        out.append(b"\x00")
    else:
        out += [
            b"\x01",
            _U32.pack(tip.height),
            hex32(tip.hash),
            _U64.pack(tip.timestamp),
            _blob(tip.header),
        ]
    genesis = state.genesis_hash
    out.append(b"\x00" if genesis is None else b"\x01" + hex32(genesis))
    index: dict[str, int] = {}
    out.append(_U32.pack(len(state.txs)))
    for n, (txid, tx) in enumerate(state.txs.items()):
        if tx.txid != txid:
            raise ValueError("cannot store a transaction under another txid")
        index[txid] = n
        out.append(_blob(tx.to_bytes()))
    out.append(_U32.pack(len(state.heights)))
    for txid, height in state.heights.items():
        out.append(_U32.pack(index[txid]))
        out.append(b"\x00" if height is None else b"\x01" + _U32.pack(height))
    out.append(_U32.pack(len(state.timestamps)))
    out += [_TIMESTAMP.pack(height, time) for height, time in state.timestamps.items()]
    out.append(_U32.pack(len(state.scripts)))
    for script, (chain, n) in state.scripts.items():
        out += [_PATH.pack(chain.value, n), _blob(script)]
    out.append(_U32.pack(len(state.unblinded)))
    for outpoint, secrets in state.unblinded.items():
        out += [
            _SECRET_HEAD.pack(index[outpoint.txid], outpoint.vout),
            hex32(secrets.asset),
            _U64.pack(secrets.value),
            hex32(secrets.asset_bf),
            hex32(secrets.value_bf),
        ]
    out.append(_U32.pack(len(state.last_unused)))
    out += [_PATH.pack(chain.value, n) for chain, n in state.last_unused.items()]
    return b"".join(out)


class _StateReader(Reader):
    """The transaction parser's bounds-checked cursor, with this format's fields."""

    __slots__ = ()

    def u64(self) -> int:
        return int(_U64.unpack(self.read(8))[0])

    def count(self, min_item: int) -> int:
        n = self.u32()
        if n * min_item > self.remaining():
            raise DecodeError(f"count {n} exceeds the {self.remaining()} bytes left")
        return n

    def blob(self) -> bytes:
        return self.read(self.u32())

    def flag(self) -> bool:
        value = self.byte()
        if value > 1:
            raise DecodeError(f"invalid flag byte {value} at offset {self.pos - 1}")
        return value == 1

    def chain(self) -> Chain:
        value = self.byte()
        try:
            return Chain(value)
        except ValueError:
            raise DecodeError(f"invalid chain {value} at offset {self.pos - 1}") from None

    def tx_index(self, txids: list[str]) -> str:
        n = self.u32()
        if n >= len(txids):
            raise DecodeError(f"transaction index {n} out of range at offset {self.pos - 4}")
        return txids[n]


def _unique(count: int, decoded: Sized, what: str) -> None:
    if len(decoded) != count:
        raise DecodeError(f"duplicate {what} in the wallet state")


def decode_state(data: bytes, descriptor: WolletDescriptor, network: Network) -> WolletState:
    """The WolletState encoded in `data` for this wallet; DecodeError if it is malformed."""
    r = _StateReader(bytes(data))
    version = r.byte()
    if version not in _READABLE:
        raise DecodeError(f"unknown wallet state encoding version {version}")
    tip = None
    if r.flag():
        height = r.u32()
        block_hash = r.read(32).hex()
        tip = Tip(height=height, hash=block_hash, timestamp=r.u64(), header=r.blob())
    # Absent (version 1, or a regtest wallet not pinned yet): the network's, if it has one.
    genesis = r.read(32).hex() if version > 1 and r.flag() else None

    n = r.count(_MIN_TX)
    txs: dict[str, Transaction] = {}
    for _ in range(n):
        tx = Transaction.from_bytes(r.blob())
        txs[tx.txid] = tx
    _unique(n, txs, "transaction")
    txids = list(txs)

    n = r.count(_MIN_HEIGHT)
    heights: dict[str, int | None] = {}
    for _ in range(n):
        txid = r.tx_index(txids)
        heights[txid] = r.u32() if r.flag() else None
    _unique(n, heights, "transaction height")

    n = r.count(_TIMESTAMP.size)
    timestamps = dict(_TIMESTAMP.unpack(r.read(_TIMESTAMP.size)) for _ in range(n))
    _unique(n, timestamps, "block timestamp")

    n = r.count(_MIN_SCRIPT)
    scripts: dict[bytes, tuple[Chain, int]] = {}
    for _ in range(n):
        chain = r.chain()
        path = (chain, r.u32())
        scripts[r.blob()] = path
    _unique(n, scripts, "script")

    n = r.count(_MIN_SECRET)
    unblinded: dict[OutPoint, TxOutSecrets] = {}
    for _ in range(n):
        txid = r.tx_index(txids)
        vout = r.u32()
        if vout >= len(txs[txid].outputs):
            raise DecodeError(f"unblinded output {txid}:{vout} does not exist")
        asset = r.read(32).hex()
        value = r.u64()
        asset_bf = r.read(32).hex()
        unblinded[OutPoint(txid, vout)] = TxOutSecrets(asset, value, asset_bf, r.read(32).hex())
    _unique(n, unblinded, "unblinded output")

    n = r.count(_PATH.size)
    last_unused: dict[Chain, int] = {}
    for _ in range(n):
        chain = r.chain()
        last_unused[chain] = r.u32()
    _unique(n, last_unused, "chain")

    if r.remaining():
        raise DecodeError(f"{r.remaining()} trailing bytes after the wallet state")
    state = WolletState(
        descriptor=descriptor,
        network=network,
        txs=txs,
        heights=heights,
        timestamps=timestamps,
        scripts=scripts,
        unblinded=unblinded,
        last_unused=last_unused,
        tip=tip,
    )
    if genesis is None:
        return state
    try:
        return attrs.evolve(state, genesis_hash=genesis)
    except NetworkMismatch as exc:
        raise DecodeError(f"the wallet state's chain is not its network's: {exc}") from None
