"""`--json` is honoured by every command: stdout is JSON whatever happens, errors included.

Each case runs one command with --json, once succeeding and once failing; every line of
stdout must parse (one document, or one object per line for the streaming commands), and a
failure is `{"error": {"type", "message", "exit_code"}}` with the exit code returned.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import lwk as lwk_wheel
import pytest
from cli_support import (
    DESCRIPTOR,
    FIXTURE,
    STEP1,
    STEP2,
    Run,
    add_fixture_tx,
    assert_no_secret,
)
from lwk_memory_backend import MemoryChain
from lwk_regtest import Regtest

from lwk_core import _watch
from lwk_core.cli import ExitCode, build_parser

FixtureChain = tuple[MemoryChain, str]
WALLET = ("--descriptor", DESCRIPTOR, "--network", "testnet")
(NEW_TXID,) = set(STEP2["txids"]) - set(STEP1["txids"])
DEAD = "tcp://127.0.0.1:1"

# (command, argv that succeeds, argv that fails, exit code of the failure); {url} is the
# fixture wallet's memory:// chain. A success of None has its own test: `regtest serve`
# runs until Ctrl-C (test_cli_demo reads its JSON line), `demo` is checked below.
Case = tuple[str, list[str] | None, list[str], ExitCode]
CASES: list[Case] = [
    ("plugins", ["plugins"], ["plugins", "--no-such-option"], ExitCode.USAGE),
    ("tip", ["tip", "{url}"], ["tip", DEAD], ExitCode.BACKEND),
    ("sync", ["sync", *WALLET, "--backend", "{url}"], ["sync", *WALLET], ExitCode.USAGE),
    (
        "balance",
        ["balance", *WALLET, "--backend", "{url}"],
        ["balance", *WALLET, "--backend", DEAD],
        ExitCode.BACKEND,
    ),
    (
        "txs",
        ["txs", *WALLET, "--backend", "{url}"],
        ["txs", "--descriptor", "ct(nonsense)", "--backend", "{url}"],
        ExitCode.DESCRIPTOR,
    ),
    (
        "address",
        ["address", *WALLET, "--index", "3"],
        ["address", *WALLET, "--index", "-1"],
        ExitCode.USAGE,
    ),
    (
        "broadcast",
        ["broadcast", FIXTURE["transactions"][NEW_TXID]["hex"], "--backend", "{url}"],
        ["broadcast", "zz", "--backend", "{url}"],
        ExitCode.ERROR,
    ),
    (
        "watch",
        ["watch", *WALLET, "--backend", "{url}", "--max-events", "1"],
        ["watch", *WALLET, "--backend", DEAD],
        ExitCode.BACKEND,
    ),
    ("regtest", None, ["regtest"], ExitCode.USAGE),
    ("demo", None, ["demo", "--interval", "1"], ExitCode.USAGE),
]


def _lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.strip().split("\n")]


def _stdout_json(out: str) -> list[Any]:
    """The JSON on stdout: one (possibly indented) document, or one object per line."""
    try:
        return [json.loads(out)]
    except json.JSONDecodeError:
        return _lines(out)


def test_every_command_has_a_case() -> None:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {case[0] for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_a_failure_is_a_json_error_on_stdout(
    case: Case, lwk: Run, fixture_chain: FixtureChain
) -> None:
    _, _, failing, code = case
    argv = [arg.replace("{url}", fixture_chain[1]) for arg in failing]
    for where in ("before", "after"):  # --json before or after the command
        result = lwk(*(["--json", *argv] if where == "before" else [*argv, "--json"]))
        assert result.code == code
        (document,) = _stdout_json(result.out)
        assert set(document) == {"error"}
        error = document["error"]
        assert error["exit_code"] == code
        assert isinstance(error["type"], str) and error["type"]
        assert error["message"] and error["message"] in result.err  # the same line, on stderr
        assert_no_secret(result.out, result.err)


SUCCEEDING = [(case[0], case[1]) for case in CASES if case[1] is not None]


@pytest.mark.parametrize("case", SUCCEEDING, ids=[case[0] for case in SUCCEEDING])
def test_a_success_is_json_on_stdout(
    case: tuple[str, list[str]],
    lwk: Run,
    fixture_chain: FixtureChain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, succeeding = case
    if name == "watch":  # the poll loop's wait: the fixture's next payment arrives
        monkeypatch.setattr(_watch, "_pause", lambda s: _pay(fixture_chain[0]))
    argv = [arg.replace("{url}", fixture_chain[1]) for arg in succeeding]
    result = lwk("--json", *argv)
    assert result.code == ExitCode.OK, result.err
    documents = _stdout_json(result.out)
    assert documents and all("error" not in d for d in documents if isinstance(d, dict))


def _pay(chain: MemoryChain) -> None:
    add_fixture_tx(chain, NEW_TXID)


def test_demo_json_is_the_tour_one_object_per_line(lwk: Run) -> None:
    result = lwk("demo", "--json")
    assert result.code == ExitCode.OK, result.err
    events = _lines(result.out)
    assert [e["event"] for e in events] == [
        "chain",
        "wallet",
        "synced",
        "watching",
        "new_tx",  # the payment, in the mempool
        "balance_changed",
        "new_tip",  # the block that confirms it
        "tx_confirmed",
        "done",
    ]
    with Regtest() as rt:  # the demo's example wallet, named by LWK
        oracle = lwk_wheel.Wollet(
            lwk_wheel.Network.regtest_default(),
            lwk_wheel.WolletDescriptor(rt.example_wallet()),
            None,
        )
    assert events[1]["dwid"] == oracle.dwid()
    synced, watching, arrived, balance, tip, confirmed = events[2:8]
    policy = synced["policy_asset"]
    assert synced["balance"][policy] == sum(t["balance"][policy] for t in synced["transactions"])
    assert arrived["height"] is None and arrived["balance"] == {policy: 50_000}  # the faucet's
    assert balance == {
        "event": "balance_changed",
        "asset": policy,
        "old": synced["balance"][policy],
        "new": synced["balance"][policy] + 50_000,
    }
    assert tip["height"] == synced["tip"]["height"] + 1
    assert confirmed == {"event": "tx_confirmed", "txid": arrived["txid"], "height": tip["height"]}
    assert watching["index"] == 3 and watching["address"].startswith("el1")
    # the failover is reported on stderr, beside the JSON
    assert "lwk: warning: scan failed on tcp://127.0.0.1:" in result.err
