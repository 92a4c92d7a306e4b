"""`lwk` as a new user meets it: help, mistakes, unreachable servers, bad descriptors."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from cli_support import DESCRIPTOR, SECRET_PARTS, Run, assert_no_secret, one_line
from lwk_memory_backend import MemoryChain, register_chain
from shared_data import unique_name

from lwk_core import DescriptorError, Network, WolletDescriptor
from lwk_core.cli import ExitCode
from lwk_core.plugin.manager import list_plugins

COMMANDS = [
    ["plugins"],
    ["tip"],
    ["sync"],
    ["balance"],
    ["txs"],
    ["address"],
    ["broadcast"],
    ["watch"],
    ["regtest"],
    ["regtest", "serve"],
    ["demo"],
]
BARE = DESCRIPTOR.split("#")[0]


def test_help_lists_every_command_and_the_exit_codes(lwk: Run) -> None:
    result = lwk("--help")
    assert result.code == 0 and result.err == ""
    for command in {c[0] for c in COMMANDS}:
        assert f"\n    {command} " in result.out or f"\n    {command}\n" in result.out
    assert "exit codes: 0 ok, 1 error, 2 usage" in result.out
    assert "130 interrupted" in result.out


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_each_command_has_help(lwk: Run, command: list[str]) -> None:
    result = lwk(*command, "--help")
    assert result.code == 0
    assert result.out.startswith(f"usage: lwk {' '.join(command)}")
    assert "--json" in result.out and "--debug" in result.out


def test_exit_codes_are_the_documented_ones() -> None:
    documented = {"OK": 0, "ERROR": 1, "USAGE": 2, "BACKEND": 3, "DESCRIPTOR": 4}
    documented |= {"REJECTED": 5, "INTERRUPTED": 130}
    assert {code.name: int(code) for code in ExitCode} == documented


def test_no_command_shows_help_and_is_a_usage_error(lwk: Run) -> None:
    result = lwk()
    assert result.code == ExitCode.USAGE
    assert result.out.startswith("usage: lwk")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["txs", "--bogus"], "unrecognized arguments: --bogus"),
        (["sync", "--gap-limit", "0"], "must be at least 1"),
        (["balance", "--network", "mars"], "unknown network 'mars'"),
        (["address", "--index", "-1"], "must be between 0 and 2^31-1"),
        (["tip"], "the following arguments are required: URL"),
        (["watch", "--interval", "soon"], "not a number: 'soon'"),
        (["sync", "--descriptor", "x", "--descriptor-file", "y"], "not allowed with argument"),
        (["sync", "--descriptor", BARE], "no backend: give --backend URL"),
        (["balance", "--descriptor", BARE], "give --backend URL to sync now, or --datadir"),
        (["balance", "--backend", "memory://x"], "no descriptor: give --descriptor-file"),
        (
            ["txs", "--backend", "memory://x", "--descriptor-file", "/nonexistent/d"],
            "cannot read the descriptor file: No such file or directory",
        ),
        (["tip", "http://127.0.0.1:1"], "http://127.0.0.1:1 needs --network"),
    ],
)
def test_wrong_arguments_exit_2_with_one_line(lwk: Run, args: list[str], says: str) -> None:
    result = lwk(*args)
    assert result.code == 2
    line = one_line(result.err)
    assert line.startswith(f"lwk {args[0]}: error: ") or line.startswith("lwk: error: ")
    assert says in line
    assert line.endswith("--help')")
    assert result.out == ""
    assert_no_secret(result.err)


def test_a_descriptor_given_where_it_does_not_belong_is_masked(lwk: Run) -> None:
    result = lwk("balance", "--backend", "memory://x", DESCRIPTOR)
    assert result.code == 2
    assert "unrecognized arguments: <descriptor>" in one_line(result.err)
    assert_no_secret(result.err)


def test_unknown_scheme_names_the_installed_ones(lwk: Run) -> None:
    result = lwk("tip", "gopher://example.org:70")
    assert result.code == 2
    line = one_line(result.err)
    assert "no backend plugin handles gopher://" in line
    for plugin in list_plugins():
        for scheme in plugin.schemes:
            assert f"{scheme}:// ({plugin.name})" in line
    assert {"tcp", "ssl", "http", "https", "memory"} <= {
        s for p in list_plugins() for s in p.schemes
    }


def test_unknown_scheme_in_a_wallet_command(lwk: Run) -> None:
    result = lwk("sync", "--descriptor", BARE, "--network", "testnet", "--backend", "gopher://x:1")
    assert result.code == 2
    assert "no backend plugin handles gopher://" in one_line(result.err)


def test_unreachable_server_fails_fast_with_exit_3(lwk: Run, closed_port: int) -> None:
    start = time.monotonic()
    result = lwk("tip", f"tcp://127.0.0.1:{closed_port}")
    assert time.monotonic() - start < 5
    assert result.code == ExitCode.BACKEND
    line = one_line(result.err)
    assert line.startswith(f"lwk: error: tcp://127.0.0.1:{closed_port}: cannot connect")
    assert "Traceback" not in result.err


def test_every_backend_down_names_each_cause(lwk: Run, closed_port: int) -> None:
    urls = [f"tcp://127.0.0.1:{closed_port}", "memory://no-such-chain"]
    result = lwk(
        "sync",
        "--descriptor",
        BARE,
        "--network",
        "testnet",
        "--backend",
        urls[0],
        "--backend",
        urls[1],
    )
    assert result.code == 3
    warning, error = result.err.strip().split("\n")
    assert warning.startswith(f"lwk: warning: scan failed on {urls[0]}")
    assert warning.endswith(f"failing over to {urls[1]}")
    assert error.startswith("lwk: error: all 2 backends failed")
    assert f"{urls[0]}: BackendConnectError" in error
    assert f"{urls[1]}: BackendConnectError: no such chain" in error
    assert_no_secret(result.err)


def test_debug_shows_the_traceback(lwk: Run, closed_port: int) -> None:
    result = lwk("tip", f"tcp://127.0.0.1:{closed_port}", "--debug")
    assert result.code == 3
    assert "Traceback (most recent call last)" in result.err
    assert "BackendConnectError" in result.err


@pytest.mark.parametrize(
    "bad",
    [
        BARE + "#qqqqqqqq",  # wrong checksum
        BARE.replace("tpubDC3B", "tpubDC3C"),  # a corrupted key
        BARE[BARE.index("elwpkh") : -1],  # no ct() blinding wrapper
        BARE.replace("slip77(ac", "slip77(zz"),  # blinding key not hex
    ],
    ids=["checksum", "key", "not-ct", "blinding-key"],
)
def test_bad_descriptor_exit_4_says_why_without_echoing_it(
    lwk: Run, bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DescriptorError) as expected:  # the library's own verdict on it
        WolletDescriptor(bad)
    for source in (["--descriptor", bad], ["--descriptor-file", "-"]):
        monkeypatch.setattr(sys, "stdin", io.StringIO(bad))
        result = lwk("balance", "--backend", "memory://x", *source)
        assert result.code == ExitCode.DESCRIPTOR
        assert one_line(result.err) == f"lwk: error: {expected.value}"
        assert bad not in result.err
        assert_no_secret(result.err)


def test_descriptor_of_the_wrong_network_is_exit_4(lwk: Run) -> None:
    result = lwk("balance", "--descriptor", BARE, "--network", "liquid", "--backend", "memory://x")
    assert result.code == 4
    assert one_line(result.err) == (
        "lwk: error: the descriptor's keys are for a test network, not liquid"
    )


def test_test_network_keys_need_the_network_named(lwk: Run) -> None:
    """tpub keys serve liquidtestnet and elementsregtest alike: no guess, a usage error."""
    result = lwk("balance", "--descriptor", BARE, "--backend", "memory://x")
    assert result.code == 2
    assert "the descriptor's keys are for a test network: give --network" in result.err


def test_a_server_of_another_network_is_named_with_both(lwk: Run) -> None:
    chain = MemoryChain(Network.LIQUID_TESTNET)
    name = unique_name("cli-testnet")
    register_chain(name, chain)
    url = f"memory://{name}"
    result = lwk("sync", "--descriptor", BARE, "--network", "regtest", "--backend", url)
    assert result.code == 3
    assert one_line(result.err) == (
        f"lwk: error: {url}: the server serves liquidtestnet (genesis "
        f"{Network.LIQUID_TESTNET.genesis_hash}), the wallet follows elementsregtest "
        "(not pinned to a chain yet)"
    )


def test_secret_parts_are_meaningful() -> None:
    # guard for assert_no_secret: the blinding key and the xpub are what it looks for
    assert len(SECRET_PARTS) == 2 and all(part in DESCRIPTOR for part in SECRET_PARTS)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "LWK_DESCRIPTOR"}


def test_python_m_lwk_core_is_the_cli(closed_port: int) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "lwk_core", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0
    names = {p["name"] for p in json.loads(ok.stdout)}
    assert {"electrum", "esplora"} <= names
    down = subprocess.run(
        [sys.executable, "-m", "lwk_core", "tip", f"tcp://127.0.0.1:{closed_port}"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert down.returncode == 3
    assert one_line(down.stderr).startswith("lwk: error: tcp://127.0.0.1:")


def test_the_console_script_is_installed() -> None:
    exe = shutil.which("lwk", path=os.path.dirname(sys.executable))
    assert exe is not None, "pip install -e . installs the lwk console script"
    result = subprocess.run(
        [exe, "sync", "--gap-limit", "x"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert one_line(result.stderr).startswith("lwk sync: error: argument --gap-limit")
