"""The connection against a scriptable fake server: framing, pipelining, errors, faults, TLS."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import pytest
from electrum_fake import FakeElectrum, Reply, fail, notification
from lwk_electrum import ElectrumClient, ElectrumError, _protocol
from lwk_electrum._burst import Chunk
from lwk_electrum._connection import ElectrumConnection
from lwk_regtest._tls import SelfSignedCert
from test_electrum_hooks import TX_HEX

from lwk_core import (
    BackendConnectError,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    BroadcastRejected,
    DecodeError,
)
from lwk_core._header import BlockHeader

SH = "ab" * 32
STATUS = "cd" * 32
MARGIN = 0.5  # seconds of scheduling slack on top of a timeout


def client(fake: FakeElectrum, **kw: Any) -> ElectrumClient:
    return ElectrumClient(fake.hostport, False, False, **kw)


def rpc(c: ElectrumClient) -> ElectrumConnection:
    return c.connection.rpc


def echo(params: list[Any]) -> Any:
    return params[0]


def tip_at(height: int) -> dict[str, Any]:
    """A blockchain.headers.subscribe result: a well-formed header at `height`."""
    header = BlockHeader.legacy("22" * 32, "11" * 32, 1_700_000_000 + height, height)
    return {"hex": header.to_hex(), "height": height}


def fail_raw(line: bytes) -> Any:
    def handler(params: list[Any]) -> Any:
        raise Reply(line)

    return handler


# -- connecting ------------------------------------------------------------------------


def test_construction_does_no_io_and_first_call_handshakes(
    fake: FakeElectrum, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_io(*args: Any, **kw: Any) -> Any:
        raise AssertionError("network I/O during construction")

    with monkeypatch.context() as m:
        m.setattr(socket, "create_connection", no_io)
        c = client(fake)
        ElectrumClient.from_url(f"ssl://{fake.hostport}")
    c.ping()
    assert fake.accepted == 1
    assert fake.methods() == ["server.version", "server.ping"]
    version_params = fake.requests[0][2]
    assert version_params[1] == "1.4"
    c.ping()
    assert fake.accepted == 1  # one persistent connection
    assert c.name == f"tcp://{fake.hostport}"
    assert repr(c) == f"<ElectrumClient tcp://{fake.hostport}>"


def test_refused_is_a_connect_error_naming_the_backend() -> None:
    port = socket.create_server(("127.0.0.1", 0))
    free = port.getsockname()[1]
    port.close()
    c = ElectrumClient(f"127.0.0.1:{free}", False, False, connect_timeout=2)
    start = time.monotonic()
    with pytest.raises(BackendConnectError) as info:
        c.ping()
    assert time.monotonic() - start < 2
    assert info.value.backend == f"tcp://127.0.0.1:{free}"


# -- pipelining --------------------------------------------------------------------------


def test_batch_is_pipelined_in_bursts_and_matched_by_id(fake: FakeElectrum) -> None:
    fake.handlers["echo"] = echo
    c = client(fake, timeout=3, batch_size=100)
    c.ping()
    # Replies are withheld until 100 requests arrived, then sent backwards: a client that
    # waited for each reply, or matched replies by position, would fail.
    fake.gate, fake.reverse = 100, True
    before = len(fake.requests)
    results = rpc(c).batch([("echo", [i]) for i in range(200)])
    assert results == list(range(200))
    assert len(fake.requests) - before == 200
    assert rpc(c).requests["echo"] == 200
    assert fake.accepted == 1


def record_bursts(conn: ElectrumConnection, monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Records each burst the connection writes: [request lines, requests then unanswered]."""
    bursts: list[list[int]] = []
    write = conn._write

    def recording(chunk: Chunk) -> None:
        write(chunk)
        bursts.append([len(chunk.calls), chunk.in_flight])

    monkeypatch.setattr(conn, "_write", recording)
    return bursts


