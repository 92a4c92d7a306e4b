"""What the hooks ask of a Waterfalls server, in requests (RCasatta/waterfalls `docs/API.md`),
as steps without I/O.

Each method of `WaterfallsSteps` returns a generator that yields lwk-esplora's steps (`Send`:
one HTTP request answered by its reply; `Each`: several steps at once) and returns the hook's
answer, so that the blocking and the asyncio backend (`_backend`) run the same protocol over
lwk-esplora's two transports.

- A whole wallet: `GET /v4/waterfalls?descriptor=...&page=n&to_index=i` (`/v2` on servers
  without v4), the descriptor age-encrypted to `GET /v1/server_recipient` and encrypted
  once per descriptor, so that the URL stays the same and HTTP caches work. 422 means the
  server could not decrypt it (its key rotated): the recipient is fetched again, once.
- Scripts: `GET /v2/waterfalls?addresses=a,b,...` (unconfidential addresses, 50 a request
  as LWK sends them).
- A script whose confirmed history the server truncated (listed in `has_more`) continues
  with `addresses=<it>&page=1, 2, ...`.
- Transactions, headers, tip and broadcast: the Esplora routes the server also serves,
  through lwk-esplora's steps.
"""

from __future__ import annotations

import contextlib
import threading
import urllib.parse
from collections.abc import Sequence
from typing import Final

import pyrage
from lwk_esplora.steps import Each, EsploraSteps, Send, Steps

from lwk_core import DecodeError, WolletDescriptor
from lwk_core.plugin import (
    BackendError,
    BackendProtocolError,
    BlockHeader,
    Chain,
    DescriptorHistories,
    HistoryEntry,
    Network,
    Tip,
)
from lwk_core.primitives import address_to_script, script_to_address

from ._protocol import (
    ADDRESSES_KEY,
    INDEXES_PER_PAGE,
    Malformed,
    Page,
    bitcoin_descriptor,
    chain_of_key,
    descriptor_query,
    encrypt,
    is_elip151,
    parse_page,
    parse_recipient,
)

__all__ = ["WaterfallsSteps"]

ADDRESSES_PER_REQUEST: Final = 50  # what LWK sends; servers allow up to their max_addresses
_EXTRA_PAGES: Final = 10  # descriptor pages beyond to_index: core's max_new_indexes (10,000)
_MAX_SCRIPT_PAGES: Final = 501  # one script's pages: 50,000 entries (core's cap) at 100 each
_MAX_SUBSCRIBED: Final = 100  # descriptors a watch subscribes to (the latest scanned)
_MAX_ANSWERS: Final = 16  # the last answers kept with their parse (a rescan's is the same)


