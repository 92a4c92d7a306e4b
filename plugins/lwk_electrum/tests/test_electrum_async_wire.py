"""The asyncio connection against the scriptable fake server: pipelined bursts and their
window, replies by id between notifications, timeouts, TLS refusals, and cancellation.

The fake server proves pipelining (`gate`: no reply until n requests arrived) and matching
by id (`reverse`, `between`), as it does for the blocking connection.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from electrum_fake import FakeElectrum, notification
from lwk_electrum import AsyncElectrumClient, _protocol
from lwk_electrum._aio_connection import AsyncElectrumConnection

from lwk_core import BackendConnectError, BackendError, BackendProtocolError, BackendTimeout

T = TypeVar("T")
MARGIN = 0.5
SH = "5e" * 32


def arun(main: Callable[[], Awaitable[T]]) -> T:
    async def wrapped() -> T:
        return await main()

    return asyncio.run(wrapped())


def client(fake: FakeElectrum, **kw: Any) -> AsyncElectrumClient:
    return AsyncElectrumClient(fake.hostport, False, **kw)


def rpc(c: AsyncElectrumClient) -> AsyncElectrumConnection:
    return c.connection.rpc


def echo(params: list[Any]) -> Any:
    return params[0]


def test_a_batch_is_pipelined_in_a_window_and_matched_by_id(fake: FakeElectrum) -> None:
    fake.handlers["echo"] = echo
    fake.handlers[SH] = echo

    async def main() -> None:
        async with client(fake, timeout=1, batch_size=10) as c:
            await c.ping()
            # Replies withheld until 40 requests arrived, then sent backwards with
            # notifications between them: 4 chunks of 10 go out before any reply is read.
            fake.gate, fake.reverse = 40, True
            fake.between = [notification("blockchain.relayfee", [])]
            assert await rpc(c).batch([("echo", [i]) for i in range(120)]) == list(range(120))
            assert rpc(c).requests["echo"] == 120
            # ... but never a fifth unanswered chunk: a gate of 41 is never reached.
            fake.gate = 41
            before = len(fake.requests)
            start = time.monotonic()
            with pytest.raises(BackendTimeout):
                await rpc(c).batch([("echo", [i]) for i in range(100)])
            assert time.monotonic() - start < 1 + MARGIN
            assert len(fake.requests) - before == 40
            assert not rpc(c).connected  # a timed-out stream is dropped
            fake.gate = 0
            assert await rpc(c).call("echo", 7) == 7  # ... and the next call reconnects
            assert fake.accepted == 2

    arun(main)


def test_a_cancelled_batch_leaves_the_stream_and_its_late_replies_are_discarded(
    fake: FakeElectrum,
) -> None:
    fake.handlers["echo"] = echo

    async def main() -> None:
        async with client(fake, timeout=5) as c:
            await c.ping()
            fake.gate, fake.reverse = 13, True  # 10 of the cancelled batch and 3 more
            task = asyncio.create_task(rpc(c).batch([("echo", [i]) for i in range(10)]))
            await asyncio.sleep(0.2)
            assert task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert rpc(c).connected
            # The 3 are answered together with the 10 late ones, all backwards.
            assert await rpc(c).batch([("echo", [i]) for i in range(3)]) == [0, 1, 2]
            assert fake.accepted == 1

    arun(main)


def test_concurrent_batches_are_in_flight_together_on_one_stream(fake: FakeElectrum) -> None:
    fake.handlers["echo"] = echo

    async def main() -> None:
        async with client(fake, timeout=2) as c:
            await c.ping()
            # No reply until 5 tasks' 8 requests each have arrived: taking turns one
            # batch at a time would never be answered.
            fake.gate, fake.reverse = 40, True
            batches = [[("echo", [10 * t + i]) for i in range(8)] for t in range(5)]
            results = await asyncio.gather(*(rpc(c).batch(b) for b in batches))
            assert results == [[10 * t + i for i in range(8)] for t in range(5)]
            assert fake.accepted == 1

    arun(main)


def test_a_read_wakes_the_tasks_it_answers_not_every_task_in_flight(
    fake: FakeElectrum, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 one-request calls in flight, answered one reply at a time (10 ms apart): each
    task waits in `_recv` until its own reply is read, taking the turn to read
    when no one else is. Waking every waiting task at every read (as taking turns on a
    read lock did) costs about 40 * 40 / 2 calls; one task's call per read and one per
    reply is at most 2 * 40, however the replies are split into reads."""
    fake.handlers["echo"] = echo
    tasks = 40

    async def main() -> int:
        async with client(fake, timeout=5) as c:
            await c.ping()
            conn = rpc(c)
            calls = 0
            recv = conn._recv

            async def counting(*args: Any) -> bool:
                nonlocal calls
                calls += 1
                return await recv(*args)

            monkeypatch.setattr(conn, "_recv", counting)
            fake.delay = 0.01
            answers = await asyncio.gather(*(conn.call("echo", t) for t in range(tasks)))
            assert answers == list(range(tasks))
            assert fake.accepted == 1
            return calls

    assert arun(main) <= 2 * tasks


