"""A Waterfalls server over a RegtestChain: the Esplora routes plus the Waterfalls ones.

Follows RCasatta/waterfalls (`docs/API.md`; `src/server/route.rs`, `src/server/encryption.rs`):

- `GET /v1/server_recipient`: the server's age X25519 recipient (`age1...`).
- `GET /v1|v2|v4/waterfalls?descriptor=D&page=P&to_index=I` (`D` plain, or age-encrypted to
  the recipient in standard base64 without padding; one it cannot decrypt is a 422): per
  single descriptor of `D` (`<0;1>` split into `/0/*` and `/1/*`), 20-script batches from
  index P * 1,000, at most 50 batches, stopping after a batch without history once the
  batch reaches `to_index`. v2 adds `tip` (hash), v4 `tip_meta` ({b, t, h}) instead.
- `...?addresses=a,b,...&page=P`: at most 1,000 unconfidential addresses; `page > 0` only
  for one address.
- Each script's confirmed history is cut at 100 entries (oldest first); `has_more` lists the
  addresses cut, whose next entries `addresses=<one>&page=n` gives. Mempool entries (height
  0) come on page 0 only.
- `utxo_only=true` (either request): the entries left are the script's outputs, one per
  output with `v` = vout + 1, that no confirmed transaction spends, and every output of a
  mempool transaction (route.rs `filter_utxo_only`: the confirmed UTXO set, plus mempool
  outputs kept even when a mempool tx spends them; `v` as `src/lib.rs` TxSeen); inputs are
  left out, so a transaction that only spends is not listed. Truncation counts the history
  before this filter.
- `/v1|v2|v4/waterfalls.cbor`: the same answers in CBOR, laid out as upstream's minicbor
  derive lays out `WaterfallResponse` (`src/lib.rs`, `src/cbor.rs`): an array [txs_seen,
  page, tip, tip_meta], trailing absent fields left out, tip as 32 bytes (zeros: none),
  tip_meta [b, t, h]; each entry [txid, height, block hash (zeros: none), block time or
  null, v]; hashes in internal byte order (reversed display hex). `has_more` has no CBOR
  field upstream: here it follows as a fifth element, a list of addresses, when not empty.

- `GET /v1/subscribe?descriptor=D`: Server-Sent Events for a descriptor scanned before
  (`_waterfalls_subscribe`).

Every other route is the Esplora server's (txs, headers, tip, broadcast), and its faults
apply to all routes alike.
"""

from __future__ import annotations

import base64
import binascii
import collections
import threading
import urllib.parse
from collections import OrderedDict
from typing import Any, Final

import cbor2
import pyrage

from lwk_core import Chain, DecodeError, DescriptorError, Network, Transaction, WolletDescriptor
from lwk_core.primitives import address_to_script, descriptor_checksum, script_to_address

from ._auth import TokenIssuer
from ._esplora_query import ChainView
from ._esplora_reply import HttpError, Reply, cache_control, json_reply, text_reply
from ._esplora_router import Handler, Router
from ._esplora_server import EsploraServer
from ._faults import Faults
from ._waterfalls_subscribe import events

__all__ = ["GAP_LIMIT", "MAX_ADDRESSES", "MAX_BATCHES", "MAX_TXS_SEEN", "WaterfallsServer"]

GAP_LIMIT: Final = 20
MAX_BATCHES: Final = 50
MAX_ADDRESSES: Final = GAP_LIMIT * MAX_BATCHES  # indexes per descriptor page, addresses per request
MAX_TXS_SEEN: Final = 100  # confirmed entries per script and page
_AGE_MAGIC: Final = b"age-encryption.org/v1"
# Scripts do not depend on the blinding key: any valid one lets core derive them.
_ANY_BLINDING_KEY: Final = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
_CACHED_DESCRIPTORS: Final = 64
_ROUTES: Final = {"/v1/waterfalls": 1, "/v2/waterfalls": 2, "/v4/waterfalls": 4}
_NO_HASH: Final = bytes(32)  # src/cbor.rs: an absent block hash is 32 zero bytes


