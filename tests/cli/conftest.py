"""Fixtures for the CLI tests: `lwk` run in-process, and the fixture wallet on memory://."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import DESCRIPTOR, STEP1, Result, Run, add_fixture_tx
from lwk_memory_backend import MemoryChain, register_chain
from shared_data import unique_name

from lwk_core import Network
from lwk_core.cli import main


@pytest.fixture(autouse=True)
def _no_descriptor_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LWK_DESCRIPTOR", raising=False)


@pytest.fixture
def lwk(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run `lwk ARGS...` in this process; returns exit code, stdout and stderr."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def fixture_chain() -> Iterator[tuple[MemoryChain, str]]:
    """The fixture wallet's first step on an in-process chain, and its memory:// URL."""
    chain = MemoryChain(Network.LIQUID_TESTNET)
    name = unique_name("cli")
    register_chain(name, chain)
    for txid in STEP1["txids"]:
        add_fixture_tx(chain, txid)
    yield chain, f"memory://{name}"


@pytest.fixture
def descriptor_file(tmp_path: Path) -> Path:
    path = tmp_path / "wallet.descriptor"
    path.write_text(DESCRIPTOR + "\n")
    return path


@pytest.fixture
def closed_port() -> int:
    """A local port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
