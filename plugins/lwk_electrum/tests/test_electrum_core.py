"""The sans-IO Electrum core driven by hand: no socket, no thread, no clock.

Bursts (window, id matching, error replies, deadlines given the times passed in), the line
reader's caps, subscriptions and notifications, the connection plans (handshake restoring
subscriptions, a subscription undone when its exchange fails) and the scan plan with its
status-hash cache. Expected status hashes are computed here from the protocol's definition
(sha256 of "txid:height:" per history entry, electrum-protocol docs, "Status").
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from lwk_electrum._burst import Burst
from lwk_electrum._errors import ElectrumError
from lwk_electrum._framing import LineReader
from lwk_electrum._plan import Batch, Refresh, Subscribe, run
from lwk_electrum._protocol import ElectrumProtocol, Receive, Send
from lwk_electrum._scan import ScriptCache, scan_scripts
from lwk_electrum._subscriptions import SCRIPTHASH_SUBSCRIBE, UNKNOWN, Subscriptions
from shared_data import load_fixture

from lwk_core import BackendProtocolError, BackendTimeout, HistoryEntry, Tip

NAME = "tcp://core.test:50001"
TXID_A, TXID_B = "aa" * 32, "bb" * 32
SH = "5e" * 32


def status(*entries: tuple[str, int]) -> str:
    return hashlib.sha256("".join(f"{t}:{h}:" for t, h in entries).encode()).hexdigest()


def burst(n: int, size: int = 10, timeout: float = 5.0) -> Burst:
    return Burst([("echo", [i]) for i in range(n)], iter(range(1, 10**6)), size=size,
                 timeout=timeout, backend=NAME)  # fmt: skip


def ids_of(payload: bytes) -> list[int]:
    return [json.loads(line)["id"] for line in payload.splitlines()]


def reply(msg_id: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "result": result}


# -- bursts --------------------------------------------------------------------------------


def test_a_burst_keeps_four_chunks_in_flight_and_matches_replies_by_id() -> None:
    b = burst(120)
    first = list(b.chunks(0.0))
    assert [(len(c.calls), c.in_flight) for c in first] == [(10, 10), (10, 20), (10, 30), (10, 40)]
    assert list(b.chunks(0.0)) == []  # the window is full
    ids = [i for c in first for i in ids_of(c.payload)]
    for i in reversed(ids[:10]):  # the first chunk, answered backwards
        b.receive(reply(i, i))
    more = list(b.chunks(1.0))
    assert [(len(c.calls), c.in_flight) for c in more] == [(10, 40)]
    for c in [*first[1:], *more]:
        for i in ids_of(c.payload):
            b.receive(reply(i, i))
    assert b.replies[:50] == ids[:40] + ids_of(more[0].payload)
    while not b.done:
        for c in b.chunks(2.0):
            for i in ids_of(c.payload):
                b.receive(reply(i, -1))
    assert len(b.replies) == 120


def test_error_replies_are_values_and_bad_ids_are_protocol_errors() -> None:
    def exchange(*replies: Any) -> Any:
        proto = ElectrumProtocol(backend=NAME, timeout=5.0, batch_size=100, max_line=1 << 20)
        plan = proto.exchange([("a", []), ("b", [])])
        first, second = next(plan).chunk.ids
        assert isinstance(plan.send(None), Receive)
        proto.feed(_line(*(r(first, second) for r in replies)))
        with pytest.raises(StopIteration) as done:
            plan.send(True)
        return done.value.value

    error = {"code": -5, "message": "no such tx"}
    got = exchange(lambda a, b: {"id": b, "error": error}, lambda a, b: {"id": a, "result": 1})
    assert got[0] == 1 and isinstance(got[1], ElectrumError) and got[1].code == -5
    for bad, text in [
        (lambda a, b: {"id": b + 1, "result": 1}, "unknown request id"),
        (lambda a, b: {"id": None, "error": "boom"}, r"unknown request id \(server error: boom"),
        (lambda a, b: {"id": a}, "neither"),
    ]:
        with pytest.raises(BackendProtocolError, match=text):
            exchange(bad)
    proto = ElectrumProtocol(backend=NAME, timeout=5.0, batch_size=100, max_line=1 << 20)
    idle = proto.poll(0.0)
    assert next(idle) == Receive(0.0, idle_ok=True)
    proto.feed(_line({"id": 1, "result": 1}))
    with pytest.raises(BackendProtocolError, match="no request was pending"):
        idle.send(True)


def test_deadlines_are_per_chunk_counted_from_when_it_is_awaited() -> None:
    b = burst(30, size=10, timeout=5.0)
    chunks = list(b.chunks(100.0))
    assert [c.deadline for c in chunks] == [105.0, 105.0, 105.0]  # sending
    assert b.read_deadline(100.5) == 105.5  # the first chunk's replies
    ids = [ids_of(c.payload) for c in chunks]
    for i in ids[0][:9]:
        b.receive(reply(i, 0))
    assert b.read_deadline(104.0) == 105.5  # the same chunk still
    for i in ids[1] + ids[0][9:]:  # the second chunk came before the first one's last reply
        b.receive(reply(i, 0))
    assert b.read_deadline(104.5) == 109.5  # the third chunk's clock starts now


# -- framing -------------------------------------------------------------------------------


def test_line_reader_reassembles_skips_blank_lines_and_caps_line_length() -> None:
    reader = LineReader(1024, backend=NAME)
    reader.feed(b'\n  \n{"id": 1, "res')
    assert reader.next_message() is None
    reader.feed(b'ult": 2}\n{"id"')
    assert reader.next_message() == {"id": 1, "result": 2}
    assert reader.next_message() is None
    reader.feed(b"x" * 1024)  # no newline yet, and already over the cap
    with pytest.raises(BackendProtocolError, match="exceeds 1024 bytes"):
        reader.next_message()
    for line, error in [(b"[1]\n", "not a JSON object"), (b"{nope\n", "not valid JSON")]:
        reader.clear()
        reader.feed(line)
        with pytest.raises(BackendProtocolError, match=error):
            reader.next_message()


# -- subscriptions and notifications -------------------------------------------------------


def test_notifications_count_only_news_of_subscribed_scripts() -> None:
    subs = Subscriptions(backend=NAME)
    heard: list[tuple[str, list[Any]]] = []
    subs.listeners.append(lambda method, params: heard.append((method, params)))
    subs.begin([SH])
    subs.answered(SH, status((TXID_A, 5)).upper())
    note = {"method": SCRIPTHASH_SUBSCRIBE, "params": [SH, status((TXID_A, 5))]}
    subs.notify(note, 0.0)  # the status it has
    subs.notify({"method": SCRIPTHASH_SUBSCRIBE, "params": ["77" * 32, None]}, 0.0)
    subs.notify({"method": "blockchain.relayfee", "params": []}, 0.0)
    assert subs.notifications == 0
    new = status((TXID_A, 5), (TXID_B, 6))
    subs.notify({"method": SCRIPTHASH_SUBSCRIBE, "params": [SH.upper(), new]}, 0.0)
    assert subs.notifications == 1
    assert heard == [(SCRIPTHASH_SUBSCRIBE, [SH, new])]
    for bad in ([SH], [SH, "zz"], ["not hex", None]):
        with pytest.raises(BackendProtocolError, match="malformed"):
            subs.notify({"method": SCRIPTHASH_SUBSCRIBE, "params": bad}, 0.0)
    with pytest.raises(BackendProtocolError, match="not a notification"):
        subs.notify({"result": 1}, 0.0)


def test_what_changed_since_a_mark_pushes_unsubscribed_scripts_and_what_voids_it() -> None:
    subs, tip = Subscriptions(backend=NAME), Tip(5, "11" * 32, 0)
    other, gone = "77" * 32, "99" * 32
    subs.keep_tip(tip, 0.0)  # the first tip any scan asks: no change
    subs.begin([SH, other])
    subs.answered(SH, status((TXID_A, 5)))
    subs.answered(other, None)
    mark = subs.mark()
    assert subs.changed_since(mark) == []
    subs.notify({"method": SCRIPTHASH_SUBSCRIBE, "params": [SH, status((TXID_A, 5))]}, 0.0)
    assert subs.changed_since(mark) == []  # the status it had: no change
    subs.notify({"method": SCRIPTHASH_SUBSCRIBE, "params": [SH, status((TXID_B, 6))]}, 0.0)
    subs.unsubscribed([gone])  # asked without a subscription: never pushed
    assert subs.changed_since(mark) == [SH, gone]
    later = subs.mark()
    assert subs.changed_since(later) == []
    subs.keep_tip(tip, 1.0)  # the same tip again
    assert subs.changed_since(later) == []
    subs.keep_tip(Tip(6, "22" * 32, 0), 2.0)  # a new tip: anything may have changed
    assert subs.changed_since(later) is None and subs.changed_since(mark) is None
    fresh = subs.mark()
    subs.void()  # a broadcast (or the stream lost): statuses no longer current
    assert subs.changed_since(fresh) is None


def test_a_mark_older_than_the_change_log_kept_tells_nothing() -> None:
    subs = Subscriptions(backend=NAME)
    subs.begin([SH])
    subs.answered(SH, None)
    mark = subs.mark()
    first, second, third = ["77" * 32] * 60_000, ["88" * 32] * 30_000, ["99" * 32] * 20_000
    subs.unsubscribed(first)
    recent = subs.mark()
    subs.unsubscribed(second)
    assert subs.changed_since(mark) == first + second
    subs.unsubscribed(third)  # past the 100,000 entries kept: the oldest are trimmed
    assert subs.changed_since(mark) is None
    assert subs.changed_since(recent) == second + third


def test_the_cache_hashes_each_script_once_and_maps_hashes_back() -> None:
    cache = ScriptCache()
    scripts = [bytes.fromhex("0014" + f"{i:02x}" * 20) for i in range(3)]
    shs = [hashlib.sha256(s).digest()[::-1].hex() for s in scripts]  # Electrum's definition
    assert cache.scripthashes(scripts) == shs == cache.scripthashes(scripts)
    assert cache.scripthashes([bytearray(scripts[1])]) == [shs[1]]  # any bytes-like script
    assert cache.scripts([shs[2], "77" * 32]) == {scripts[2]}  # an unknown hash: none


class ScriptedServer:
    """Performs a protocol's I/O events without I/O: each request line sent is answered
    (in order, after `pushes`) with `answer(method, params)`, a reply's "result" or
    "error" member (None: no reply); a receive with nothing to hand over is idle, or raises
    `silence` (what a driver raises on a timeout, or a task cancelled while waiting)."""

    def __init__(
        self,
        proto: ElectrumProtocol,
        answer: Callable[[str, list[Any]], Any],
        silence: BaseException | None = None,
    ) -> None:
        self.proto, self.answer = proto, answer
        self.silence = silence or BackendTimeout("silence", backend=NAME)
        self.asked: list[tuple[str, list[Any]]] = []
        self.sends: list[list[str]] = []  # the methods of each write
        self.pushes: list[dict[str, Any]] = []
        self._out = b""

    def run(self, plan: Any) -> Any:
        return run(plan, self._perform)

    def _perform(self, event: Send | Receive) -> bool | None:
        if isinstance(event, Send):
            self.sends.append([method for method, _ in event.chunk.calls])
            for line in event.chunk.payload.splitlines():
                req = json.loads(line)
                self.asked.append((req["method"], req["params"]))
                member = self.answer(req["method"], req["params"])
                if member is not None:
                    reply = {"jsonrpc": "2.0", "id": req["id"], **member}
                    self._out += _line(*self.pushes, reply)
            return None
        if self._out:
            self.proto.feed(self._out)
            self._out = b""
            return True
        if event.idle_ok:
            return False
        raise self.silence


def _line(*messages: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(m).encode() + b"\n" for m in messages)


def test_a_subscription_that_fails_or_is_cancelled_is_undone() -> None:
    proto = ElectrumProtocol(backend=NAME, timeout=5.0, batch_size=100, max_line=1 << 20)
    server = ScriptedServer(proto, lambda method, params: {"result": None})
    assert server.run(proto.subscribe([SH])) == ([None], [], {})
    for silence in (BackendTimeout("silence", backend=NAME), asyncio.CancelledError()):
        silent = ScriptedServer(proto, lambda method, params: None, silence)
        with pytest.raises(type(silence)):
            silent.run(proto.subscribe(["77" * 32]))
        assert proto.subscriptions.scripthashes == {SH: None}


def test_notifications_between_replies_are_dispatched_and_errors_wait_for_every_reply() -> None:
    proto = ElectrumProtocol(backend=NAME, timeout=5.0, batch_size=2, max_line=1 << 20)
    heard: list[list[Any]] = []
    proto.subscriptions.listeners.append(lambda method, params: heard.append(params))
    proto.subscriptions.begin([SH])
    proto.subscriptions.answered(SH, None)

    def answer(method: str, params: list[Any]) -> Any:
        return {"error": {"code": -1, "message": "no"}} if params == [1] else {"result": params}

    server = ScriptedServer(proto, answer)
    server.pushes = [{"method": SCRIPTHASH_SUBSCRIBE, "params": [SH, status((TXID_A, 1))]}]
    with pytest.raises(ElectrumError, match="no"):
        server.run(proto.batch([("echo", [i]) for i in range(5)]))
    assert [p for _, p in server.asked] == [[0], [1], [2], [3], [4]]  # all sent, all read
    assert heard == [[SH, status((TXID_A, 1))]]  # the same status pushed 5 times: news once
    assert proto.requests == {"echo": 5}


def test_the_handshake_restores_subscriptions_as_notifications() -> None:
    proto = ElectrumProtocol(backend=NAME, timeout=5.0, batch_size=100, max_line=1 << 20)
    header = signed_header()
    results = {
        "server.version": ["electrs", "1.4"],
        "blockchain.headers.subscribe": {"height": 3, "hex": header["header_hex"]},
        SCRIPTHASH_SUBSCRIBE: status((TXID_A, 1)),
    }
    server = ScriptedServer(proto, lambda method, params: {"result": results[method]})
    server.run(proto.subscribe([SH]))
    assert server.run(proto.tip(0)).hash == header["header_hash"]
    server.asked.clear()
    server.run(proto.handshake())
    assert server.asked == [
        ("server.version", ["lwk-electrum 0.1", "1.4"]),
        ("blockchain.headers.subscribe", []),
        (SCRIPTHASH_SUBSCRIBE, [SH]),
    ]
    assert proto.server_version == ["electrs", "1.4"]
    assert proto.subscriptions.scripthashes == {SH: status((TXID_A, 1))}
    # The restored tip reaches the listeners; the restored status, known already, does not.
    assert proto.subscriptions.notifications == 1
    refusing = ScriptedServer(proto, lambda method, params: {"error": "busy"})
    with pytest.raises(ElectrumError, match="busy"):  # an error reply ends a handshake
        refusing.run(proto.handshake())


def test_a_new_connection_sends_its_version_with_the_first_burst() -> None:
    """Nothing to restore: `server.version` is not awaited but leads the first request's
    burst, and the genesis comes with the tip's subscription (one round trip for the
    three); a refused version raises the server's error, and the next burst greets again."""
    proto = ElectrumProtocol(backend=NAME, timeout=5.0, batch_size=100, max_line=1 << 20)
    header = signed_header()
    results = {
        "server.version": ["electrs", "1.4"],
        "server.features": {"genesis_hash": "00" * 32},
        "blockchain.headers.subscribe": {"height": 3, "hex": header["header_hex"]},
        "server.ping": None,
    }
    server = ScriptedServer(proto, lambda method, params: {"result": results[method]})
    server.run(proto.handshake())
    assert server.sends == []
    assert server.run(proto.features()) == {"genesis_hash": "00" * 32}
    assert server.sends == [["server.version", "server.features", "blockchain.headers.subscribe"]]
    assert proto.server_version == ["electrs", "1.4"]
    assert server.run(proto.tip(0)).hash == header["header_hash"]  # kept: not asked again
    assert server.run(proto.features()) == {"genesis_hash": "00" * 32}  # subscribed: alone
    assert server.sends[1:] == [["server.features"]]

    proto.reset()  # a new stream; the headers subscription is restored, awaited
    server.run(proto.handshake())
    assert server.sends[2:] == [["server.version", "blockchain.headers.subscribe"]]

    fresh = ElectrumProtocol(backend=NAME, timeout=5.0, batch_size=100, max_line=1 << 20)
    refusing = ScriptedServer(
        fresh,
        lambda method, params: (
            {"error": {"code": -32600, "message": "unsupported"}}
            if method == "server.version"
            else {"result": None}
        ),
    )
    refusing.run(fresh.handshake())
    with pytest.raises(ElectrumError, match="unsupported"):
        refusing.run(fresh.batch([("server.ping", [])]))
    refusing.sends.clear()
    with pytest.raises(ElectrumError, match="unsupported"):
        refusing.run(fresh.batch([("server.ping", [])]))
    assert refusing.sends == [["server.version", "server.ping"]]


