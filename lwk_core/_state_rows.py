"""A WolletState as items, one per transaction, height, block time, script and unblinded
output, for a store that saves only what changed (the SQLite store).

An item is `(kind, key, body)`: `key` names it within its kind (a txid, an outpoint, a
height, a script), `body` holds the key and the value, so that an item decodes without its
key. The tip, the genesis and the last used indexes are the head (`encode_head`), a state
snapshot without any item, in `_state_codec`'s format. Integers little-endian:

    TX         txid | raw transaction                   key: txid (32 bytes)
    HEIGHT     txid | u8 confirmed | [u32 height]       key: txid
    TIMESTAMP  u32 height | u64 time                    key: u32 height
    SCRIPT     u8 chain | u32 index | script_pubkey     key: script_pubkey
    SECRET     txid | u32 vout | 32 asset | u64 value | 32 asset_bf | 32 value_bf
                                                        key: txid | u32 vout

Hashes, asset ids and blinders are stored as the 32 bytes their display hex spells.
Transactions come back unparsed (`Transaction.stored`): a store authenticates its items, so
they are the ones this lwk-core saved, and loading a large wallet parses none of them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import compress, islice
from operator import is_, is_not
from typing import Any, Final

import attrs

from ._descriptor import WolletDescriptor
from ._errors import DecodeError
from ._network import Chain, Network
from ._reader import Reader
from ._records import hex32
from ._state import WolletState
from ._state_codec import decode_state, encode_state
from ._transaction import Transaction
from ._types import OutPoint, TxOutSecrets
from ._update import Update

__all__ = ["Item", "StateRows", "changed_items", "encode_head", "state_items"]

TX: Final = 1
HEIGHT: Final = 2
TIMESTAMP: Final = 3
SCRIPT: Final = 4
SECRET: Final = 5
_U32 = struct.Struct("<I")
_TIMESTAMP = struct.Struct("<IQ")
_PATH = struct.Struct("<BI")
_SECRET = struct.Struct("<32sI32sQ32s32s")

Item = tuple[int, bytes, bytes]
"""(kind, key, body)"""


def _height(txid: str, height: int | None) -> bytes:
    tail = b"\x00" if height is None else b"\x01" + _U32.pack(height)
    return hex32(txid) + tail


def _script(spk: bytes, path: tuple[Chain, int]) -> bytes:
    return _PATH.pack(path[0].value, path[1]) + spk


def _secret(outpoint: OutPoint, s: TxOutSecrets) -> bytes:
    txid = hex32(outpoint.txid)
    return _SECRET.pack(txid, outpoint.vout, hex32(s.asset), s.value, hex32(s.asset_bf),
                        hex32(s.value_bf))  # fmt: skip


@attrs.frozen
class _Part:
    """How one of the state's maps becomes items."""

    kind: int
    of: Callable[[WolletState], Mapping[Any, Any]]
    key: Callable[[Any], bytes]
    body: Callable[[Any, Any], bytes]


_PARTS: Final = (
    _Part(TX, lambda s: s.txs, hex32, lambda txid, tx: hex32(txid) + tx.to_bytes()),
    _Part(HEIGHT, lambda s: s.heights, hex32, _height),
    _Part(TIMESTAMP, lambda s: s.timestamps, _U32.pack, _TIMESTAMP.pack),
    _Part(SCRIPT, lambda s: s.scripts, bytes, _script),
    _Part(SECRET, lambda s: s.unblinded, lambda o: hex32(o.txid) + _U32.pack(o.vout), _secret),
)  # fmt: skip
_MISSING: Final = object()


def state_items(state: WolletState) -> Iterator[Item]:
    """Every item of `state`, each map in its order."""
    for part in _PARTS:
        for key, value in part.of(state).items():
            yield part.kind, part.key(key), part.body(key, value)


def changed_items(old: WolletState, new: WolletState) -> tuple[list[Item], list[Item]]:
    """What turns the items of `old` into those of `new`: the items added (new or changed)
    and the items removed (gone or changed, as `old` had them).

    When `new` is `old.applied(update)` (`made_from`), only the keys the update names are
    compared: a save of a small update to a large wallet costs in proportion to the update.
    Otherwise, as `applied` keeps each map's keys, as the same objects and in the same
    order, and appends the new ones, only the values not identical to the old ones and the
    appended keys are looked at (in C loops, no hashing); failing that (history deleted,
    or unrelated states) every key is compared.
    """
    added: list[Item] = []
    removed: list[Item] = []
    update = new.made_from(old)
    if update is not None:
        for part, keys in zip(_PARTS, _touched(update), strict=True):
            _compare_keys(part, part.of(old), part.of(new), keys, added, removed)
        return added, removed
    for part in _PARTS:
        old_map, new_map = part.of(old), part.of(new)
        n = len(old_map)
        if len(new_map) >= n and all(map(is_, old_map, islice(new_map, n))):
            not_same = map(is_not, old_map.values(), islice(new_map.values(), n))
            candidates = [(key, new_map[key]) for key in compress(old_map, not_same)]
            _compare(part, old_map, candidates, added, removed)
            added += [_item(part, key, value) for key, value in islice(new_map.items(), n, None)]
        else:
            new_keys = _compare(part, old_map, new_map.items(), added, removed)
            if len(old_map) > len(new_map) - new_keys:  # some keys of old are gone
                gone = old_map.keys() - new_map.keys()
                removed += [_item(part, key, old_map[key]) for key in gone]
    return added, removed


