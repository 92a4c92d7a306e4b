"""Helpers of the connectivity tests: a real SOCKS5 server (Debian's microsocks) on
loopback, local name resolution that fails for chosen names, a TLS front for the embedded
Esplora server (which speaks plain HTTP), and the view of a wallet that scans compare."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from lwk_regtest import Regtest
from lwk_regtest._tls import SelfSignedCert

from lwk_core import Wollet

MICROSOCKS = "microsocks"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Socks:
    """A running microsocks: its URL, and the log in which it names each destination as
    the client sent it ("client[5] 127.0.0.1: connected to localhost:4242")."""

    def __init__(self, log: Path, port: int) -> None:
        self.log_path = log
        self.port = port
        self.url = f"socks5h://127.0.0.1:{port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def connected_to(self, host: str, port: int) -> bool:
        return f"connected to {host}:{port}" in self.log()


def start_microsocks(log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Socks]:
    binary = shutil.which(MICROSOCKS)
    if binary is None:
        if os.environ.get("LWK_REQUIRE_SOCKS"):
            pytest.fail("microsocks is not installed but LWK_REQUIRE_SOCKS is set (.ci/run)")
        pytest.skip("microsocks not installed (apt-get install microsocks); set LWK_REQUIRE_SOCKS")
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "-i", "127.0.0.1", "-p", str(port), *extra], stdout=out, stderr=out
        )
    # Wait until it listens: generous (10 s, a loaded machine), it is up in milliseconds.
    end = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > end:
                proc.kill()
                pytest.fail(f"microsocks did not start: {log.read_text(errors='replace')}")
            time.sleep(0.05)
    return proc, Socks(log, port)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Resolver:
    """socket.getaddrinfo that fails for the names in `refused`, recording every name asked."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.refused: set[str] = set()
        self.asked: list[str] = []

    def __call__(self, host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        self.asked.append(name)
        if name in self.refused:
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: refused by the test resolver")
        return self.real(host, *args, **kwargs)


class TlsFront:
    """TLS in front of a plain TCP server (on `port`, 0: any): `https://localhost:port` for
    the embedded Esplora server, or an Electrum server with another certificate. `forwarded`
    counts the bytes that reached the server behind it (none when a client refuses the
    certificate)."""

    def __init__(self, cert: SelfSignedCert, backend_port: int, port: int = 0) -> None:
        self.cert = cert
        self.backend_port = backend_port
        self.forwarded = 0
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> TlsFront:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(
                self._serve, "127.0.0.1", self.port, ssl=self.cert.server_context()
            ),
            self._loop,
        ).result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __enter__(self) -> TlsFront:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            pipes = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pipes:
                task.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, up: bool) -> None:
            try:
                while data := await src.read(65536):
                    if up:
                        self.forwarded += len(data)
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))


FUNDED_SATS = 95_000


@attrs.frozen
class Funded:
    """A wallet the faucet paid: 70,000 sats confirmed, 25,000 unconfirmed."""

    descriptor: str
    txids: frozenset[str]


def fund(rt: Regtest, descriptor: str) -> Funded:
    wollet = Wollet(rt.network, descriptor)
    confirmed = rt.faucet(wollet.address(0).address(), 70_000)
    rt.mine(1)
    unconfirmed = rt.faucet(wollet.address(1).address(), 25_000)
    return Funded(descriptor, frozenset({confirmed, unconfirmed}))


def _wallet_view(wollet: Wollet, tip: int) -> dict[str, Any]:
    return {
        "tip": tip,
        "balance": wollet.balance().btc_balance(),
        "txs": [
            (t.txid, t.height, t.timestamp, t.type, t.fee, dict(t.balance))
            for t in wollet.transactions()
        ],
        "utxos": sorted((u.outpoint.txid, u.outpoint.vout, u.value) for u in wollet.utxos()),
    }


def view(client: Any, rt: Regtest, descriptor: str) -> dict[str, Any]:
    """What a fresh wallet shows after a full scan by `client` (a blocking client or chain)."""
    wollet = Wollet(rt.network, descriptor)
    update = client.full_scan(wollet)
    if update is not None:
        wollet.apply_update(update)
    return _wallet_view(wollet, client.tip().height)


async def async_view(client: Any, rt: Regtest, descriptor: str) -> dict[str, Any]:
    """The same through an async client (closed after)."""
    async with client:
        wollet = Wollet(rt.network, descriptor)
        update = await client.full_scan(wollet)
        if update is not None:
            wollet.apply_update(update)
        return _wallet_view(wollet, (await client.tip()).height)