def test_window_of_four_chunks_in_flight(
    fake: FakeElectrum, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.handlers["echo"] = echo
    c = client(fake, timeout=1, batch_size=10)
    c.ping()
    bursts = record_bursts(rpc(c), monkeypatch)
    # Replies are withheld until 40 requests arrived: 4 chunks of 10 go out before the
    # client waits for any reply, and each next chunk once the oldest one is answered.
    fake.gate = 40
    assert rpc(c).batch([("echo", [i]) for i in range(120)]) == list(range(120))
    assert [lines for lines, _ in bursts] == [10] * 12
    assert max(unanswered for _, unanswered in bursts) == 40
    # ... but never a fifth unanswered chunk: a gate of 41 is never reached.
    fake.gate = 41
    before = len(fake.requests)
    start = time.monotonic()
    with pytest.raises(BackendTimeout):
        rpc(c).batch([("echo", [i]) for i in range(100)])
    assert time.monotonic() - start < 1 + MARGIN
    assert len(fake.requests) - before == 40


def test_replies_in_any_order_between_notifications(fake: FakeElectrum) -> None:
    fake.handlers["echo"] = echo
    fake.handlers["blockchain.scripthash.subscribe"] = lambda params: None
    c = client(fake, timeout=5, batch_size=10)
    seen: list[list[Any]] = []
    rpc(c).add_listener(lambda method, params: seen.append(params))
    rpc(c).subscribe_scripthashes([SH])  # notifications of scripts not subscribed are ignored
    statuses = [f"{n:064x}" for n in range(30)]
    fake.gate, fake.reverse = 30, True
    fake.between = [notification("blockchain.scripthash.subscribe", [SH, s]) for s in statuses]
    fake.between[7] = notification("some.unknown.notification", [1]) + fake.between[7]
    assert rpc(c).batch([("echo", [i]) for i in range(30)]) == list(range(30))
    # every notification before the last reply was read and handed on, in order
    assert seen == [[SH, s] for s in statuses[:29]]
    fake.gate = 0
    c.ping()  # nothing left unread to confuse the next exchange
    assert seen[-1] == [SH, statuses[29]]
    assert fake.accepted == 1


def test_error_reply_is_raised_once_every_reply_is_read(fake: FakeElectrum) -> None:
    fake.handlers["echo"] = echo
    fake.handlers["boom"] = fail({"code": 7, "message": "boom"})
    c = client(fake, batch_size=10)
    calls: list[tuple[str, list[Any]]] = [("echo", [i]) for i in range(30)]
    calls[3] = ("boom", [])
    calls[25] = ("boom", [])
    with pytest.raises(ElectrumError, match="boom"):
        rpc(c).batch(calls)
    assert fake.methods().count("echo") == 28  # the whole batch went out
    # The connection is still in step: the replies after the error were consumed.
    assert rpc(c).batch([("echo", ["after"])]) == ["after"]
    assert rpc(c).connected and fake.accepted == 1


@pytest.mark.parametrize("fault", ["unknown id", "duplicate id"])
def test_reply_to_no_pending_request_mid_batch_fails_at_once(
    fake: FakeElectrum, fault: str
) -> None:
    fake.handlers["echo"] = echo
    fake.handlers["bad"] = fail_raw(b'{"jsonrpc":"2.0","id":99999,"result":1}\n')
    c = client(fake, timeout=5, batch_size=10)
    c.ping()
    calls: list[tuple[str, list[Any]]] = [("echo", [i]) for i in range(30)]
    if fault == "unknown id":
        calls[12] = ("bad", [])  # an id not sent (yet): the client counts from 1
    else:
        fake.fault = "duplicate"
    start = time.monotonic()
    with pytest.raises(BackendProtocolError, match="unknown request id"):
        rpc(c).batch(calls)
    assert time.monotonic() - start < 1  # not after the 5 s timeout
    assert not rpc(c).connected
    fake.fault = None
    assert rpc(c).batch([("echo", [1])]) == [1]
    assert fake.accepted == 2


def test_missing_reply_in_a_later_chunk_times_out(fake: FakeElectrum) -> None:
    fake.handlers["echo"] = echo
    fake.handlers["skip"] = fail_raw(b"")  # never answered
    c = client(fake, timeout=0.5, batch_size=10)
    c.ping()
    calls: list[tuple[str, list[Any]]] = [("echo", [i]) for i in range(30)]
    calls[27] = ("skip", [])
    start = time.monotonic()
    with pytest.raises(BackendTimeout):
        rpc(c).batch(calls)
    assert 0.5 <= time.monotonic() - start < 0.5 + MARGIN
    assert not rpc(c).connected


def test_timeout_is_per_chunk_not_per_batch(fake: FakeElectrum) -> None:
    """As before pipelining: each burst gets `timeout` from when the one before it was answered."""
    fake.handlers["echo"] = echo
    c = client(fake, timeout=0.5, batch_size=5)
    c.ping()
    fake.delay = 0.02  # 5 replies take 0.1 s; the 40 take 0.8 s, longer than the timeout
    start = time.monotonic()
    assert rpc(c).batch([("echo", [i]) for i in range(40)]) == list(range(40))
    assert time.monotonic() - start > 0.5
    fake.delay = 0.2  # now a chunk takes 1 s
    with pytest.raises(BackendTimeout):
        rpc(c).batch([("echo", [i]) for i in range(5)])


def test_notifications_between_replies_reach_listeners(fake: FakeElectrum) -> None:
    seen: list[tuple[str, list[Any]]] = []

    def subscribe(params: list[Any]) -> Any:
        fake.notify("blockchain.scripthash.subscribe", [SH, STATUS])
        fake.notify("blockchain.headers.subscribe", [tip_at(7)])
        fake.notify("some.unknown.notification", [1])
        return None

    fake.handlers["blockchain.scripthash.subscribe"] = subscribe
    c = client(fake)
    rpc(c).add_listener(lambda method, params: seen.append((method, params)))
    assert rpc(c).subscribe_scripthashes([SH]) == ([None], [], {})
    assert seen == [
        ("blockchain.scripthash.subscribe", [SH, STATUS]),
        ("blockchain.headers.subscribe", [tip_at(7)]),
    ]
    assert rpc(c).notifications == 2


def test_one_connection_shared_by_threads(fake: FakeElectrum) -> None:
    fake.handlers["echo"] = echo
    c = client(fake)
    results: dict[int, list[Any]] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for round_ in range(20):
                values = [f"{n}-{round_}-{i}" for i in range(10)]
                assert rpc(c).batch([("echo", [v]) for v in values]) == values
            results[n] = rpc(c).batch([("echo", [n])])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert results == {n: [n] for n in range(8)}
    assert fake.accepted == 1
    assert fake.methods().count("echo") == 8 * (20 * 10 + 1)


# -- error replies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        ("missing transaction", None, "missing transaction"),
        ({"code": 1, "message": "Too many history entries"}, 1, "Too many history entries"),
        ({"code": "x"}, None, "{'code': 'x'}"),
    ],
)
def test_error_shapes_become_electrum_errors(
    fake: FakeElectrum, error: Any, code: int | None, message: str
) -> None:
    fake.handlers["boom"] = fail(error)
    c = client(fake)
    with pytest.raises(ElectrumError) as info:
        rpc(c).call("boom")
    assert isinstance(info.value, BackendError)
    assert (info.value.code, info.value.message) == (code, message)
    assert info.value.backend == c.name
    c.ping()  # an error reply does not break the connection
    assert fake.accepted == 1