def signed_header() -> dict[str, Any]:
    """rust-elements' 2-of-3 signed header vector (height 3) and its block hash."""
    vectors = load_fixture("elements-vectors.json")["vectors"]
    return next(v for v in vectors if "2-of-3" in v["name"])


# -- the scan plan and its cache -----------------------------------------------------------


def test_scan_plan_asks_histories_once_and_answers_current_statuses_without_asking() -> None:
    cache, subs = ScriptCache(), Subscriptions(backend=NAME)
    script = bytes.fromhex("0014" + "11" * 20)
    sh = hashlib.sha256(script).digest()[::-1].hex()
    raw = [{"tx_hash": TXID_A, "height": 5}, {"tx_hash": TXID_B, "height": 0}]
    known = status((TXID_A, 5), (TXID_B, 0))
    expected = [[HistoryEntry(TXID_A, 5), HistoryEntry(TXID_B, None)]]

    first = scan_scripts(cache, subs, [script], backend=NAME)
    assert next(first) == Refresh()  # the pushes so far are handled first
    assert first.send(None) == Subscribe([sh], [], [sh])  # its history if it has one
    subs.begin([sh])
    subs.answered(sh, known)  # what the connection does with the reply
    with pytest.raises(StopIteration) as done:
        first.send(([known], [], {sh: raw}))  # one exchange: statuses, then the histories
    assert done.value.value == expected

    # Subscribed on the live connection: its status is current, nothing is asked.
    again = scan_scripts(cache, subs, [script], backend=NAME)
    assert next(again) == Refresh()
    with pytest.raises(StopIteration) as done:
        again.send(None)
    assert done.value.value == expected

    # A pushed status: only its history is asked.
    moved = [{"tx_hash": TXID_A, "height": 5}, {"tx_hash": TXID_B, "height": 7}]
    subs.notify(
        {"method": SCRIPTHASH_SUBSCRIBE, "params": [sh, status((TXID_A, 5), (TXID_B, 7))]}, 0.0
    )
    changed = scan_scripts(cache, subs, [script], backend=NAME)
    next(changed)
    assert changed.send(None) == Batch([("blockchain.scripthash.get_history", [sh])])
    with pytest.raises(StopIteration) as done:
        changed.send([moved])
    assert done.value.value == [[HistoryEntry(TXID_A, 5), HistoryEntry(TXID_B, 7)]]

    # The stream went away: the status is void until subscribed again (the history of a
    # script scanned before is asked only if the status changed).
    subs.void()
    assert subs.status(sh) is UNKNOWN
    resumed = scan_scripts(cache, subs, [script], backend=NAME)
    next(resumed)
    assert resumed.send(None) == Subscribe([sh], [], [])
    with pytest.raises(StopIteration) as done:
        resumed.send(([status((TXID_A, 5), (TXID_B, 7))], [], {}))
    assert done.value.value == [[HistoryEntry(TXID_A, 5), HistoryEntry(TXID_B, 7)]]


