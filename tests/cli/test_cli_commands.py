"""Subcommands from other distributions (`lwk.commands`): found, broken ones skipped, and
`lwk demo` / `lwk regtest` explaining themselves when lwk-regtest is not installed."""

from __future__ import annotations

import importlib.metadata
import json
import logging

import pytest
from cli_support import Run, one_line

from lwk_core.cli import ExitCode
from lwk_core.cli._commands import COMMAND_GROUP

REGTEST = importlib.metadata.EntryPoint("regtest", "lwk_regtest.cli._regtest:register", "")
HELLO = importlib.metadata.EntryPoint("hello", "command_plugins:register_hello", "")


def _only(monkeypatch: pytest.MonkeyPatch, *eps: importlib.metadata.EntryPoint) -> None:
    """Pretend that the installed `lwk.commands` entry points are exactly `eps`."""
    real = importlib.metadata.entry_points

    def entry_points(**params: str) -> importlib.metadata.EntryPoints:
        if params.get("group") == COMMAND_GROUP:
            return importlib.metadata.EntryPoints(eps)
        return real(**params)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_lwk_regtest_registers_demo_and_regtest() -> None:
    found = importlib.metadata.entry_points(group=COMMAND_GROUP)
    assert {(ep.name, ep.dist.name if ep.dist else None) for ep in found} >= {
        ("demo", "lwk-regtest"),
        ("regtest", "lwk-regtest"),
    }


@pytest.mark.parametrize("argv", [["demo"], ["regtest", "serve", "--json"], ["demo", "--json"]])
def test_without_lwk_regtest_the_command_names_the_distribution(
    argv: list[str], lwk: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    _only(monkeypatch)
    result = lwk(*argv)
    assert result.code == ExitCode.USAGE
    message = (
        f"'lwk {argv[0]}' comes with the lwk-regtest distribution, which is not "
        "installed: pip install lwk-regtest"
    )
    assert one_line(result.err) == f"lwk: error: {message}"
    if "--json" in argv:
        error = {"type": "CommandUnavailable", "message": message, "exit_code": 2}
        assert json.loads(result.out) == {"error": error}
    else:
        assert result.out == ""


def test_help_says_which_commands_need_a_distribution(
    lwk: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    _only(monkeypatch, REGTEST)
    help_text = lwk("--help").out
    assert "(needs lwk-regtest, not installed)" in help_text  # demo
    assert "the embedded Liquid regtest chain (for development)" in help_text  # regtest


def test_a_broken_command_plugin_is_logged_and_skipped(
    lwk: Run, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken_demo = importlib.metadata.EntryPoint("demo", "no_such_module_xyz:register", "")
    half = importlib.metadata.EntryPoint("half", "command_plugins:register_then_fail", "")
    _only(monkeypatch, broken_demo, half, HELLO)
    with caplog.at_level(logging.WARNING, logger="lwk_core.cli"):
        assert lwk("hello").out == "hello from a command plugin\n"
    warnings = sorted(r.getMessage() for r in caplog.records)
    assert len(warnings) == 2
    assert warnings[0].startswith("lwk: command plugin 'demo' failed to load and is skipped: ")
    assert "No module named 'no_such_module_xyz'" in warnings[0]
    assert warnings[1] == (
        "lwk: command plugin 'half' failed to load and is skipped: "
        "RuntimeError('bug in a command plugin')"
    )

    half_run = lwk("half")  # registered halfway, then removed: an unknown command
    assert half_run.code == ExitCode.USAGE
    assert "invalid choice: 'half'" in half_run.err
    assert " half " not in lwk("--help").out

    demo = lwk("demo")  # installed but broken: says so, not "not installed"
    assert demo.code == ExitCode.USAGE
    assert one_line(demo.err) == (
        "lwk: error: 'lwk demo' comes with the lwk-regtest distribution, which failed to load "
        "(ModuleNotFoundError: No module named 'no_such_module_xyz')"
    )