@pytest.mark.parametrize(
    "error",
    [
        'sendrawtransaction RPC error: {"code":-26,"message":"bad-txns-inputs-missingorspent"}',
        {"code": 2, "message": "sendrawtransaction RPC error -26: bad-txns-inputs-missingorspent"},
    ],
)
def test_broadcast_rejection_carries_the_node_reason(fake: FakeElectrum, error: Any) -> None:
    fake.handlers["blockchain.transaction.broadcast"] = fail(error)
    c = client(fake)
    with pytest.raises(BroadcastRejected) as info:
        c.broadcast(TX_HEX)
    assert info.value.reason == "bad-txns-inputs-missingorspent"
    assert not isinstance(info.value, BackendError)  # a verdict, not a failure: no failover
    assert fake.requests[-1][2] == [TX_HEX]


def test_broadcast_unknown_method_is_a_backend_error(fake: FakeElectrum) -> None:
    c = client(fake)
    with pytest.raises(ElectrumError) as info:
        c.broadcast(TX_HEX)
    assert info.value.code == -32601


def test_undecodable_bytes_are_refused_before_anything_is_sent(fake: FakeElectrum) -> None:
    c = client(fake)
    with pytest.raises(DecodeError):
        c.broadcast(b"\x02\x00")
    assert fake.requests == []  # core parses the transaction first