class _Derived:
    """A descriptor's single descriptors and their scripts derived so far."""

    def __init__(self, descriptor: WolletDescriptor, text: str) -> None:
        self.descriptor = descriptor
        multipath = len(descriptor.chains) == 2
        self.keys = {
            chain: _single(text.replace("<0;1>", str(int(chain))) if multipath else text)
            for chain in descriptor.chains
        }
        self._scripts: dict[Chain, list[bytes]] = {c: [] for c in descriptor.chains}

    def scripts(self, chain: Chain, start: int, count: int) -> list[bytes]:
        known = self._scripts[chain]
        if len(known) < start + count:
            known += self.descriptor.script_pubkeys(chain, len(known), start + count - len(known))
        return known[start : start + count]


def _single(text: str) -> str:
    return f"{text}#{descriptor_checksum(text)}"


class _WaterfallsRouter(Router):
    def __init__(self, chain: ChainView, server: WaterfallsServer) -> None:
        super().__init__(chain)
        self._chain = chain
        self._server = server
        self._derived: OrderedDict[str, _Derived] = OrderedDict()
        # the highest used index per chain the scans of each descriptor found (subscribe)
        self._used: OrderedDict[str, dict[Chain, int | None]] = OrderedDict()

    def match(self, method: str, path: str, params: str, body: bytes) -> tuple[str, Handler]:
        if method == "GET" and path == "/v1/server_recipient":
            return "GET /v1/server_recipient", lambda fault: text_reply(self._server.recipient, 5)
        if method == "GET" and path == "/v1/subscribe":
            return "GET /v1/subscribe", lambda fault: self._subscribe(params)
        cbor = path.endswith(".cbor")
        version = _ROUTES.get(path.removesuffix(".cbor"))
        if method == "GET" and version is not None:
            return f"GET {path}", lambda fault: self._waterfalls(params, version, cbor)
        return super().match(method, path, params, body)

    # -- request parsing -------------------------------------------------------------------

    def _waterfalls(self, params: str, version: int, cbor: bool) -> Reply:
        query = dict(urllib.parse.parse_qsl(params, keep_blank_values=True))
        page = _number(query.get("page"))
        utxo_only = query.get("utxo_only") == "true"  # route.rs: anything else is false
        descriptor, addresses = query.get("descriptor"), query.get("addresses")
        if descriptor is not None and addresses is not None:
            raise HttpError(400, "CannotSpecifyBothDescriptorAndAddresses")
        if descriptor is not None:
            to_index = _number(query.get("to_index"))
            seen, cut = self._descriptor(descriptor, page, to_index, utxo_only)
        elif addresses is not None:
            seen, cut = self._addresses(addresses, page, utxo_only)
        else:
            raise HttpError(400, "AtLeastOneFieldMandatory")
        answer: dict[str, Any] = {"txs_seen": seen, "page": page}
        if cut:
            answer["has_more"] = cut
        chain = self._chain
        if version == 2:
            answer["tip"] = chain.tip_hash()
        elif version == 4:
            height = chain.tip_height()
            answer["tip_meta"] = {"b": chain.tip_hash(), "t": chain.block_time(height), "h": height}
        if cbor:
            return Reply(200, _cbor(answer), "application/cbor", cache_control(5))
        return json_reply(answer, 5)

    def _plain_descriptor(self, value: str) -> str:
        try:
            sealed = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        except (binascii.Error, ValueError):
            return value
        if not sealed.startswith(_AGE_MAGIC):
            return value
        try:
            plain: str = pyrage.decrypt(sealed, [self._server.identity]).decode()
        except (pyrage.DecryptError, UnicodeDecodeError):
            raise HttpError(422, "CannotDecrypt") from None
        return plain

    def _derived_for(self, text: str) -> _Derived:
        known = self._derived.get(text)
        if known is not None:
            self._derived.move_to_end(text)
            return known
        plain = text.split("#", 1)[0]
        try:
            descriptor = WolletDescriptor(f"ct({_ANY_BLINDING_KEY},{plain})")
        except DescriptorError:
            raise HttpError(400, "Invalid descriptor: Not an Elements Descriptor") from None
        if (self._chain.network is Network.LIQUID) != ("xpub" in plain):
            raise HttpError(400, "WrongNetwork")
        derived = _Derived(descriptor, plain)
        self._derived[text] = derived
        if len(self._derived) > _CACHED_DESCRIPTORS:
            self._derived.popitem(last=False)
        return derived

    def _descriptor(
        self, value: str, page: int, to_index: int, utxo_only: bool
    ) -> tuple[dict[str, list[list[Any]]], list[str]]:
        plain = self._plain_descriptor(value)
        derived = self._derived_for(plain)
        self._server.learn(plain)
        single = not derived.descriptor.has_wildcard
        seen: dict[str, list[list[Any]]] = {}
        cut: list[str] = []
        for chain, key in derived.keys.items():
            found: list[list[Any]] = []
            scanned: list[bytes] = []
            for batch in range(MAX_BATCHES):
                start = batch * GAP_LIMIT + page * MAX_ADDRESSES
                scripts = derived.scripts(chain, 0 if single else start, 1 if single else GAP_LIMIT)
                histories = [self._history(s, 0, cut) for s in scripts]
                found += histories
                scanned += scripts
                if single or (not any(histories) and start + GAP_LIMIT >= to_index):
                    break
            first = 0 if single else page * MAX_ADDRESSES
            self._note_used(plain, chain, [first + i for i, h in enumerate(found) if h])
            if utxo_only:  # after the batches, as route.rs: spent scripts still count as used
                found = [self._unspent(s, h) for s, h in zip(scanned, found, strict=True)]
            seen[key] = found
        return seen, cut

    def _note_used(self, plain: str, chain: Chain, used: list[int]) -> None:
        """Remember the highest `used` index of a scanned chain (none used: None)."""
        known = self._used.setdefault(plain, {})
        self._used.move_to_end(plain)
        indexes = [i for i in (known.get(chain), *used) if i is not None]
        known[chain] = max(indexes, default=None)
        if len(self._used) > _CACHED_DESCRIPTORS:
            self._used.popitem(last=False)

    def _subscribe(self, params: str) -> Reply:
        """An event stream for a descriptor scanned before (`_waterfalls_subscribe`)."""
        if not self._server.subscriptions:
            raise HttpError(404, "endpoint not found")  # route.rs' answer to unknown routes
        value = dict(urllib.parse.parse_qsl(params, keep_blank_values=True)).get("descriptor")
        if value is None:
            raise HttpError(400, "AtLeastOneFieldMandatory")
        plain = self._plain_descriptor(value)
        derived = self._derived_for(plain)
        if not derived.descriptor.has_wildcard:
            raise HttpError(400, "DescriptorWithoutWildcard")
        used = self._used.get(plain)
        if used is None:
            raise HttpError(400, "DescriptorNotScanned")
        scripts = [
            script
            for chain, last in used.items()
            for script in derived.scripts(chain, 0, GAP_LIMIT + (0 if last is None else last + 1))
        ]
        chain = self._chain
        return Reply(
            200,
            b"",
            "text/event-stream",
            "no-cache",
            stream=lambda stopping: events(chain, scripts, stopping, self._server.started_watching),
        )

    def _addresses(
        self, value: str, page: int, utxo_only: bool
    ) -> tuple[dict[str, list[list[Any]]], list[str]]:
        listed = value.split(",")
        if len(listed) > MAX_ADDRESSES:
            raise HttpError(400, "TooManyAddresses")
        if page > 0 and len(listed) > 1:
            raise HttpError(400, "AddressPageRequiresSingleAddress")
        scripts = []
        for address in listed:
            try:
                decoded = address_to_script(address)
            except (DecodeError, ValueError):
                raise HttpError(400, "InvalidAddress") from None
            if decoded.network is not self._chain.network:
                raise HttpError(400, "WrongNetwork")
            if decoded.blinding_pubkey is not None:
                raise HttpError(400, "AddressCannotBeBlinded")
            scripts.append(decoded.script_pubkey)
        cut: list[str] = []
        histories = [self._history(s, page, cut) for s in scripts]
        if utxo_only:
            histories = [self._unspent(s, h) for s, h in zip(scripts, histories, strict=True)]
        return {"addresses": histories}, cut

    # -- histories -------------------------------------------------------------------------

    def _history(self, script: bytes, page: int, cut: list[str]) -> list[Any]:
        """One script's entries on `page`; its address joins `cut` when more follow."""
        chain = self._chain
        history = chain.history(script)  # confirmed (oldest first), then the mempool
        confirmed = [(txid, height) for txid, height in history if height > 0]
        mempool = [txid for txid, height in history if height <= 0]
        first = page * MAX_TXS_SEEN
        entries: list[Any] = [
            {
                "txid": txid,
                "height": height,
                "block_hash": chain.block_hash(height),
                "block_timestamp": chain.block_time(height),
            }
            for txid, height in confirmed[first : first + MAX_TXS_SEEN]
        ]
        if page == 0:
            entries += [{"txid": txid, "height": 0, "v": 0} for txid in mempool]
        if len(confirmed) > first + MAX_TXS_SEEN:
            cut.append(script_to_address(script, None, chain.network))
        return entries

    def _unspent(self, script: bytes, entries: list[Any]) -> list[Any]:
        """`entries` of `script` as utxo_only answers them: one per output paying `script`,
        unless a confirmed tx spends it (mempool outputs stay, spent or not)."""
        chain = self._chain
        spent = {
            (i.prevout.txid, i.prevout.vout)
            for txid, height in chain.history(script)
            if height > 0
            for i in self._tx(txid).inputs
        }
        kept = []
        for entry in entries:
            tx = self._tx(entry["txid"])
            for vout, out in enumerate(tx.outputs):
                if out.script_pubkey != script:
                    continue
                if entry["height"] > 0 and (entry["txid"], vout) in spent:
                    continue
                kept.append({**entry, "v": vout + 1})
        return kept

    def _tx(self, txid: str) -> Transaction:
        raw = self._chain.tx_raw(txid)
        if raw is None:  # left the chain between two reads: the answer is stale anyway
            raise HttpError(500, "CannotFindTx")
        return Transaction.from_bytes(raw)