def test_subscriptions_of_a_cancelled_subscribe_are_not_kept(fake: FakeElectrum) -> None:
    async def main() -> None:
        async with client(fake, timeout=5) as c:
            await c.ping()
            fake.gate = 1000
            task = asyncio.create_task(rpc(c).subscribe_scripthashes([SH]))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert rpc(c).protocol.subscriptions.scripthashes == {}
            fake.gate = 0
            fake.drop_all()
            before = len(fake.requests)
            await c.ping()  # reconnects: nothing to restore
            assert [m for _, m, _ in fake.requests[before:]] == ["server.version", "server.ping"]

    arun(main)


def test_one_failure_fails_the_calls_sharing_its_stream_then_all_reconnect(
    fake: FakeElectrum,
) -> None:
    fake.handlers["echo"] = echo

    async def main() -> None:
        async with client(fake, timeout=2) as c:
            await c.ping()
            fake.fault = "garbage"
            results = await asyncio.gather(
                *(rpc(c).batch([("echo", [t])]) for t in range(4)), return_exceptions=True
            )
            assert all(isinstance(r, BackendError) for r in results), results
            assert any(isinstance(r, BackendProtocolError) for r in results)
            fake.fault = None
            before = fake.accepted
            assert await asyncio.gather(*(rpc(c).call("echo", t) for t in range(4))) == [0, 1, 2, 3]
            assert fake.accepted == before + 1  # one reconnect serves them all

    arun(main)


def test_waiting_for_notifications_pings_and_lets_calls_through(
    fake: FakeElectrum, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.handlers["blockchain.scripthash.subscribe"] = lambda params: None
    fake.handlers["echo"] = echo
    monkeypatch.setattr(_protocol, "KEEPALIVE", 0.2)

    async def main() -> None:
        async with client(fake, timeout=2) as c:
            conn = rpc(c)
            await conn.subscribe_scripthashes([SH])
            start = time.monotonic()
            assert await conn.wait_for_notification(conn.notifications, 0.7) is False
            assert 0.7 <= time.monotonic() - start < 0.7 + MARGIN
            assert 2 <= fake.methods().count("server.ping") <= 4  # one per 0.2 s idle
            seen = conn.notifications
            waiting = asyncio.create_task(conn.wait_for_notification(seen, 5))
            assert await conn.call("echo", 1) == 1  # answered while another task waits
            fake.notify("blockchain.scripthash.subscribe", [SH, "ab" * 32])
            assert await waiting is True
            assert conn.notifications == seen + 1

    arun(main)


@pytest.mark.parametrize("tls", [True, False])
def test_server_that_never_answers_times_out(tls: bool) -> None:
    # A listening socket nobody accepts from: TCP connects (kernel backlog), then silence
    # during the TLS handshake (connect_timeout) or the server.version handshake (timeout).
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]

        async def main() -> None:
            c = AsyncElectrumClient(
                f"127.0.0.1:{port}", tls, False, connect_timeout=0.5, timeout=0.7
            )
            async with c:
                start = time.monotonic()
                with pytest.raises(BackendTimeout, match="TLS handshake" if tls else "reply"):
                    await c.ping()
                assert time.monotonic() - start < (0.5 if tls else 0.7) + MARGIN

        arun(main)


def test_refused_is_a_connect_error_naming_the_backend() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    c = AsyncElectrumClient(f"127.0.0.1:{port}", False)

    async def main() -> None:
        async with c:
            with pytest.raises(BackendConnectError) as info:
                await c.ping()
            assert info.value.backend == f"tcp://127.0.0.1:{port}"

    arun(main)


def test_tls_self_signed_refused_and_wrong_pin_sends_nothing(fake_tls: FakeElectrum) -> None:
    async def main() -> None:
        async with AsyncElectrumClient(fake_tls.hostport, True, True) as c:
            with pytest.raises(BackendConnectError, match="certificate"):
                await c.ping()
        wrong = AsyncElectrumClient.from_url(
            f"ssl://{fake_tls.hostport}", cert_fingerprint="ab" * 32
        )
        async with wrong:
            with pytest.raises(BackendConnectError, match="pinned"):
                await wrong.ping()

    arun(main)
    assert fake_tls.requests == []
