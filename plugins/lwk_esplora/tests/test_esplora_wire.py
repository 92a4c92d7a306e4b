"""What both transports put on the wire and read back when they send through httpcore's
pool themselves (no `transport=` given): a socket server that records each request and
answers with canned bytes (RFC 9112 framing)."""

from __future__ import annotations

import asyncio
import gzip
import os
import resource
import socket
import threading
from collections.abc import Iterator

import pytest
from lwk_esplora import _ahttp, _http, _response

from lwk_core import BackendConnectError, BackendProtocolError, Network


class RawServer:
    """Answers requests with the canned answers in turn, on as many connections as the
    client opens one after the other, recording the requests' bytes (head and body) and
    the connections. An answer that holds `Connection: close` ends its connection."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        data = b""
        while self.answers:
            while b"\r\n\r\n" not in data:
                more = conn.recv(65536)
                if not more:
                    return
                data += more
            head, _, data = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(data) < length:
                data += conn.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + data[:length])
            data = data[length:]
            answer = self.answers.pop(0)
            conn.sendall(answer)
            if b"\r\nConnection: close\r\n" in answer:
                return

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


def settings(port: int) -> _response.Settings:
    return _response.Settings(
        f"http://127.0.0.1:{port}/api",
        Network.LIQUID_TESTNET,
        headers={"X-Custom": "yes"},
        token="s3cret",
        allow_insecure_auth=True,
        max_retries=1,
    )


def send(flavour: str, port: int, method: str, path: str, content: bytes | None) -> _response.Reply:
    """One request through the blocking or the async session (no custom transport)."""
    idempotent = method == "GET"
    if flavour == "blocking":
        session = _http.HttpSession(settings(port), transport=None)
        try:
            return session.request(method, path, route="r", content=content, idempotent=idempotent)
        finally:
            session.close()

    async def run() -> _response.Reply:
        asession = _ahttp.AsyncHttpSession(settings(port), transport=None)
        try:
            return await asession.request(
                method, path, route="r", content=content, idempotent=idempotent
            )
        finally:
            await asession.close()

    return asyncio.run(run())


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[RawServer]:
    raw = RawServer(request.param)
    yield raw
    raw.close()


FLAVOURS = ["blocking", "async"]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("server", [[OK]], indirect=True)
def test_a_post_carries_host_length_token_and_headers(server: RawServer, flavour: str) -> None:
    reply = send(flavour, server.port, "POST", "/tx", b"0200abcd")
    assert (reply.status, reply.body) == (200, b"ok")
    [raw] = server.requests
    head, _, body = raw.partition(b"\r\n\r\n")
    start, *lines = head.split(b"\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines)}
    assert start == b"POST /api/tx HTTP/1.1"
    assert headers[b"host"] == b"127.0.0.1:%d" % server.port
    assert headers[b"content-length"] == b"8"
    assert headers[b"authorization"] == b"Bearer s3cret"
    assert headers[b"x-custom"] == b"yes"
    assert headers[b"accept-encoding"] == b"gzip"
    assert body == b"0200abcd"


GZIPPED = gzip.compress(b"1234")
RATE_LIMITED = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n"
COMPRESSED = (
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(GZIPPED)
    + GZIPPED
)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("server", [[RATE_LIMITED, COMPRESSED]], indirect=True)
def test_retry_after_and_content_encoding_are_read_from_the_raw_headers(
    server: RawServer, flavour: str
) -> None:
    reply = send(flavour, server.port, "GET", "/blocks/tip/height", None)
    assert (reply.status, reply.body) == (200, b"1234")
    assert [r.split(b"\r\n")[0] for r in server.requests] == [
        b"GET /api/blocks/tip/height HTTP/1.1"
    ] * 2


TOO_BIG = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (_response.MAX_BODY + 1)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("server", [[TOO_BIG]], indirect=True)
def test_a_declared_length_over_the_cap_is_refused(server: RawServer, flavour: str) -> None:
    with pytest.raises(BackendProtocolError, match="exceeds the 4194304 byte cap"):
        send(flavour, server.port, "GET", "/blocks/tip/height", None)


@pytest.mark.parametrize("server", [[OK, OK]], indirect=True)
@pytest.mark.parametrize("files_open", [0, 1100], ids=["few files open", "1,100 files open"])
def test_keep_alive_connections_are_reused(server: RawServer, files_open: int) -> None:
    """Also when the connection's descriptor is above select()'s limit (FD_SETSIZE, 1024):
    a process with many files open (a long test run, a server) reuses its connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < files_open + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, files_open + 100), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(files_open)]
    session = _http.HttpSession(settings(server.port), transport=None)
    try:
        for _ in range(2):
            assert session.request("GET", "/blocks/tip/height", route="r").body == b"ok"
    finally:
        session.close()
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert (len(server.requests), server.connections) == (2, 1)


UNTIL_CLOSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 100_000
INTERIM = b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK


@pytest.mark.parametrize(
    ("server", "body"),
    [([UNTIL_CLOSE, OK], b"x" * 100_000), ([INTERIM, OK], b"ok")],
    indirect=["server"],
    ids=["body until the connection closes", "interim answers first"],
)
def test_a_connection_that_cannot_serve_again_is_not_reused(server: RawServer, body: bytes) -> None:
    """The body of an answer that ends with its connection is read whole; after interim
    (1xx) answers the answer follows, and the connection is not used again."""
    session = _http.HttpSession(settings(server.port), transport=None)
    try:
        assert session.request("GET", "/blocks/tip/height", route="r").body == body
        assert session.request("GET", "/blocks/tip/height", route="r").body == b"ok"
    finally:
        session.close()
    assert (len(server.requests), server.connections) == (2, 2)


CUT = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n1234"


@pytest.mark.parametrize("server", [[CUT, CUT]], indirect=True)
def test_a_body_cut_short_is_a_dropped_connection(server: RawServer) -> None:
    session = _http.HttpSession(settings(server.port), transport=None)
    try:
        with pytest.raises(BackendConnectError, match="RemoteProtocolError: IncompleteRead"):
            session.request("GET", "/blocks/tip/height", route="r")
    finally:
        session.close()
    assert len(server.requests) == 2  # retried once (max_retries=1), as a dropped connection


@pytest.mark.parametrize("server", [[OK, OK, UNTIL_CLOSE, OK]], indirect=True)
def test_the_async_session_reuses_a_connection_until_it_ends(server: RawServer) -> None:
    """Its own connections (`_aconnections`): one kept while answers are read whole, a new
    one after an answer that ended its connection."""

    async def bodies() -> list[bytes]:
        session = _ahttp.AsyncHttpSession(settings(server.port), transport=None)
        try:
            return [
                (await session.request("GET", "/blocks/tip/height", route="r")).body
                for _ in range(4)
            ]
        finally:
            await session.close()

    assert asyncio.run(bodies()) == [b"ok", b"ok", b"x" * 100_000, b"ok"]
    assert (len(server.requests), server.connections) == (4, 2)
