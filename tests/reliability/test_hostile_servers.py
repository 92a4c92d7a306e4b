"""Hostile servers cannot stretch a call past its deadline, nor its memory past the caps.

Esplora: whatever the server sends, a request ends within `2 * timeout` (the server's time
for all its attempts); body caps count decoded bytes as they are decoded. Electrum: a
flood of notifications holds neither a call (its `timeout`) nor `watch(timeout=...)`.
Bounds asserted: the deadline plus `SLACK` seconds (scheduling on 2 shared cores).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_servers import (
    HOSTILE_HTTP,
    LoopbackServer,
    bomb_answer,
    flooding_proxy,
    gzip_of_zeros,
    nested_gzip_bomb,
)
from lwk_electrum import ElectrumClient
from lwk_esplora import AsyncEsploraClient, EsploraClient
from lwk_esplora._response import MAX_BODY
from lwk_regtest.testing import new_wallet_descriptor

from lwk_core import (
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    LwkError,
    Network,
    NewTip,
    Tip,
    Wollet,
)
from lwk_core.regtest import Regtest

TIMEOUT = 1.0
SLACK = 4.0  # scheduling on a loaded 2-core machine; a flood that kept a call alive would never end
ESPLORA_DEADLINE = 2 * TIMEOUT  # the server's time per request, all attempts together
CHILD = Path(__file__).with_name("memory_child.py")
FLAVOURS = ["blocking", "async"]  # both Esplora transports: the same deadline and caps


def esplora_tip(flavour: str, url: str, network: Network, **options: Any) -> Callable[[], Tip]:
    """`tip()` of a new Esplora client of `flavour` on `url`, closed after."""
    if flavour == "blocking":

        def blocking() -> Tip:
            with EsploraClient(url, network, **options) as client:
                return client.tip()

        return blocking

    async def tip() -> Tip:
        async with AsyncEsploraClient(url, network, **options) as client:
            return await client.tip()

    return lambda: asyncio.run(tip())


def ends_within(call: Callable[[], Any], limit: float) -> tuple[Any, float]:
    """Run `call` in a thread: (its result or exception, seconds); fails past `limit`."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    start = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    elapsed = time.monotonic() - start
    assert not thread.is_alive(), f"still running after {limit:g}s"
    return outcome[0], elapsed


# -- Esplora: one deadline per request ----------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("behaviour", sorted(HOSTILE_HTTP))
@pytest.mark.parametrize("max_retries", [0, 5])
def test_esplora_request_ends_by_its_deadline_whatever_arrives(
    behaviour: str, max_retries: int, flavour: str
) -> None:
    with LoopbackServer(HOSTILE_HTTP[behaviour]) as server:
        tip = esplora_tip(
            flavour, server.url, Network.ELEMENTS_REGTEST, timeout=TIMEOUT, max_retries=max_retries
        )
        outcome, elapsed = ends_within(tip, ESPLORA_DEADLINE + SLACK)
    assert isinstance(outcome, BackendTimeout), outcome
    assert elapsed >= ESPLORA_DEADLINE * 0.9  # the server had its time, no less
    assert "within 2s" in outcome.reason


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_esplora_deadline_holds_for_a_proxy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, flavour: str
) -> None:
    """An HTTP proxy named by HTTP_PROXY is a transport httpx builds itself: it too obeys."""
    with LoopbackServer(HOSTILE_HTTP["headers dripped"]) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        tip = esplora_tip(flavour, "http://esplora.invalid/api", Network.LIQUID, timeout=TIMEOUT)
        outcome, _ = ends_within(tip, ESPLORA_DEADLINE + SLACK)
    assert isinstance(outcome, BackendTimeout), outcome


# -- Esplora: memory bounded under compression ---------------------------------------------


@pytest.fixture(scope="module")
def nested_bomb() -> bytes:
    """`gzip, gzip` of 1 GiB of zeros."""
    return nested_gzip_bomb(1 << 30)


