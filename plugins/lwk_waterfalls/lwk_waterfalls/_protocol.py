"""The Waterfalls protocol without I/O: what a request says and what an answer means.

Sources: the server's API (RCasatta/waterfalls `docs/API.md`; routes and limits in
`src/server/route.rs`: 20-script batches, 50 batches = 1,000 derivation indexes per page,
mempool entries at height 0) and its age encryption (`src/server/encryption.rs`: the
ciphertext in standard base64 without padding); the CBOR answers (`/v2|v4/waterfalls.cbor`)
as upstream's minicbor derive lays out `WaterfallResponse` and `TxSeen` (`src/lib.rs`,
`src/cbor.rs`): arrays by field index, hashes as 32 bytes in internal byte order, an
absent block hash as 32 zero bytes. LWK's client
(Blockstream/lwk `lwk_wollet/src/clients/asyncr/esplora.rs`) sends the descriptor without
its CT wrapper and key origins, keeps asking the next page while a chain filled the page,
and falls back to a script scan for ELIP-151 descriptors.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Final

import attrs
import cbor2
import pyrage

from lwk_core import DescriptorError, WolletDescriptor
from lwk_core.plugin import Chain, HistoryEntry

__all__ = [
    "ADDRESSES_KEY",
    "INDEXES_PER_PAGE",
    "Malformed",
    "Page",
    "bitcoin_descriptor",
    "chain_of_key",
    "descriptor_query",
    "encrypt",
    "is_elip151",
    "parse_page",
    "parse_recipient",
]

INDEXES_PER_PAGE: Final = 1_000  # route.rs: MAX_ADDRESSES = GAP_LIMIT (20) * MAX_BATCH (50)
ADDRESSES_KEY: Final = "addresses"  # the txs_seen key of an `addresses=` answer
_TXID: Final = re.compile(r"[0-9a-f]{64}")
_ORIGIN: Final = re.compile(r"\[[^\]]*\]")


class Malformed(ValueError):
    """An answer that does not follow the protocol (the backend raises it as a
    BackendProtocolError)."""


@attrs.frozen
class Page:
    """One answer of /v2 or /v4/waterfalls."""

    txs_seen: dict[str, list[list[HistoryEntry]]]
    page: int
    has_more: tuple[str, ...]
    tip_hash: str | None
    tip_height: int | None  # v4 only


def _split_ct(text: str) -> tuple[str, str]:
    """`ct(<blinding>,<inner>)#checksum` -> (blinding, inner), at the top-level comma."""
    body = text.split("#", 1)[0]
    if not (body.startswith("ct(") and body.endswith(")")):
        raise DescriptorError("not a CT descriptor")
    depth = 0
    for pos, ch in enumerate(body[3:-1], start=3):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            return body[3:pos], body[pos + 1 : -1]
    raise DescriptorError("ct() without a descriptor")


def bitcoin_descriptor(descriptor: WolletDescriptor) -> str:
    """What LWK sends: the descriptor inside `ct(...)`, without key origins (the blinding
    key never leaves the wallet)."""
    return _ORIGIN.sub("", _split_ct(str(descriptor))[1])


def is_elip151(descriptor: WolletDescriptor) -> bool:
    """Whether the blinding key is the ELIP-151 one derived from the descriptor itself."""
    if not descriptor.has_wildcard:
        return False
    inner = _split_ct(str(descriptor))[1]
    return WolletDescriptor(f"ct(elip151,{inner})") == descriptor


def encrypt(plaintext: str, recipient: pyrage.x25519.Recipient) -> str:
    """age-encrypt to the server's recipient, base64 without padding (encryption.rs)."""
    sealed = pyrage.encrypt(plaintext.encode(), [recipient])
    return base64.b64encode(sealed).decode("ascii").rstrip("=")


def parse_recipient(body: bytes) -> pyrage.x25519.Recipient:
    """The answer of /v1/server_recipient: an age X25519 recipient (`age1...`)."""
    try:
        return pyrage.x25519.Recipient.from_str(body.decode("ascii").strip())
    except (UnicodeDecodeError, pyrage.RecipientError, ValueError) as exc:
        raise Malformed("the server recipient is not an age X25519 public key") from exc


def descriptor_query(encrypted: str, page: int, to_index: int, utxo_only: bool) -> dict[str, str]:
    return {
        "descriptor": encrypted,
        "page": str(page),
        "to_index": str(to_index),
        "utxo_only": str(utxo_only).lower(),
    }


def chain_of_key(key: str, chains: tuple[Chain, ...]) -> Chain:
    """The chain of a txs_seen key: the server splits a `<0;1>` descriptor into its
    `/0/*` (external) and `/1/*` (internal) single descriptors."""
    if len(chains) == 1:
        return chains[0]
    body = key.split("#", 1)[0]
    if "/0/*" in body and "/1/*" not in body:
        return Chain.EXTERNAL
    if "/1/*" in body and "/0/*" not in body:
        return Chain.INTERNAL
    raise Malformed("a txs_seen key names no chain of the wallet")


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise Malformed(f"{what} is not a 32-bit unsigned integer")
    return value


