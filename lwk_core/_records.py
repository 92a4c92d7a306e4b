"""The binary records a wallet's history is made of, shared by the encodings of the wallet
state (`_state_codec`) and of an Update (`_update`).

Integers are little-endian; a blob is u32 length + bytes; hashes, txids, asset ids and
blinders are the 32 bytes their display hex spells. A record names a transaction through
a `TxRef`: the state `by_index` in the block's transaction list, an Update `by_txid` (an
Update may name transactions the wallet already has). Every map keeps its iteration
order, so what is decoded lists things in the order they were encoded.

    tip          u32 height, 32 hash, u64 timestamp, blob header
    txids        u32 n; n x 32 txid (a set, sorted)
    history      the block both hold:
      txs          u32 n; n x blob (raw transaction)
      heights      u32 n; n x (tx ref, u8 confirmed, [u32 height if confirmed])
      timestamps   u32 n; n x (u32 height, u64 time)
      scripts      u32 n; n x (u8 chain, u32 index, blob script_pubkey)
      unblinded    u32 n; n x (tx ref, u32 vout, 32 asset, u64 value, 32 asset_bf, 32 value_bf)
      last_unused  u32 n; n x (u8 chain, u32 index)

A public serialization is an envelope around records, its integrity checked before they
are read (a bit flipped in storage is an error, never another valid-looking value):

    magic | u8 version | records | 32-byte SHA-256 of everything before it

Decoding bounds every count by the bytes left before allocating anything (a hostile blob
cannot make the decoder allocate more than its own size allows), re-parses every
transaction and checks every index, enum and duplicate: anything off raises DecodeError.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from typing import Final

import attrs

from ._errors import DecodeError, InvalidArgument
from ._hashes import sha256
from ._network import Chain
from ._reader import U32, Reader
from ._transaction import Transaction
from ._types import OutPoint, Tip, TxOutSecrets

__all__ = [
    "MAX_ENCODED_SIZE",
    "History",
    "RecordReader",
    "TxRef",
    "blob",
    "by_index",
    "by_txid",
    "check_size",
    "envelope",
    "flag",
    "hex32",
    "open_envelope",
    "optional_hash",
    "write_history",
    "write_tip",
    "write_txids",
]

MAX_ENCODED_SIZE: Final = 256 * 1024 * 1024
"""Largest serialized Update or wallet state decoded (as the store's largest state file):
the decoder allocates in proportion to its input, and refuses more before reading it."""
_U64 = struct.Struct("<Q")
_TIMESTAMP = struct.Struct("<IQ")
_PATH = struct.Struct("<BI")
_SECRETS = 32 + 8 + 32 + 32


def check_size(data: bytes, what: str) -> bytes:
    """`data` as bytes, if it is bytes-like and at most MAX_ENCODED_SIZE long."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidArgument(f"a serialized {what} is bytes, not {type(data).__name__}")
    size = memoryview(data).nbytes
    if size > MAX_ENCODED_SIZE:
        raise DecodeError(
            f"the serialized {what} has {size} bytes, over the {MAX_ENCODED_SIZE} byte limit"
        )
    return bytes(data)


def envelope(magic: bytes, version: int, records: bytes) -> bytes:
    head = magic + bytes([version]) + records
    return head + sha256(head)


def open_envelope(
    data: bytes, magic: bytes, version: int, what: str, sealed_magic: bytes
) -> RecordReader:
    """A reader over the records of an `envelope`; DecodeError if `data` is not one of this
    `magic` and `version` (one of `sealed_magic` is the same, encrypted), is over
    MAX_ENCODED_SIZE, or fails its checksum."""
    data = check_size(data, what)
    if not data.startswith(magic):
        hint = " (an encrypted one: decrypt it with the wallet's descriptor)"
        raise DecodeError(f"not a serialized {what}{hint if data.startswith(sealed_magic) else ''}")
    body = len(magic) + 1
    if len(data) < body + 32:
        raise DecodeError(f"the serialized {what} is truncated")
    if data[len(magic)] != version:
        raise DecodeError(
            f"serialized {what} of format version {data[len(magic)]}; this lwk-core reads {version}"
        )
    if sha256(memoryview(data)[:-32]) != data[-32:]:
        raise DecodeError(f"the serialized {what} is truncated or altered (checksum mismatch)")
    return RecordReader(data[:-32], body)


def hex32(text: str) -> bytes:
    """The 32 bytes of a lowercase 64-digit hex string (ValueError otherwise: it would not
    round-trip to the same text)."""
    raw = bytes.fromhex(text)
    if len(raw) != 32 or raw.hex() != text:
        raise ValueError("a hash that is not 64 lowercase hex digits cannot be encoded")
    return raw


def blob(data: bytes) -> bytes:
    return U32.pack(len(data)) + data


def flag(value: bool) -> bytes:
    return b"\x01" if value else b"\x00"


def optional_hash(value: str | None) -> bytes:
    return b"\x00" if value is None else b"\x01" + hex32(value)


@attrs.frozen
class History:
    """What a wallet state and an Update both hold, encoded as one block of records:
    txs, heights, timestamps, scripts, unblinded, last_unused (in this order)."""

    txs: Mapping[str, Transaction]
    heights: Mapping[str, int | None]
    timestamps: Mapping[int, int]
    scripts: Mapping[bytes, tuple[Chain, int]]
    unblinded: Mapping[OutPoint, TxOutSecrets]
    last_unused: Mapping[Chain, int]


@attrs.frozen
class TxRef:
    """How a record names a transaction: `size` bytes written by `write`, read by `read`."""

    size: int
    write: Callable[[str], bytes]
    read: Callable[[RecordReader], str]


class RecordReader(Reader):
    """The transaction parser's bounds-checked cursor, with these records' fields."""

    __slots__ = ()

    def u64(self) -> int:
        return int(_U64.unpack(self.read(8))[0])

    def count(self, min_item: int) -> int:
        """A u32 record count, refused if the bytes left cannot hold that many records."""
        return self.bounded(self.u32(), min_item)

    def blob(self) -> bytes:
        return self.read(self.u32())

    def flag(self) -> bool:
        value = self.byte()
        if value > 1:
            raise DecodeError(f"invalid flag byte {value} at offset {self.pos - 1}")
        return value == 1

    def hash32(self) -> str:
        return self.read(32).hex()

    def optional_hash(self) -> str | None:
        return self.hash32() if self.flag() else None

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

    def tip(self) -> Tip:
        height = self.u32()
        block_hash = self.hash32()
        return Tip(height=height, hash=block_hash, timestamp=self.u64(), header=self.blob())

    def txs(self) -> dict[str, Transaction]:
        n = self.count(4)
        txs: dict[str, Transaction] = {}
        for _ in range(n):
            tx = Transaction.from_bytes(self.blob())
            txs[tx.txid] = tx
        _unique(n, txs, "transaction")
        return txs

    def heights(self, ref: TxRef) -> dict[str, int | None]:
        n = self.count(ref.size + 1)
        heights: dict[str, int | None] = {}
        for _ in range(n):
            txid = ref.read(self)
            heights[txid] = self.u32() if self.flag() else None
        _unique(n, heights, "transaction height")
        return heights

    def timestamps(self) -> dict[int, int]:
        n = self.count(_TIMESTAMP.size)
        timestamps = dict(_TIMESTAMP.unpack(self.read(_TIMESTAMP.size)) for _ in range(n))
        _unique(n, timestamps, "block timestamp")
        return timestamps

    def scripts(self) -> dict[bytes, tuple[Chain, int]]:
        n = self.count(_PATH.size + 4)
        scripts: dict[bytes, tuple[Chain, int]] = {}
        for _ in range(n):
            chain = self.chain()
            path = (chain, self.u32())
            scripts[self.blob()] = path
        _unique(n, scripts, "script")
        return scripts

    def unblinded(self, ref: TxRef, txs: Mapping[str, Transaction]) -> dict[OutPoint, TxOutSecrets]:
        """The unblinded outputs; one of a transaction in `txs` must exist in it."""
        n = self.count(ref.size + 4 + _SECRETS)
        unblinded: dict[OutPoint, TxOutSecrets] = {}
        for _ in range(n):
            txid = ref.read(self)
            vout = self.u32()
            tx = txs.get(txid)
            if tx is not None and vout >= len(tx.outputs):
                raise DecodeError(f"unblinded output {txid}:{vout} does not exist")
            asset = self.hash32()
            value = self.u64()
            asset_bf = self.hash32()
            unblinded[OutPoint(txid, vout)] = TxOutSecrets(asset, value, asset_bf, self.hash32())
        _unique(n, unblinded, "unblinded output")
        return unblinded

    def txids(self) -> frozenset[str]:
        n = self.count(32)
        txids = frozenset(self.hash32() for _ in range(n))
        _unique(n, txids, "txid")
        return txids

    def last_unused(self) -> dict[Chain, int]:
        n = self.count(_PATH.size)
        last_unused: dict[Chain, int] = {}
        for _ in range(n):
            chain = self.chain()
            last_unused[chain] = self.u32()
        _unique(n, last_unused, "chain")
        return last_unused

    def history(self, ref_of: Callable[[list[str]], TxRef]) -> History:
        """A history block, whose records name transactions by `ref_of(txids of txs)`."""
        txs = self.txs()
        ref = ref_of(list(txs))
        return History(
            txs=txs,
            heights=self.heights(ref),
            timestamps=self.timestamps(),
            scripts=self.scripts(),
            unblinded=self.unblinded(ref, txs),
            last_unused=self.last_unused(),
        )

    def end(self, what: str) -> None:
        if self.remaining():
            raise DecodeError(f"{self.remaining()} trailing bytes after the {what}")


def _unique(count: int, decoded: Sized, what: str) -> None:
    if len(decoded) != count:
        raise DecodeError(f"duplicate {what}")


_TXID: Final = TxRef(32, hex32, RecordReader.hash32)


def by_txid(txids: Sequence[str]) -> TxRef:
    """Transactions named by their txid (whatever the block's own transactions are)."""
    return _TXID


def by_index(txids: Sequence[str]) -> TxRef:
    """Transactions named by their index (u32) in `txids`, the block's own transactions."""
    listed = list(txids)
    index = {txid: n for n, txid in enumerate(listed)}
    return TxRef(4, lambda txid: U32.pack(index[txid]), lambda r: r.tx_index(listed))


def write_tip(tip: Tip) -> bytes:
    return U32.pack(tip.height) + hex32(tip.hash) + _U64.pack(tip.timestamp) + blob(tip.header)


def write_history(history: History, ref_of: Callable[[list[str]], TxRef]) -> bytes:
    """The block `RecordReader.history(ref_of)` reads."""
    for txid, tx in history.txs.items():
        if tx.txid != txid:
            raise ValueError("a transaction cannot be encoded under another txid")
    ref = ref_of(list(history.txs))
    return b"".join(
        [
            _write_txs(history.txs.values()),
            _write_heights(history.heights, ref),
            _write_timestamps(history.timestamps),
            _write_scripts(history.scripts),
            _write_unblinded(history.unblinded, ref),
            _write_last_unused(history.last_unused),
        ]
    )


def _write_txs(txs: Iterable[Transaction]) -> bytes:
    txs = list(txs)
    return U32.pack(len(txs)) + b"".join(blob(tx.to_bytes()) for tx in txs)


def _write_heights(heights: Mapping[str, int | None], ref: TxRef) -> bytes:
    out = [U32.pack(len(heights))]
    for txid, height in heights.items():
        out += [ref.write(txid), b"\x00" if height is None else b"\x01" + U32.pack(height)]
    return b"".join(out)


def write_txids(txids: Iterable[str]) -> bytes:
    """A set of txids, sorted: the same set always encodes to the same bytes."""
    ordered = sorted(txids)
    return U32.pack(len(ordered)) + b"".join(hex32(txid) for txid in ordered)


def _write_timestamps(timestamps: Mapping[int, int]) -> bytes:
    records = [_TIMESTAMP.pack(height, time) for height, time in timestamps.items()]
    return U32.pack(len(records)) + b"".join(records)


def _write_scripts(scripts: Mapping[bytes, tuple[Chain, int]]) -> bytes:
    out = [U32.pack(len(scripts))]
    for script, (chain, n) in scripts.items():
        out += [_PATH.pack(chain.value, n), blob(script)]
    return b"".join(out)


def _write_unblinded(unblinded: Mapping[OutPoint, TxOutSecrets], ref: TxRef) -> bytes:
    out = [U32.pack(len(unblinded))]
    for outpoint, secrets in unblinded.items():
        out += [
            ref.write(outpoint.txid),
            U32.pack(outpoint.vout),
            hex32(secrets.asset),
            _U64.pack(secrets.value),
            hex32(secrets.asset_bf),
            hex32(secrets.value_bf),
        ]
    return b"".join(out)


def _write_last_unused(last_unused: Mapping[Chain, int]) -> bytes:
    records = [_PATH.pack(chain.value, n) for chain, n in last_unused.items()]
    return U32.pack(len(records)) + b"".join(records)