def _hash(display: str | None) -> bytes:
    return _NO_HASH if display is None else bytes.fromhex(display)[::-1]


def _cbor(answer: dict[str, Any]) -> bytes:
    """A JSON-shaped answer as upstream's CBOR layout (see the module's docstring)."""
    seen = {
        key: [
            [
                [
                    _hash(e["txid"]),
                    e["height"],
                    _hash(e.get("block_hash")),
                    e.get("block_timestamp"),
                    e.get("v", 0),
                ]
                for e in history
            ]
            for history in histories
        ]
        for key, histories in answer["txs_seen"].items()
    }
    meta = answer.get("tip_meta")
    fields: list[Any] = [
        seen,
        answer["page"],
        _hash(answer.get("tip")),
        None if meta is None else [_hash(meta["b"]), meta["t"], meta["h"]],
        answer.get("has_more"),
    ]
    while fields[-1] is None or fields[-1] == _NO_HASH:  # minicbor leaves trailing nones out
        fields.pop()
    return cbor2.dumps(fields)


def _number(value: str | None) -> int:
    """route.rs parses page and to_index leniently: anything unreadable is 0."""
    try:
        return max(0, int(value)) if value is not None else 0
    except ValueError:
        return 0


class WaterfallsServer(EsploraServer):
    """Serve `chain` over Waterfalls (and Esplora) on `host:port` from a thread.

    `identity` is the age key the descriptors are encrypted to; `rotate_key()` replaces
    it, as a server restarted with a new key would. `requests` counts per route
    ("GET /v4/waterfalls", "GET /tx/:txid/raw", ...); `learned` counts the descriptors
    (decrypted) the server was asked to scan: what a client revealed to it; `watching`
    counts the event streams that began watching the chain (a change after that is an
    event of theirs: tests wait for it before changing the chain).
    """

    def __init__(
        self,
        chain: ChainView,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        auth: TokenIssuer | None = None,
    ) -> None:
        super().__init__(chain, host=host, port=port, faults=faults, auth=auth)
        self._state_lock = threading.Lock()  # identity and learned
        self.learned: collections.Counter[str] = collections.Counter()
        self.identity = pyrage.x25519.Identity.generate()
        self.recipient_override: str | None = None  # tests: serve this text as the recipient
        self.subscriptions = True  # False: no /v1/subscribe (404), as servers before it
        self.watching = 0
        self._router = _WaterfallsRouter(chain, self)

    @property
    def recipient(self) -> str:
        """What /v1/server_recipient answers: the identity's public key."""
        if self.recipient_override is not None:
            return self.recipient_override
        with self._state_lock:
            return str(self.identity.to_public())

    def learn(self, descriptor: str) -> None:
        with self._state_lock:
            self.learned[descriptor] += 1

    def started_watching(self) -> None:
        with self._state_lock:
            self.watching += 1

    def rotate_key(self) -> None:
        with self._state_lock:
            self.identity = pyrage.x25519.Identity.generate()