def run_child(url: str, case: str, flavour: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(CHILD), url, case, flavour],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# Peak memory the cases may add to the child (VmHWM at the end minus after its setup):
# the 4 MiB cap held twice per request (the body and its bytes copy), eight requests at
# once, plus the threads and httpx's buffers. Measured: see docs/reliability.md.
PEAK_BOUND_MIB = 80


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_nested_gzip_bomb_is_refused_with_bounded_memory(
    nested_bomb: bytes, flavour: str
) -> None:
    assert len(nested_bomb) < 4096  # what the server sends
    with LoopbackServer(bomb_answer(nested_bomb, "gzip, gzip")) as server:
        result = run_child(server.url, "tip", flavour)
    assert result["error"] == "BackendProtocolError"
    assert (result["peak"] - result["before"]) / 1024 < PEAK_BOUND_MIB
    assert result["seconds"] < 5 + SLACK


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_eight_parallel_gzip_bombs_stop_at_the_cap_with_bounded_memory(flavour: str) -> None:
    bomb = gzip_of_zeros(MAX_BODY + (64 << 20))  # each inflates 64 MiB past the cap
    with LoopbackServer(bomb_answer(bomb, "gzip")) as server:
        result = run_child(server.url, "scan8", flavour)
    assert result["error"] == "BackendProtocolError"
    assert (result["peak"] - result["before"]) / 1024 < PEAK_BOUND_MIB


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("encoding", ["gzip, gzip", "deflate", "br", "zstd", "x-unknown"])
def test_stacked_or_unaccepted_encodings_are_refused(encoding: str, flavour: str) -> None:
    with LoopbackServer(bomb_answer(b'"00"', encoding)) as server:
        tip = esplora_tip(flavour, server.url, Network.ELEMENTS_REGTEST, timeout=TIMEOUT)
        with pytest.raises(BackendProtocolError, match="encoding"):
            tip()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_gzip_body_cut_short_or_trailed_by_garbage_is_refused(flavour: str) -> None:
    body = gzip_of_zeros(1000)
    for bad in (body[:-3], body + b"more"):
        with LoopbackServer(bomb_answer(bad, "gzip")) as server:
            tip = esplora_tip(flavour, server.url, Network.ELEMENTS_REGTEST, timeout=TIMEOUT)
            with pytest.raises(BackendProtocolError, match="gzip"):
                tip()


# -- Electrum: a flood of notifications ----------------------------------------------------


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


def notification(method: str, params: list[Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode() + b"\n"


def floods(rt: Regtest) -> dict[str, bytes]:
    """Notifications that tell nothing new: what a server can send without pause."""
    tip = ElectrumClient.from_url(rt.electrum_url, timeout=5).tip()
    return {
        "unknown method": notification("server.flood", [1, 2, 3]),
        "script not subscribed": notification(
            "blockchain.scripthash.subscribe", ["ab" * 32, "cd" * 32]
        ),
        "the same tip again": notification(
            "blockchain.headers.subscribe", [{"height": tip.height, "hex": tip.header.hex()}]
        ),
    }


def upstream(rt: Regtest) -> tuple[str, int]:
    host, port = rt.electrum_url.removeprefix("tcp://").rsplit(":", 1)
    return host, int(port)


@pytest.mark.parametrize("kind", ["unknown method", "script not subscribed", "the same tip again"])
def test_electrum_calls_end_by_their_deadline_under_a_notification_flood(
    rt: Regtest, kind: str
) -> None:
    with flooding_proxy(upstream(rt), floods(rt)[kind]) as (proxy, flooding):
        client = ElectrumClient.from_url(
            f"tcp://127.0.0.1:{proxy.port}", timeout=TIMEOUT, connect_timeout=TIMEOUT
        )
        assert client.tip().height == rt.tip_height()
        flooding.set()
        for _ in range(3):
            outcome, _ = ends_within(client.tip, TIMEOUT + SLACK)
            assert isinstance(outcome, Tip | BackendError), outcome
            if isinstance(outcome, Tip):
                assert outcome.height == rt.tip_height()
        client.close()


@pytest.mark.parametrize("kind", ["unknown method", "script not subscribed", "the same tip again"])
def test_electrum_watch_ends_on_its_timeout_under_a_notification_flood(
    rt: Regtest, kind: str
) -> None:
    wollet = Wollet(Network.ELEMENTS_REGTEST, new_wallet_descriptor(f"flood {kind}".encode()))
    with flooding_proxy(upstream(rt), floods(rt)[kind]) as (proxy, flooding):
        client = ElectrumClient.from_url(
            f"tcp://127.0.0.1:{proxy.port}", timeout=TIMEOUT, connect_timeout=TIMEOUT
        )
        events = client.watch(wollet, timeout=TIMEOUT)
        assert isinstance(next(events), NewTip)  # the first sync, applied
        flooding.set()
        outcome, _ = ends_within(lambda: next(events, None), TIMEOUT + SLACK)
        client.close()
    # Nothing changed for the wallet: the watch ends (or fails typed), never yields.
    assert outcome is None or isinstance(outcome, LwkError), outcome