@pytest.mark.parametrize("plan", ["subscribe", "handshake"])
def test_a_push_read_after_a_subscription_reply_wins_over_it(plan: str) -> None:
    """The reply and a later push about the same script in one burst: the push is newer
    (the connection must not apply the reply after the whole burst is read)."""
    proto = ElectrumProtocol(backend=NAME, timeout=5.0, batch_size=100, max_line=1 << 20)
    old, new = status((TXID_A, 1)), status((TXID_A, 1), (TXID_B, 0))
    other = "77" * 32
    push = {"method": SCRIPTHASH_SUBSCRIBE, "params": [SH, new]}
    if plan == "handshake":
        ScriptedServer(proto, lambda method, params: {"result": None}).run(
            proto.subscribe([SH, other])
        )
        proto.reset()
        assert proto.subscriptions.status(SH) is UNKNOWN  # void until restored

    def answer(method: str, params: list[Any]) -> Any:
        if method == "server.version":
            return {"result": ["electrs", "1.4"]}
        if params == [other]:  # the second request: the push goes out before its reply
            server.pushes = [push]
        return {"result": old if params == [SH] else None}

    server = ScriptedServer(proto, answer)
    if plan == "subscribe":
        assert server.run(proto.subscribe([SH, other])) == ([old, None], [], {})
    else:
        server.run(proto.handshake())
    assert proto.subscriptions.status(SH) == new
    assert proto.subscriptions.status(other) is None


