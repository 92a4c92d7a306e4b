"""The third-party test distribution (tests/thirdparty_plugin) passes the conformance kit.

Its network backend, `tinyesplora://` (package lwk_tiny_esplora: standard library HTTP and
the public SDK only), is reached through `connect()` as any installed plugin is, against the
embedded Esplora server, whose faults the kit and the tests below switch on. (Its `memory://`
backend answers from an in-process chain: there is no server for the kit's faults to reach.)
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from lwk_regtest import Regtest
from lwk_regtest.testing import BackendConformance

from lwk_core import (
    BackendConnectError,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    Client,
    PluginError,
    RateLimited,
    connect,
)


def tiny_url(rt: Regtest) -> str:
    return rt.esplora_url.replace("http://", "tinyesplora://", 1)


class TestTinyEsploraConformance(BackendConformance):
    offers_spv = True

    def make_backend(self, rt: Regtest, *, timeout: float) -> Client:
        return connect(tiny_url(rt), rt.network, timeout=timeout)

    def set_fault(self, rt: Regtest, mode: str | None, remaining: int | None = None) -> None:
        rt.esplora_faults.set(mode, remaining)


@pytest.fixture
def client(lwk_regtest: Regtest) -> Iterator[Client]:
    client = connect(tiny_url(lwk_regtest), lwk_regtest.network, timeout=2.0)
    yield client
    client.close()
    lwk_regtest.esplora_faults.set(None)


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("refuse", BackendConnectError),  # closed before answering
        ("reset", BackendConnectError),  # half an answer, then RST
        ("truncate", BackendConnectError),  # half an answer under the full Content-Length
        ("garbage", BackendProtocolError),  # 200 with a body of no route's type
        ("oversized", BackendProtocolError),  # 200 with a 32 MiB body
        ("http500", BackendProtocolError),
        ("http429", RateLimited),
    ],
)
def test_each_server_fault_is_a_typed_backend_error(
    lwk_regtest: Regtest, client: Client, mode: str, error: type[BackendError]
) -> None:
    lwk_regtest.esplora_faults.set(mode)
    with pytest.raises(error) as info:  # not a BackendTimeout: none waits for the timeout
        client.tip()
    assert info.value.backend == tiny_url(lwk_regtest)  # host and port only


def test_a_kept_connection_the_server_closed_is_reopened(
    lwk_regtest: Regtest, client: Client
) -> None:
    client.ping()
    lwk_regtest.esplora_faults.set("refuse", remaining=1)  # the kept connection is dropped
    assert client.tip().height == lwk_regtest.chain.tip_height()


@pytest.fixture
def trickling_server() -> Iterator[str]:
    """A server that answers 200 with a 1,000-byte body, one byte every 50 ms: every socket
    read gets data well within any timeout, only a deadline on the whole answer ends it."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, contextlib.suppress(OSError):  # the client hangs up at its deadline
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(1000):
                if done.wait(0.05):
                    return
                conn.sendall(b"1")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"tinyesplora://127.0.0.1:{listener.getsockname()[1]}"
    done.set()
    thread.join()
    listener.close()


def test_a_trickled_answer_cannot_outlast_the_timeout(trickling_server: str) -> None:
    client = connect(trickling_server, None, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(BackendTimeout):
        client.ping()
    assert time.monotonic() - started < 5  # not the 50 s the whole answer takes
    client.close()


@pytest.mark.parametrize(
    ("url", "options", "error"),
    [
        ("tinyesplora://127.0.0.1:1", {"verify": False}, TypeError),
        ("tinyesplora://user:secret@127.0.0.1:1", {}, PluginError),
        ("tinyesplora://127.0.0.1:notaport", {}, PluginError),
        ("tinyesplora://127.0.0.1:1", {"timeout": 0}, PluginError),
    ],
)
def test_bad_urls_and_options_are_refused_before_any_io(
    url: str, options: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error) as info:
        connect(url, None, **options)
    assert "secret" not in str(info.value)
