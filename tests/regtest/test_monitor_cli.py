"""`lwk watch --descriptors FILE` on the embedded chain: every wallet of the file is
followed through one Monitor, and its first round prints each wallet's tip, payments and
balance, in the file's order, as human lines (the dwid first) or JSON objects.

Ground truth: what the faucet paid each wallet (txids and amounts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from lwk_oracle import new_wallet
from lwk_regtest import Regtest

from lwk_core import Network, WolletDescriptor
from lwk_core.cli import main
from lwk_core.cli._output import format_btc

POLICY = Network.ELEMENTS_REGTEST.policy_asset
SATS = 10_000  # fund_wallet pays SATS + i for its i-th payment


@attrs.frozen
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def lwk(capsys: pytest.CaptureFixture[str]) -> Run:
    """`lwk ARGS...` run in this process: exit code, stdout and stderr."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with Regtest() as regtest:
        yield regtest


@pytest.fixture(scope="module")
def wallets(rt: Regtest) -> list[tuple[str, list[str]]]:
    """Three wallets paid 1, 2 and 1 confirmed payments: (descriptor, txids)."""
    descriptors = [new_wallet(f"cli monitor {i}").descriptor for i in range(3)]
    paid = [
        rt.fund_wallet(d, n, txs_per_block=50) for d, n in zip(descriptors, (1, 2, 1), strict=True)
    ]
    rt.mine(1)
    return list(zip(descriptors, paid, strict=True))


def expected(rt: Regtest, wallets: list[tuple[str, list[str]]]) -> list[dict[str, object]]:
    height, tip_hash = rt.tip_height(), rt.chain.tip_hash()
    events: list[dict[str, object]] = []
    for descriptor, txids in wallets:
        dwid = WolletDescriptor(descriptor).dwid(Network.ELEMENTS_REGTEST)
        amounts = {txid: SATS + i for i, txid in enumerate(txids)}
        events.append({"wallet": dwid, "event": "new_tip", "height": height, "hash": tip_hash})
        events += [
            {
                "wallet": dwid,
                "event": "new_tx",
                "txid": txid,
                "height": height,
                "balance": {POLICY: amounts[txid]},
            }
            for txid in sorted(txids)
        ]
        total = sum(amounts.values())
        events.append(
            {"wallet": dwid, "event": "balance_changed", "asset": POLICY, "old": 0, "new": total}
        )
    return events


def run_watch(lwk: Run, rt: Regtest, path: Path, n: int, *extra: str) -> list[str]:
    result = lwk(
        "watch",
        "--descriptors",
        str(path),
        "--network",
        "regtest",
        "--backend",
        rt.electrum_url,
        "--max-events",
        str(n),
        *extra,
    )
    assert result.code == 0, result.err
    return result.out.strip().split("\n")


def descriptors_file(tmp_path: Path, wallets: list[tuple[str, list[str]]]) -> Path:
    path = tmp_path / "wallets.txt"
    lines = ["# wallets followed by the test", ""]
    lines += [f"  {descriptor}" for descriptor, _ in wallets]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_watch_descriptors_json(
    lwk: Run, rt: Regtest, wallets: list[tuple[str, list[str]]], tmp_path: Path
) -> None:
    want = expected(rt, wallets)
    lines = run_watch(lwk, rt, descriptors_file(tmp_path, wallets), len(want), "--json")
    assert [json.loads(line) for line in lines] == want


def test_watch_descriptors_human(
    lwk: Run, rt: Regtest, wallets: list[tuple[str, list[str]]], tmp_path: Path
) -> None:
    want = expected(rt, wallets)
    first, *lines = run_watch(lwk, rt, descriptors_file(tmp_path, wallets), len(want))
    assert first.startswith("watching   3 wallets")
    assert len(lines) == len(want)
    for line, event in zip(lines, want, strict=True):
        prefix, text = line.split("  ", 1)
        assert prefix == str(event["wallet"])[:9]
        if event["event"] == "new_tx":
            assert text.startswith(f"new tx     {event['txid']}")
        elif event["event"] == "balance_changed":
            assert text == f"balance    {format_btc(int(str(event['new'])))} L-BTC"
        else:
            assert text == f"new block  height {event['height']}  {event['hash']}"


def test_watch_descriptors_refuses_an_empty_file(lwk: Run, rt: Regtest, tmp_path: Path) -> None:
    path = tmp_path / "none.txt"
    path.write_text("# nothing\n\n")
    result = lwk("watch", "--descriptors", str(path), "--backend", rt.electrum_url)
    assert result.code != 0 and "lists no descriptor" in result.err


@pytest.mark.timeout(60)
def test_watch_descriptors_honours_the_connection_flags(
    lwk: Run, rt: Regtest, wallets: list[tuple[str, list[str]]], tmp_path: Path
) -> None:
    """--pin (like --proxy and --ca-file) reaches the monitor's backend: the server's
    self-signed certificate is accepted only through the pin. The flags were once dropped on
    this path, and the monitor then retried a refused TLS handshake forever (the timeout)."""
    result = lwk(
        "watch",
        "--descriptors",
        str(descriptors_file(tmp_path, wallets)),
        "--network",
        "regtest",
        "--backend",
        rt.electrum_ssl_url,
        "--no-validate-domain",
        "--pin",
        rt.cert_fingerprint,
        "--max-events",
        "1",
        "--json",
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)["event"] == "new_tip"