def test_histories_follow_the_statuses_that_show_one_in_the_same_exchange() -> None:
    """Scripts subscribed with their histories wanted: a history is asked only for a status
    other than null (or a refused subscription: no status to tell), once each, after all the
    subscriptions were written and before the exchange returns."""
    proto = ElectrumProtocol(backend=NAME, timeout=5.0, batch_size=2, max_line=1 << 20)
    used, unused, refused, unwanted = "a1" * 32, "b2" * 32, "c3" * 32, "d4" * 32
    known = status((TXID_A, 5))
    raw = [{"tx_hash": TXID_A, "height": 5}]
    statuses = {used: {"result": known}, unused: {"result": None}, unwanted: {"result": known}}

    def answer(method: str, params: list[Any]) -> Any:
        if method == SCRIPTHASH_SUBSCRIBE:
            return statuses.get(params[0], {"error": {"code": 1, "message": "limit"}})
        return {"result": raw if params == [used] else []}

    server = ScriptedServer(proto, answer)
    scripts = [used, unused, refused, unwanted]
    got = server.run(proto.subscribe(scripts, [], [used, unused, refused, used]))
    assert got == ([known, None, UNKNOWN, known], [], {used: raw, refused: []})
    get = "blockchain.scripthash.get_history"
    assert server.asked == [(SCRIPTHASH_SUBSCRIBE, [sh]) for sh in scripts] + [
        (get, [used]),
        (get, [refused]),
    ]
    assert proto.requests == {SCRIPTHASH_SUBSCRIBE: 4, get: 2}


