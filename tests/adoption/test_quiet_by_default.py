"""An application that configured no logging gets nothing on stderr from lwk-core, even on a
failover, and importing and using it raises no warning (run under `python -W error`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import lwk_core
    from lwk_core import AllBackendsFailed, BackendChain, Network
    from lwk_memory_backend import MemoryChain, register_chain

    with __import__("socket").socket() as s:  # a port nobody listens on: refused at once
        s.bind(("127.0.0.1", 0))
        down = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    register_chain("quiet", MemoryChain(Network.ELEMENTS_REGTEST))
    chain = BackendChain([down, "memory://quiet"], network=Network.ELEMENTS_REGTEST)
    print(chain.tip().height)
    try:
        BackendChain([down], network=Network.ELEMENTS_REGTEST).tip()
    except AllBackendsFailed as e:
        print(type(e.causes[0][1]).__name__)
    """
)


def _run(prelude: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", prelude + SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_failover_prints_nothing_when_logging_is_unconfigured() -> None:
    done = _run("")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.split() == ["0", "BackendConnectError"]


def test_the_same_failover_is_logged_once_the_application_configures_logging() -> None:
    done = _run("import logging; logging.basicConfig()\n")
    assert done.returncode == 0, done.stderr
    assert "failing over to memory://quiet" in done.stderr
    assert "failed on every backend" in done.stderr