def _touched(update: Update) -> tuple[Iterable[Any], ...]:
    """The keys of each part (in `_PARTS`' order) that `update` may change: `applied` leaves
    every other key as it was."""
    heights = [*update.txid_height_delete, *update.txid_height_new]
    txs = [tx.txid for tx in update.new_txs]
    return txs, heights, update.timestamps, update.scripts, update.unblinded


def _compare_keys(
    part: _Part,
    old_map: Mapping[Any, Any],
    new_map: Mapping[Any, Any],
    keys: Iterable[Any],
    added: list[Item],
    removed: list[Item],
) -> None:
    """Add to `added` and `removed` the items of `keys` that differ between the maps."""
    for key in dict.fromkeys(keys):
        before, after = old_map.get(key, _MISSING), new_map.get(key, _MISSING)
        if before is after or before == after:
            continue
        if before is not _MISSING:
            removed.append(_item(part, key, before))
        if after is not _MISSING:
            added.append(_item(part, key, after))


def _item(part: _Part, key: Any, value: Any) -> Item:
    return part.kind, part.key(key), part.body(key, value)


def _compare(
    part: _Part,
    old_map: Mapping[Any, Any],
    pairs: Iterable[tuple[Any, Any]],
    added: list[Item],
    removed: list[Item],
) -> int:
    """Add to `added` and `removed` the items of `pairs` that `old_map` lacks or differs on;
    how many keys it lacks."""
    missing = 0
    for key, value in pairs:
        before = old_map.get(key, _MISSING)
        if before is value or before == value:
            continue
        if before is _MISSING:
            missing += 1
        else:
            removed.append(_item(part, key, before))
        added.append(_item(part, key, value))
    return missing


def encode_head(state: WolletState, trailer: bytes) -> bytes:
    """The head of `state` (tip, genesis, last used indexes) followed by `trailer` (what the
    store keeps with it)."""
    skeleton = attrs.evolve(state, txs={}, heights={}, timestamps={}, scripts={}, unblinded={})
    head = encode_state(skeleton)
    return _U32.pack(len(head)) + head + trailer


class StateRows:
    """Rebuilds a WolletState from its head and items (DecodeError if anything is off)."""

    def __init__(self, head: bytes, descriptor: WolletDescriptor, network: Network) -> None:
        r = Reader(head)
        self._skeleton = decode_state(r.read(r.u32()), descriptor, network)
        self.trailer = head[r.pos :]
        self._txs: dict[str, Transaction] = {}
        self._heights: dict[str, int | None] = {}
        self._timestamps: dict[int, int] = {}
        self._scripts: dict[bytes, tuple[Chain, int]] = {}
        self._unblinded: dict[OutPoint, TxOutSecrets] = {}

    def add(self, kind: int, body: bytes) -> None:
        try:
            self._add(kind, body)
        except (struct.error, ValueError) as e:  # not DecodeError (a ValueError too): reworded
            if isinstance(e, DecodeError):
                raise
            raise DecodeError(f"malformed wallet state item of kind {kind}") from e

    def _add(self, kind: int, body: bytes) -> None:
        if kind == TX:
            if len(body) <= 32:
                raise DecodeError("malformed transaction in the wallet state")
            txid = body[:32].hex()
            self._txs[txid] = Transaction.stored(body[32:], txid)
        elif kind == HEIGHT:
            txid, flag, rest = body[:32].hex(), body[32:33], body[33:]
            if len(txid) != 64 or flag not in (b"\x00", b"\x01") or len(rest) != 4 * flag[0]:
                raise DecodeError("malformed transaction height in the wallet state")
            self._heights[txid] = _U32.unpack(rest)[0] if rest else None
        elif kind == TIMESTAMP:
            height, time = _TIMESTAMP.unpack(body)
            self._timestamps[height] = time
        elif kind == SCRIPT:
            chain, index = _PATH.unpack(body[: _PATH.size])
            self._scripts[body[_PATH.size :]] = (Chain(chain), index)
        elif kind == SECRET:
            txid, vout, asset, value, asset_bf, value_bf = _SECRET.unpack(body)
            secrets = TxOutSecrets(asset.hex(), value, asset_bf.hex(), value_bf.hex())
            self._unblinded[OutPoint(txid.hex(), vout)] = secrets
        else:
            raise DecodeError(f"unknown wallet state item kind {kind}")

    def state(self) -> WolletState:
        """The state; DecodeError if an item refers to a transaction it does not have."""
        txs = self._txs
        if any(txid not in txs for txid in self._heights):
            raise DecodeError("a transaction height refers to a missing transaction")
        if any(outpoint.txid not in txs for outpoint in self._unblinded):
            raise DecodeError("an unblinded output refers to a missing transaction")
        return attrs.evolve(
            self._skeleton,
            txs=txs,
            heights=self._heights,
            timestamps=self._timestamps,
            scripts=self._scripts,
            unblinded=self._unblinded,
        )