def _entry(item: object) -> HistoryEntry:
    if not isinstance(item, dict):
        raise Malformed("a history entry is not an object")
    txid = item.get("txid")
    if not (isinstance(txid, str) and _TXID.fullmatch(txid)):
        raise Malformed("a history entry has no valid txid")
    height = item.get("height")
    if isinstance(height, int) and not isinstance(height, bool) and height <= 0:
        return HistoryEntry(txid, None)  # mempool: 0 (or -1 for unconfirmed parents)
    height = _int(height, "a history height")
    time = item.get("block_timestamp")
    return HistoryEntry(txid, height, None if time is None else _int(time, "a block timestamp"))


def _histories(value: object) -> list[list[HistoryEntry]]:
    if not isinstance(value, list) or not all(isinstance(h, list) for h in value):
        raise Malformed("txs_seen holds no list of histories")
    return [_distinct([_entry(item) for item in history]) for history in value]


def _distinct(entries: list[HistoryEntry]) -> list[HistoryEntry]:
    """One entry per tx: a `utxo_only` answer lists each output apart (`v` = vout + 1, in
    RCasatta/waterfalls `src/lib.rs` TxSeen), so a tx paying a script twice comes twice."""
    first: dict[str, HistoryEntry] = {}
    for entry in entries:
        first.setdefault(entry.txid, entry)
    return list(first.values())


def _tip(data: dict[str, Any]) -> tuple[str | None, int | None]:
    if "tip_meta" in data:  # v4: {"b": hash, "t": time, "h": height}
        meta = data["tip_meta"]
        if not isinstance(meta, dict):
            raise Malformed("tip_meta is not an object")
        tip_hash, height = meta.get("b"), _int(meta.get("h"), "tip_meta.h")
    else:
        tip_hash, height = data.get("tip"), None
    if tip_hash is not None and not (isinstance(tip_hash, str) and _TXID.fullmatch(tip_hash)):
        raise Malformed("the tip is not a block hash")
    return tip_hash, height


_NO_HASH: Final = bytes(32)


def _cbor_hash(value: object, what: str) -> str | None:
    """A 32-byte hash in internal order as display hex; zeros are none (src/cbor.rs)."""
    if not isinstance(value, bytes) or len(value) != 32:
        raise Malformed(f"{what} is not 32 bytes")
    return None if value == _NO_HASH else value[::-1].hex()


def _cbor_entry(item: object) -> dict[str, object]:
    """[txid, height, block hash, block time, v] (TxSeen) as its JSON object."""
    if not isinstance(item, list) or not 2 <= len(item) <= 5:
        raise Malformed("a CBOR history entry is not a TxSeen array")
    txid, height, *rest = item
    time = rest[1] if len(rest) > 1 else None
    return {"txid": _cbor_hash(txid, "a txid"), "height": height, "block_timestamp": time}


def _from_cbor(body: bytes) -> dict[str, Any]:
    """A CBOR answer as the JSON answer it stands for. The fifth element, `has_more`,
    is lwk_regtest's (upstream's CBOR has no such field)."""
    try:
        fields = cbor2.loads(body)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise Malformed("the answer is not CBOR") from exc
    if not isinstance(fields, list) or not 2 <= len(fields) <= 5:
        raise Malformed("the CBOR answer is not a WaterfallResponse array")
    seen, page, tip, meta, has_more = fields + [None] * (5 - len(fields))
    if not isinstance(seen, dict) or not all(isinstance(v, list) for v in seen.values()):
        raise Malformed("the answer has no txs_seen map")
    data: dict[str, Any] = {
        "txs_seen": {
            key: [[_cbor_entry(e) for e in h] if isinstance(h, list) else h for h in histories]
            for key, histories in seen.items()
        },
        "page": page,
        "has_more": has_more,
    }
    if tip is not None:
        data["tip"] = _cbor_hash(tip, "the tip")
    if meta is not None:
        if not isinstance(meta, list) or len(meta) != 3:
            raise Malformed("tip_meta is not [b, t, h]")
        data["tip_meta"] = {"b": _cbor_hash(meta[0], "tip_meta.b"), "t": meta[1], "h": meta[2]}
    return data


def parse_page(body: bytes, *, page: int, cbor: bool = False) -> Page:
    """Parse a JSON (or CBOR) answer and check it is the page asked for."""
    if cbor:
        data = _from_cbor(body)
    else:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise Malformed("the answer is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("txs_seen"), dict):
        raise Malformed("the answer has no txs_seen object")
    if data.get("page", 0) != page:
        raise Malformed(f"asked page {page}, the answer is another page")
    has_more = data.get("has_more") or []
    if not isinstance(has_more, list) or not all(isinstance(a, str) for a in has_more):
        raise Malformed("has_more is not a list of addresses")
    seen = {str(key): _histories(value) for key, value in data["txs_seen"].items()}
    tip_hash, tip_height = _tip(data)
    return Page(seen, page, tuple(has_more), tip_hash, tip_height)
