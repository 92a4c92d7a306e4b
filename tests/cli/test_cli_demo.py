"""`lwk demo` end to end, and `lwk regtest serve` used by the other commands."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lwk as lwk_wheel
import pytest
from cli_support import Run
from lwk_regtest import Regtest

from lwk_core.cli._output import format_btc


def _btc_to_sats(text: str) -> int:
    whole, frac = text.lstrip("+").split(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100_000_000 + int(frac))


def test_demo_fails_over_then_sees_a_payment_arrive_and_confirm(lwk: Run) -> None:
    start = time.monotonic()
    result = lwk("demo")
    elapsed = time.monotonic() - start
    assert result.code == 0, result.err
    assert result.err == ""  # the failover warning is part of the story, on stdout
    assert elapsed < 30
    out = result.out

    listed = re.findall(r"^   \d\. (\S+)  \((.+)\)$", out, re.M)
    assert [note for _, note in listed] == ["nothing listens here", "Electrum", "Esplora"]
    down, electrum, _ = (url for url, _ in listed)
    assert re.search(
        rf"^   ! scan failed on {re.escape(down)} \(BackendConnectError: cannot connect: "
        rf"Connection refused\); failing over to {re.escape(electrum)}$",
        out,
        re.M,
    )

    with Regtest() as rt:  # the demo's example wallet, named by LWK
        oracle = lwk_wheel.Wollet(
            lwk_wheel.Network.regtest_default(),
            lwk_wheel.WolletDescriptor(rt.example_wallet()),
            None,
        )
    assert f"\n   wallet id {oracle.dwid()}\n   (the dwid, ELIP-152: " in out

    (balance,) = re.findall(r"^   L-BTC\s+(\d+\.\d{8})$", out, re.M)
    amounts = re.findall(
        r"^\s+\d+\s+\S+ \S+\s+incoming\s+(\+\d+\.\d{8})\s+[0-9a-f]{64}$", out, re.M
    )  # no FEE: the faucet paid it
    assert amounts and sum(map(_btc_to_sats, amounts)) == _btc_to_sats(balance)

    new = re.search(
        r"^   new tx     ([0-9a-f]{64})  incoming \+0\.00050000 L-BTC, unconfirmed$", out, re.M
    )
    assert new is not None
    txid = new.group(1)
    confirmed = re.search(rf"^   confirmed  {txid}  at height (\d+)$", out, re.M)
    assert confirmed is not None
    synced = re.search(r"^   synced to height (\d+)$", out, re.M)
    assert synced is not None and int(confirmed.group(1)) == int(synced.group(1)) + 1
    after = format_btc(_btc_to_sats(balance) + 50_000)
    assert out.count(f"   balance    {after} L-BTC\n") == 1  # once: confirming changes nothing
    assert out.rstrip().split("\n")[-1].startswith("done in ")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    env = {k: v for k, v in os.environ.items() if k != "LWK_DESCRIPTOR"}
    state = ["--state-dir", str(tmp_path / "state")]  # not the user's own serve's
    proc = subprocess.Popen(
        [sys.executable, "-m", "lwk_core", "regtest", "serve", "--json", *state],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        facts = json.loads(proc.stdout.readline())
        yield proc, facts
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_regtest_serve_runs_until_ctrl_c(
    lwk: Run, served: tuple[subprocess.Popen[str], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    proc, facts = served
    assert facts["network"] == "elementsregtest"
    assert facts["electrum_url"].startswith("tcp://127.0.0.1:")
    assert facts["esplora_url"].startswith("http://127.0.0.1:")

    tips = [
        lwk("tip", url, "--network", "regtest", "--json").json()
        for url in (facts["electrum_url"], facts["esplora_url"])
    ]
    assert tips[0] == tips[1] and tips[0]["height"] >= 1

    monkeypatch.setenv("LWK_DESCRIPTOR", facts["descriptor"])
    balances = [
        lwk("balance", "--network", "regtest", "--backend", url, "--json")
        for url in (facts["electrum_url"], facts["esplora_url"])
    ]
    assert [b.code for b in balances] == [0, 0]
    assert balances[0].out == balances[1].out  # both servers, one chain
    funded = balances[0].json()
    assert funded["balance"][funded["policy_asset"]] > 0  # "a funded example descriptor"

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