# -- faults -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("hang", BackendTimeout),
        ("close", BackendConnectError),
        ("reset", BackendConnectError),
        ("garbage", BackendProtocolError),
        ("oversized", BackendProtocolError),
    ],
)
def test_faults_end_in_typed_errors_within_the_timeout_then_reconnect(
    fake: FakeElectrum, fault: str, error: type[BackendError]
) -> None:
    fake.handlers["blockchain.transaction.get"] = lambda params: "00" * 1000
    timeout = 1.0
    c = client(fake, timeout=timeout, max_line=1 << 20)
    c.ping()
    fake.fault = fault
    start = time.monotonic()
    with pytest.raises(error) as info:
        c.get_raw_txs(["00" * 32])
    assert time.monotonic() - start < timeout + MARGIN
    assert info.value.backend == c.name
    assert not rpc(c).connected  # the stream is dropped ...
    fake.fault = None
    assert c.get_raw_txs(["00" * 32]) == [bytes(1000)]  # ... and the next call reconnects
    assert fake.accepted == 2


@pytest.mark.parametrize("tls", [True, False])
def test_server_that_never_answers_times_out(tls: bool) -> None:
    # A listening socket nobody accepts from: TCP connects (kernel backlog), then silence
    # during the TLS handshake (connect_timeout) or the server.version handshake (timeout).
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        c = ElectrumClient(f"127.0.0.1:{port}", tls, False, connect_timeout=0.5, timeout=0.7)
        start = time.monotonic()
        with pytest.raises(BackendTimeout, match="TLS handshake" if tls else "reply"):
            c.ping()
        assert time.monotonic() - start < (0.5 if tls else 0.7) + MARGIN


def test_reply_with_unknown_id_or_null_id_is_a_protocol_error(fake: FakeElectrum) -> None:
    null_id = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}\n'
    fake.handlers["bad"] = fail_raw(null_id)
    c = client(fake)
    with pytest.raises(BackendProtocolError, match="parse error"):
        rpc(c).call("bad")
    fake.handlers["bad"] = fail_raw(b'{"jsonrpc":"2.0","id":999,"result":1}\n')
    with pytest.raises(BackendProtocolError, match="unknown request id"):
        rpc(c).call("bad")
    fake.handlers["bad"] = fail_raw(b"[1,2]\n")
    with pytest.raises(BackendProtocolError, match="not a JSON object"):
        rpc(c).call("bad")


def test_reconnect_restores_subscriptions(fake: FakeElectrum) -> None:
    statuses = {SH: STATUS, "ef" * 32: None}
    fake.handlers["blockchain.scripthash.subscribe"] = lambda params: statuses[params[0]]
    fake.handlers["blockchain.headers.subscribe"] = lambda params: tip_at(1)
    c = client(fake)
    seen: list[list[Any]] = []
    rpc(c).add_listener(lambda method, params: seen.append(params))
    assert rpc(c).subscribe_scripthashes(list(statuses)) == ([STATUS, None], [], {})
    assert rpc(c).tip().height == 1
    fake.drop_all()
    statuses[SH] = "11" * 32  # changed while we were away
    c.ping()
    assert fake.accepted == 2
    second = [(m, p) for n, m, p in fake.requests if n == 2]
    assert second == [
        ("server.version", second[0][1]),
        ("blockchain.headers.subscribe", []),
        ("blockchain.scripthash.subscribe", [SH]),
        ("blockchain.scripthash.subscribe", ["ef" * 32]),
        ("server.ping", []),
    ]
    # the statuses are dispatched again, except those that did not change (not news)
    assert seen == [[tip_at(1)], [SH, "11" * 32]]


