"""`lwk regtest serve` as a CLI-only user meets it: the printed URLs and fingerprint, and a
payment made with `lwk regtest faucet` and `lwk regtest mine` from another process."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lwk as lwk_wheel  # LWK, the oracle
import pytest
from cli_support import Result, Run
from lwk_regtest import DEFAULT_SIGNERS, BlockSigners
from shared_data import interruptible

from lwk_core.cli import ExitCode

LWK = [sys.executable, "-m", "lwk_core"]
PAID = 50_000


OTHERS = BlockSigners(BlockSigners.generate(2, 5).seeds[2:], 2, dynafed=True)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LWK_")}


def lwk_process(*args: str) -> Result:
    """`lwk ARGS...` in a process of its own, as from another terminal."""
    done = subprocess.run(
        [*LWK, *args], capture_output=True, text=True, env=_env(), timeout=120, check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


Serve = Callable[..., tuple[subprocess.Popen[str], str]]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start `lwk regtest serve --state-dir DIR [FLAGS]`; returns it and its first output
    (up to the last line of the text facts, or the JSON line)."""
    procs: list[subprocess.Popen[str]] = []

    def start(*flags: str) -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(
            [*LWK, "regtest", "serve", "--state-dir", str(tmp_path / "state"), *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            preexec_fn=interruptible,
        )
        procs.append(proc)
        assert proc.stdout is not None
        if "--json" in flags:
            return proc, proc.stdout.readline()
        lines = []
        while not lines or not lines[-1].startswith("  lwk watch"):
            line = proc.stdout.readline()
            assert line, "serve ended early"
            lines.append(line)
        return proc, "".join(lines)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _fresh_wallet() -> tuple[str, str]:
    """A regtest descriptor nothing has paid yet, and its first address (both from LWK)."""
    network = lwk_wheel.Network.regtest_default()
    entropy = hashlib.sha256(b"lwk regtest serve test").digest()[:16]
    mnemonic = lwk_wheel.Mnemonic.from_entropy(entropy)
    descriptor = lwk_wheel.Signer(mnemonic, network).wpkh_slip77_descriptor()
    address = lwk_wheel.Wollet(network, descriptor, None).address(0).address()
    return str(descriptor), str(address)


def _served_cert_sha256(ssl_url: str) -> str:
    host, port = ssl_url.removeprefix("ssl://").rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # we only read the certificate, to hash it
    with (
        socket.create_connection((host, int(port)), timeout=30) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


def test_a_payment_made_from_the_command_line_is_seen_confirmed(
    serve: Serve, lwk: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    proc, line = serve("--json")
    facts = json.loads(line)
    assert facts["network"] == "elementsregtest"
    assert facts["genesis_hash"] == str(lwk_wheel.Network.regtest_default().genesis_hash())
    assert facts["cert_fingerprint"] == _served_cert_sha256(facts["electrum_ssl_url"])
    assert Path(facts["state_file"]).stat().st_mode & 0o777 == 0o600

    descriptor, address = _fresh_wallet()
    paid = lwk_process(
        "regtest", "faucet", address, str(PAID), "--json", "--state-dir", str(tmp_path / "state")
    )
    assert paid.code == 0, paid.err
    txid = paid.json()["txid"]
    assert re.fullmatch(r"[0-9a-f]{64}", txid)
    before = lwk_process("regtest", "tip", "--json", "--state-dir", str(tmp_path / "state"))
    mined = lwk_process("regtest", "mine", "1", "--json", "--state-dir", str(tmp_path / "state"))
    assert mined.code == 0, mined.err
    assert mined.json()["height"] == before.json()["height"] + 1
    assert len(mined.json()["block_hashes"]) == 1

    monkeypatch.setenv("LWK_DESCRIPTOR", descriptor)
    # the blocks are signed by the embedded chain's federation; the facts say how to trust it
    assert facts["block_signers"] == f"elementsregtest={DEFAULT_SIGNERS.script.hex()}"
    monkeypatch.setenv("LWK_BLOCK_SIGNERS", f"elementsregtest={OTHERS.script.hex()}")
    refused = lwk("balance", "--network", "regtest", "--backend", facts["electrum_url"])
    assert refused.code == ExitCode.BACKEND and "block signature invalid" in refused.err
    monkeypatch.setenv("LWK_BLOCK_SIGNERS", facts["block_signers"])
    for url in (facts["electrum_url"], facts["esplora_url"], facts["waterfalls_url"]):
        balance = lwk("balance", "--network", "regtest", "--backend", url, "--json")
        assert balance.code == 0, balance.err
        assert balance.json()["balance"] == {balance.json()["policy_asset"]: PAID}
        txs = lwk("txs", "--network", "regtest", "--backend", url, "--json").json()
        assert [(t["txid"], t["height"]) for t in txs] == [(txid, mined.json()["height"])]

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert not Path(facts["state_file"]).exists()
    assert proc.stderr is not None and proc.stderr.read() == ""


def test_the_text_output_names_every_url_and_the_commands(serve: Serve, tmp_path: Path) -> None:
    proc, text = serve()
    fields = dict(
        re.findall(r"^(electrum tls|electrum|esplora|waterfalls|certificate) +(.+)$", text, re.M)
    )
    assert fields["electrum"].startswith("tcp://127.0.0.1:")
    assert fields["electrum tls"].startswith("ssl://localhost:")
    assert fields["esplora"].startswith("http://127.0.0.1:")
    assert fields["waterfalls"].startswith("waterfalls+http://127.0.0.1:")
    fingerprint = _served_cert_sha256(fields["electrum tls"])
    assert fields["certificate"] == f"sha256 {fingerprint} (self-signed)"
    for command in ("lwk regtest faucet ADDRESS 50000", "lwk regtest mine 1", "lwk regtest tip"):
        assert command in text

    state = ["--state-dir", str(tmp_path / "state")]
    second = lwk_process("regtest", "serve", *state)  # one serve per state directory
    assert second.code == ExitCode.ERROR
    assert "already runs" in second.err

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    assert proc.stdout is not None and proc.stdout.read() == "stopped\n"
    assert not (tmp_path / "state" / "serve.json").exists()


@pytest.mark.parametrize("command", [["tip"], ["mine"], ["faucet", "ert1qexample", "1"]])
def test_without_a_serve_the_commands_say_so(command: list[str], lwk: Run, tmp_path: Path) -> None:
    faucet = command[0] == "faucet"
    if faucet:  # a real address, so that the missing serve is the only problem
        command = ["faucet", _fresh_wallet()[1], "1000"]
    state = ["--state-dir", str(tmp_path / "none")]
    result = lwk("regtest", *command, *state, "--json")
    assert result.code == ExitCode.BACKEND
    error = result.json()["error"]
    assert error["type"] == "ServeNotRunning"
    assert error["message"].startswith("no 'lwk regtest serve' is running")
    assert "lwk regtest serve" in result.err


def test_a_stale_state_file_is_not_taken_for_a_serve(lwk: Run, tmp_path: Path) -> None:
    """A serve killed with SIGKILL leaves its file; its port no longer answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    stale = {"network": "elementsregtest", "control": f"127.0.0.1:{port}", "token": "x", "pid": 1}
    (state / "serve.json").write_text(json.dumps(stale))
    result = lwk("regtest", "tip", "--state-dir", str(state))
    assert result.code == ExitCode.BACKEND
    assert "does not answer" in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["faucet", "not-an-address", "1000"], "not a Liquid address: 'not-an-address'"),
        (["faucet", "ADDRESS", "0"], "AMOUNT (satoshis) must be a whole number"),
        (["faucet", "ADDRESS", "1.5"], "AMOUNT (satoshis) must be a whole number"),
        (["mine", "-3"], "N (blocks) must be a whole number"),
    ],
)
def test_bad_addresses_and_amounts_are_usage_errors(
    args: list[str], message: str, lwk: Run, tmp_path: Path
) -> None:
    args = [_fresh_wallet()[1] if a == "ADDRESS" else a for a in args]
    result = lwk("regtest", *args, "--state-dir", str(tmp_path / "none"))
    assert result.code == ExitCode.USAGE
    assert message in result.err


def test_an_address_of_another_network_is_refused(lwk: Run, tmp_path: Path) -> None:
    testnet = lwk_wheel.Network.testnet()
    mnemonic = lwk_wheel.Mnemonic("abandon " * 11 + "about")
    descriptor = lwk_wheel.Signer(mnemonic, testnet).wpkh_slip77_descriptor()
    address = str(lwk_wheel.Wollet(testnet, descriptor, None).address(0).address())
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "serve.json").write_text(json.dumps({"network": "elementsregtest"}))
    result = lwk("regtest", "faucet", address, "1000", "--state-dir", str(state))
    assert result.code == ExitCode.USAGE
    assert "the address is of liquidtestnet; the running chain is elementsregtest" in result.err


def test_a_state_directory_other_users_can_read_is_refused(lwk: Run, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    result = lwk("regtest", "tip", "--state-dir", str(state), "--json")
    assert result.code == ExitCode.ERROR
    assert result.json()["error"]["type"] == "StateDirError"


def test_the_control_port_obeys_only_the_token(serve: Serve, tmp_path: Path) -> None:
    """Another local user can reach 127.0.0.1 but cannot read the 0600 state file."""
    proc, line = serve("--json")
    state = json.loads(Path(json.loads(line)["state_file"]).read_text())
    host, port = state["control"].rsplit(":", 1)
    assert host == "127.0.0.1"

    def ask(request: bytes) -> Any:
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(request + b"\n")
            return json.loads(sock.makefile("rb").readline())

    mine = {"method": "mine", "params": [5]}
    for token in ("", "0" * 64, state["token"][:-1]):
        assert ask(json.dumps({**mine, "token": token}).encode()) == {"error": "wrong token"}
    assert ask(json.dumps(mine).encode()) == {"error": "malformed request"}
    assert ask(b"not json") == {"error": "malformed request"}
    unknown = {"method": "reorg", "params": [1], "token": state["token"]}
    assert ask(json.dumps(unknown).encode()) == {"error": "unknown command 'reorg'"}
    tip = {"method": "tip", "params": [], "token": state["token"]}
    # the block that confirmed the example wallet, on genesis: the refused mines did not run
    assert ask(json.dumps(tip).encode()) == {"result": 1}
    proc.terminate()
    assert proc.wait(timeout=60) == 0