# -- a server's subscription cap -----------------------------------------------------------

REFUSED = ElectrumError(1, "subscription limit reached", backend=NAME)


def test_the_first_refusal_fixes_the_granted_count_until_the_connection_is_lost() -> None:
    subs = Subscriptions(backend=NAME)
    a, b, c, d = ("a1" * 32, "b2" * 32, "c3" * 32, "d4" * 32)
    assert subs.grantable([a, b, c]) == [a, b, c]  # cap unknown: every script is offered
    subs.begin([a, b, c])
    subs.answered(a, None)
    subs.answered(b, REFUSED)  # replies come in order: c, pending, is refused as well
    subs.answered(c, REFUSED)
    assert subs.limit == 1
    assert subs.status(b) is UNKNOWN and b not in subs.scripthashes
    assert subs.grantable([a, b, d]) == [a]  # held ones only: no room for new scripts
    subs.lost()
    assert subs.limit is None and subs.grantable([a, b, d]) == [a, b, d]
    # A restore refused past a lower cap drops the script and fixes the count.
    subs.restored(a, REFUSED, 0.0)
    assert a not in subs.scripthashes and subs.limit == 0
    assert subs.grantable([a, d]) == []


def test_the_scan_asks_ungranted_scripts_histories_in_the_subscriptions_burst() -> None:
    cache, subs = ScriptCache(), Subscriptions(backend=NAME)
    scripts = [bytes.fromhex("0014" + f"{i:02x}" * 20) for i in range(3)]
    shs = [hashlib.sha256(s).digest()[::-1].hex() for s in scripts]
    subs.limit = 1  # the connection was granted one subscription
    raw = [{"tx_hash": TXID_A, "height": 5}]
    history = [HistoryEntry(TXID_A, 5)]
    get = "blockchain.scripthash.get_history"

    for _ in range(2):  # the same requests on every scan: no status, no cache
        plan = scan_scripts(cache, subs, scripts, backend=NAME)
        next(plan)
        first = plan.send(None)
        if shs[0] not in subs.scripthashes:
            assert first == Subscribe([shs[0]], [(get, [sh]) for sh in shs[1:]], [shs[0]])
            subs.begin([shs[0]])
            subs.answered(shs[0], status((TXID_A, 5)))
            reply: Any = ([status((TXID_A, 5))], [raw, []], {shs[0]: raw})
        else:
            assert first == Batch([(get, [shs[1]]), (get, [shs[2]])])
            reply = [raw, []]
        with pytest.raises(StopIteration) as done:
            plan.send(reply)
        assert done.value.value == [history, history, []]


def test_a_refused_subscription_is_answered_by_its_history() -> None:
    cache, subs = ScriptCache(), Subscriptions(backend=NAME)
    script = bytes.fromhex("0014" + "77" * 20)
    sh = hashlib.sha256(script).digest()[::-1].hex()
    cache.mark_scanned([sh])  # scanned before: its history is not prefetched
    plan = scan_scripts(cache, subs, [script], backend=NAME)
    next(plan)
    assert plan.send(None) == Subscribe([sh], [], [])
    subs.begin([sh])
    subs.answered(sh, REFUSED)
    assert plan.send(([UNKNOWN], [], {})) == Batch([("blockchain.scripthash.get_history", [sh])])
    with pytest.raises(StopIteration) as done:
        plan.send([[{"tx_hash": TXID_B, "height": 0}]])
    assert done.value.value == [[HistoryEntry(TXID_B, None)]]
    assert subs.limit == 0