class _Refused(Exception):
    """An answer status the caller acts on: 422 (the server cannot decrypt the descriptor:
    its key rotated), 404 (no such route: a server without v4)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class WaterfallsSteps:
    """One Waterfalls server's protocol: the steps of each Backend method; thread-safe."""

    def __init__(
        self,
        esplora: EsploraSteps,
        name: str,
        network: Network,
        *,
        send_descriptor: bool,
        utxo_only: bool,
        cbor: bool,
    ) -> None:
        self._esplora = esplora
        self.name = name
        self.network = network
        self.send_descriptor = send_descriptor
        self.utxo_only = utxo_only
        self.cbor = cbor  # ask the `.cbor` twin of each waterfalls route
        self._lock = threading.Lock()
        self._recipient: pyrage.x25519.Recipient | None = None
        self._encrypted: dict[str, str] = {}  # plain descriptor -> its ciphertext
        self._version = 4  # 2 once the server answered 404 to v4
        # the tip a descriptor scan answered with: hash, and height when v4 gave it
        self._scanned_tip: tuple[str, int | None] | None = None
        self._last_tip: Tip | None = None  # the last tip built from a scan's, with its header
        # descriptors scanned (plain -> as sent), which a watch may subscribe to (_pushes)
        self._scanned: dict[str, str] = {}
        self._asked_descriptor = False  # scan_descriptor was called (ELIP-151 or not)
        # path -> the last answer's bytes and their parse: a rescan with nothing new gets
        # the same bytes, which compare in microseconds where parsing takes milliseconds
        self._answers: dict[str, tuple[bytes, Page]] = {}

    def _error(self, message: str) -> BackendProtocolError:
        return BackendProtocolError(message, backend=self.name)

    # -- chain, tip -------------------------------------------------------------------------

    def genesis_hash(self) -> Steps[str]:
        """Block 0's hash, asked together with the server's recipient when a descriptor
        scan will need it: the chain check before a first scan then costs no round trip
        of its own."""
        with self._lock:
            known = self._recipient is not None
        if not self.send_descriptor or known:
            return (yield from self._esplora.genesis_hash())
        genesis, _ = yield Each((self._esplora.genesis_hash(), self._prefetched_recipient()))
        return str(genesis)

    def _prefetched_recipient(self) -> Steps[None]:
        """The recipient fetched ahead; a failure is left to the scan that needs it (an
        ELIP-151 wallet never does), so it does not fail the chain check."""
        with contextlib.suppress(BackendError):
            yield from self._recipient_key()

    def tip(self, *, min_height: int = 0) -> Steps[Tip]:
        """The tip the last descriptor scan answered with (one header request, none when
        it is the previous scan's tip), else the server's current tip."""
        with self._lock:
            scanned, self._scanned_tip = self._scanned_tip, None
            last = self._last_tip
        if scanned is not None:
            tip_hash, height = scanned
            if last is not None and last.hash == tip_hash and last.height >= min_height:
                return last  # a block hash never changes its header
            header = yield from self._header(tip_hash)
            if height is not None and height != header.height:
                raise self._error(f"the tip said height {height}, its header {header.height}")
            if header.height >= min_height:
                tip = Tip(header.height, tip_hash, header.time, header.to_bytes())
                with self._lock:
                    self._last_tip = tip
                return tip
        return (yield from self._esplora.tip())

    def _header(self, block_hash: str) -> Steps[BlockHeader]:
        route = "block/:hash/header"
        reply = yield Send("GET", f"/block/{block_hash}/header", route)
        if reply.status != 200:
            raise self._error(f"HTTP {reply.status} on GET {route}: {reply.message()}")
        try:
            header = BlockHeader.parse(bytes.fromhex(reply.body.decode("ascii").strip()))
        except (UnicodeDecodeError, ValueError, DecodeError) as exc:
            raise self._error(f"GET {route}: not a block header") from exc
        if header.block_hash != block_hash:
            raise self._error(f"GET {route}: the header is another block's")
        return header

    # -- requests --------------------------------------------------------------------------

    def _get(
        self, route: str, query: dict[str, str], *, page: int, expect: tuple[int, ...] = ()
    ) -> Steps[Page]:
        if self.cbor:
            route += ".cbor"
        path = f"/{route}?{urllib.parse.urlencode(query)}"
        reply = yield Send("GET", path, route)  # the route hides the query
        if reply.status in expect:
            raise _Refused(reply.status)
        if reply.status != 200:
            raise self._error(f"HTTP {reply.status} on GET {route}: {reply.message()}")
        body = reply.body
        with self._lock:
            last = self._answers.pop(path, None)
        if last is not None and last[0] == body:
            parsed = last[1]
        else:
            try:
                parsed = parse_page(body, page=page, cbor=self.cbor)
            except Malformed as exc:
                raise self._error(f"GET {route}: {exc}") from exc
        with self._lock:
            if len(self._answers) >= _MAX_ANSWERS:
                del self._answers[next(iter(self._answers))]  # the least recently used
            self._answers[path] = (body, parsed)
        return parsed

    def _recipient_key(self) -> Steps[pyrage.x25519.Recipient]:
        with self._lock:
            if self._recipient is not None:
                return self._recipient
        route = "v1/server_recipient"
        reply = yield Send("GET", f"/{route}", route)
        if reply.status != 200:
            raise self._error(f"HTTP {reply.status} on GET {route}: {reply.message()}")
        try:
            recipient = parse_recipient(reply.body)
        except Malformed as exc:
            raise self._error(f"GET {route}: {exc}") from exc
        with self._lock:
            self._recipient = recipient
        return recipient

    def _encrypted_descriptor(self, plain: str) -> Steps[str]:
        with self._lock:
            known = self._encrypted.get(plain)
        if known is not None:
            return known
        sealed = encrypt(plain, (yield from self._recipient_key()))
        with self._lock:
            self._encrypted[plain] = sealed
        return sealed

    def _descriptor_page(self, plain: str, page: int, to_index: int) -> Steps[Page]:
        """One page, retried once with a fresh recipient after a 422, on /v2 after a 404."""
        for attempt in range(2):
            encrypted = yield from self._encrypted_descriptor(plain)
            query = descriptor_query(encrypted, page, to_index, self.utxo_only)
            try:
                if self._version == 4:
                    try:
                        route = "v4/waterfalls"
                        return (yield from self._get(route, query, page=page, expect=(404, 422)))
                    except _Refused as refused:
                        if refused.status != 404:
                            raise
                        self._version = 2
                return (yield from self._get("v2/waterfalls", query, page=page, expect=(422,)))
            except _Refused:
                if attempt:
                    break
                with self._lock:
                    self._recipient = None
                    self._encrypted.clear()
        raise self._error("the server cannot decrypt the descriptor (HTTP 422), twice")

    def _addresses_page(
        self, addresses: Sequence[str], page: int, *, utxo_only: bool = False
    ) -> Steps[tuple[list[list[HistoryEntry]], set[str]]]:
        """The histories of `addresses` on `page`, and the addresses truncated there."""
        query = {"addresses": ",".join(addresses), "page": str(page)}
        if utxo_only:
            query["utxo_only"] = "true"
        answer = yield from self._get("v2/waterfalls", query, page=page)
        histories = answer.txs_seen.get(ADDRESSES_KEY)
        if histories is None or len(histories) != len(addresses):
            raise self._error("GET v2/waterfalls: not one history per address asked")
        return histories, set(answer.has_more)

    def _scripts_page(self, addresses: Sequence[str]) -> Steps[list[list[HistoryEntry]]]:
        histories, truncated = yield from self._addresses_page(addresses, 0)
        completed = []
        for address, history in zip(addresses, histories, strict=True):
            if address in truncated:
                history = yield from self._continued(address, history)
            completed.append(history)
        return completed

    def _continued(
        self, address: str, first: list[HistoryEntry], *, utxo_only: bool = False
    ) -> Steps[list[HistoryEntry]]:
        """The rest of a truncated history: `addresses=<address>&page=1, 2, ...`."""
        entries = list(first)
        seen = {e.txid for e in entries}
        for page in range(1, _MAX_SCRIPT_PAGES):
            (found,), truncated = yield from self._addresses_page(
                [address], page, utxo_only=utxo_only
            )
            new = [e for e in found if e.txid not in seen]
            if not new and not utxo_only:  # utxo_only: a page's txs may all be spent
                raise self._error("a truncated history's next page brings nothing new")
            entries += new
            seen.update(e.txid for e in new)
            if address not in truncated:
                return entries
        raise self._error("a truncated history never ends")

    # -- histories -------------------------------------------------------------------------

    def scan_scripts(self, scripts: Sequence[bytes]) -> Steps[list[list[HistoryEntry]]]:
        try:
            addresses = [script_to_address(bytes(s), None, self.network) for s in scripts]
        except (DecodeError, ValueError) as exc:
            raise BackendError(
                "a script has no address form, which Waterfalls needs", backend=self.name
            ) from exc
        batches = [
            addresses[i : i + ADDRESSES_PER_REQUEST]
            for i in range(0, len(addresses), ADDRESSES_PER_REQUEST)
        ]
        pages: list[list[list[HistoryEntry]]] = yield Each(
            tuple(self._scripts_page(b) for b in batches)
        )
        return [h for histories in pages for h in histories]

    def scan_descriptor(
        self, descriptor: WolletDescriptor, *, gap_limit: int, to_index: int
    ) -> Steps[DescriptorHistories | None]:
        """The wallet's histories from the server's own derivation; None (a script scan)
        unless the caller allowed sending the descriptor, or for ELIP-151 descriptors."""
        self._asked_descriptor = True
        if not self.send_descriptor or is_elip151(descriptor):
            return None
        plain = bitcoin_descriptor(descriptor)
        histories: DescriptorHistories = {c: [] for c in descriptor.chains}
        open_chains = set(descriptor.chains)
        truncated: set[str] = set()
        for page in range(to_index // INDEXES_PER_PAGE + _EXTRA_PAGES + 1):
            answer = yield from self._descriptor_page(plain, page, to_index)
            by_chain: dict[Chain, list[list[HistoryEntry]]] = {}
            for key, found in answer.txs_seen.items():
                try:
                    chain = chain_of_key(key, descriptor.chains)
                except Malformed as exc:
                    raise self._error(f"GET waterfalls: {exc}") from exc
                if chain in by_chain or len(found) > INDEXES_PER_PAGE:
                    raise self._error("GET waterfalls: a chain answered twice or overfull")
                by_chain[chain] = found
            for chain in open_chains:
                histories[chain] += by_chain.get(chain, [])
            truncated.update(answer.has_more)
            with self._lock:
                self._scanned_tip = None
                if answer.tip_hash is not None:
                    self._scanned_tip = (answer.tip_hash, answer.tip_height)
            open_chains = {c for c in open_chains if len(by_chain.get(c, [])) == INDEXES_PER_PAGE}
            if not open_chains:
                break
        else:
            raise self._error("the descriptor's pages never end")
        if truncated:
            yield from self._continue_truncated(descriptor, histories, truncated)
        if descriptor.has_wildcard:  # upstream subscribes only those
            self._scannable(plain)
        return histories

    # -- subscriptions (_pushes) -----------------------------------------------------------

    def _scannable(self, plain: str) -> None:
        with self._lock:
            sent = self._encrypted.get(plain)
            if sent is None:
                return
            self._scanned.pop(plain, None)
            self._scanned[plain] = sent
            if len(self._scanned) > _MAX_SUBSCRIBED:
                del self._scanned[next(iter(self._scanned))]  # the oldest

    def subscribable(self) -> list[str]:
        """The descriptors scanned, as sent (encrypted), newest last."""
        with self._lock:
            return list(self._scanned.values())

    def may_subscribe(self) -> bool:
        """False once scans were asked and none sent a descriptor (ELIP-151 wallets)."""
        with self._lock:
            return not self._asked_descriptor or bool(self._scanned)

    def _continue_truncated(
        self, descriptor: WolletDescriptor, histories: DescriptorHistories, truncated: set[str]
    ) -> Steps[None]:
        """Complete (in place) the histories `has_more` named."""
        where = {
            descriptor.script_pubkey(chain, index): (chain, index)
            for chain, found in histories.items()
            for index, history in enumerate(found)
            if history or self.utxo_only  # utxo_only: a cut history may have no utxo left
        }
        for address in sorted(truncated):
            try:
                script = address_to_script(address).script_pubkey
            except (DecodeError, ValueError):
                raise self._error("has_more names something that is no address") from None
            if script not in where:
                raise self._error("has_more names an address the scan did not show")
            chain, index = where[script]
            history = histories[chain][index]
            histories[chain][index] = yield from self._continued(
                address, history, utxo_only=self.utxo_only
            )