def test_wait_for_notification(fake: FakeElectrum) -> None:
    fake.handlers["blockchain.scripthash.subscribe"] = lambda params: None
    c = client(fake)
    conn = rpc(c)
    conn.subscribe_scripthashes([SH])
    start = time.monotonic()
    assert conn.wait_for_notification(conn.notifications, 0.3) is False
    assert 0.3 <= time.monotonic() - start < 0.3 + MARGIN
    seen = conn.notifications
    fake.notify("blockchain.scripthash.subscribe", [SH, STATUS])
    assert conn.wait_for_notification(seen, 5) is True
    assert conn.notifications == seen + 1


def test_idle_wait_pings_to_keep_the_connection(
    fake: FakeElectrum, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_protocol, "KEEPALIVE", 0.2)
    conn = rpc(client(fake))
    conn.call("server.ping")
    assert conn.wait_for_notification(conn.notifications, 0.7) is False
    assert 2 <= fake.methods().count("server.ping") <= 4  # the call, then one per 0.2 s idle


# -- TLS --------------------------------------------------------------------------------


def test_tls_self_signed_refused_when_validating(fake_tls: FakeElectrum) -> None:
    c = ElectrumClient(f"localhost:{fake_tls.port}", True, True)
    with pytest.raises(BackendConnectError, match="certificate"):
        c.ping()
    assert fake_tls.requests == []


def test_tls_accepted_without_validation_with_one_warning(
    fake_tls: FakeElectrum, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lwk_electrum"):
        c = ElectrumClient(f"localhost:{fake_tls.port}", True, False)
        c.ping()
        fake_tls.drop_all()
        c.ping()
    assert fake_tls.accepted == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "validate_domain=False" in warnings[0].getMessage()


def test_tls_pinned_fingerprint(
    fake_tls: FakeElectrum, self_signed: SelfSignedCert, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lwk_electrum"):
        c = ElectrumClient.from_url(
            f"ssl://localhost:{fake_tls.port}", cert_fingerprint=self_signed.fingerprint.upper()
        )
        c.ping()
    assert fake_tls.methods() == ["server.version", "server.ping"]
    assert caplog.records == []


def test_tls_wrong_fingerprint_exchanges_no_data(
    fake_tls: FakeElectrum, self_signed: SelfSignedCert
) -> None:
    wrong = "00" * 32
    c = ElectrumClient.from_url(f"ssl://localhost:{fake_tls.port}", cert_fingerprint=wrong)
    with pytest.raises(BackendConnectError, match="pinned fingerprint"):
        c.ping()
    assert fake_tls.requests == []


# -- addresses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("ssl://blockstream.info:995", "ssl://blockstream.info:995"),
        ("TCP://localhost:50001/", "tcp://localhost:50001"),
        ("tcp://[::1]:50001", "tcp://[::1]:50001"),
    ],
)
def test_from_url(url: str, name: str) -> None:
    assert ElectrumClient.from_url(url).name == name


@pytest.mark.parametrize(
    "url",
    ["http://x:1", "ssl://x", "ssl://x:notaport", "ssl://u:p@x:1", "ssl://x:1/path", "x:1", ""],
)
def test_from_url_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        ElectrumClient.from_url(url)


def test_constructor_forms() -> None:
    assert ElectrumClient("blockstream.info:465", True, True).name == "ssl://blockstream.info:465"
    assert ElectrumClient("localhost:50001", False, False).name == "tcp://localhost:50001"
    with pytest.raises(ValueError, match="from_url"):
        ElectrumClient("ssl://blockstream.info:465")
    with pytest.raises(ValueError, match="TLS"):
        ElectrumClient("localhost:1", False, cert_fingerprint="00" * 32)
    with pytest.raises(ValueError, match="fingerprint"):
        ElectrumClient("localhost:1", True, cert_fingerprint="abc")
    with pytest.raises(ValueError, match="positive"):
        ElectrumClient("localhost:1", timeout=0)
