"""sync, balance, txs, address, watch and broadcast on the fixture wallet (memory:// backend).

Every expected figure is LWK 0.19's, from the shared fixture.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import lwk as lwk_wheel
import pytest
from cli_support import (
    DESCRIPTOR,
    FIXTURE,
    SECRET_PARTS,
    STEP1,
    STEP2,
    Run,
    add_fixture_tx,
    assert_no_secret,
    one_line,
)
from lwk_memory_backend import MemoryChain, _chains, register_chain

from lwk_core import Chain, Network, WolletDescriptor, _watch
from lwk_core.cli._output import ProgressBar, format_btc, progress_bar

POLICY = Network.LIQUID_TESTNET.policy_asset
EXPECTED = STEP1["expected"]
(NEW_TXID,) = set(STEP2["txids"]) - set(STEP1["txids"])

FixtureChain = tuple[MemoryChain, str]
WALLET = ("--descriptor", DESCRIPTOR, "--network", "testnet")  # tpub keys: the network named


def test_balance_table_matches_lwk(lwk: Run, fixture_chain: FixtureChain) -> None:
    _, url = fixture_chain
    result = lwk("balance", *WALLET, "--backend", url)
    assert result.code == 0 and result.err == ""
    rows = [line.split() for line in result.out.strip().split("\n")]
    assert rows[0] == ["ASSET", "BALANCE"]
    assert rows[1] == ["L-BTC", format_btc(EXPECTED["balance"][POLICY])]
    others = {asset: int(v) for asset, v in rows[2:]}
    assert others == {a: v for a, v in EXPECTED["balance"].items() if a != POLICY}
    assert rows[1] == ["L-BTC", "0.01093721"]  # the same figure, written out
    assert_no_secret(result.out, result.err)


def test_balance_json_matches_lwk(lwk: Run, fixture_chain: FixtureChain) -> None:
    _, url = fixture_chain
    result = lwk("balance", *WALLET, "--backend", url, "--json")
    assert result.code == 0
    assert result.json() == {"policy_asset": POLICY, "balance": EXPECTED["balance"]}


def test_txs_json_is_lwks_transaction_list(lwk: Run, fixture_chain: FixtureChain) -> None:
    _, url = fixture_chain
    result = lwk("--json", "txs", *WALLET, "--backend", url)
    assert result.code == 0
    assert result.json() == EXPECTED["transactions"]


def test_txs_table_has_one_row_per_transaction(lwk: Run, fixture_chain: FixtureChain) -> None:
    _, url = fixture_chain
    result = lwk("txs", *WALLET, "--backend", url)
    assert result.code == 0
    header, *rows = result.out.strip().split("\n")
    assert header.split() == ["HEIGHT", "DATE", "(UTC)", "TYPE", "L-BTC", "FEE", "TXID"]
    assert len(rows) == EXPECTED["tx_count"] == 63
    for row, tx in zip(rows, EXPECTED["transactions"], strict=True):
        cells = row.split()
        assert cells[0] == str(tx["height"])
        paid = [] if tx["type"] == "incoming" else [str(tx["fee"])]  # the sender paid it
        assert cells[3:] == [
            tx["type"],
            format_btc(tx["balance"].get(POLICY, 0), signed=True),
            *paid,
            tx["txid"],
        ]
    types = {tx["type"] for tx in EXPECTED["transactions"]}
    assert "incoming" in types and len(types) > 1  # both kinds of row are checked


def test_sync_reports_what_changed(lwk: Run, fixture_chain: FixtureChain) -> None:
    _, url = fixture_chain
    result = lwk("sync", *WALLET, "--backend", url, "--json")
    assert result.code == 0
    report = result.json()
    assert report["network"] == "liquidtestnet"
    assert (report["changed"], report["new_txs"], report["tx_count"]) == (True, 63, 63)
    assert report["tip"]["height"] == max(t["height"] for t in EXPECTED["transactions"])
    assert report["balance"] == EXPECTED["balance"]
    human = lwk("sync", *WALLET, "--backend", url)
    assert human.out.startswith(
        f"synced to height {report['tip']['height']}: 63 new transaction(s), 63 in total\n"
    )


def test_datadir_keeps_the_wallet_between_runs(
    lwk: Run, fixture_chain: FixtureChain, descriptor_file: Path, tmp_path: Path
) -> None:
    chain, url = fixture_chain
    wallet = [
        "--descriptor-file",
        str(descriptor_file),
        "--network",
        "testnet",
        "--datadir",
        str(tmp_path / "w"),
    ]
    never = lwk("balance", *wallet)
    assert never.code == 1
    assert "was never synced: run `lwk sync` first" in one_line(never.err)

    assert lwk("sync", *wallet, "--backend", url).code == 0
    offline = lwk("balance", *wallet, "--json")  # no backend: read from the datadir
    assert offline.code == 0 and offline.json()["balance"] == EXPECTED["balance"]

    add_fixture_tx(chain, NEW_TXID)
    again = lwk("sync", *wallet, "--backend", url, "--json").json()
    assert (again["new_txs"], again["tx_count"]) == (1, STEP2["expected"]["tx_count"])
    txs = lwk("txs", *wallet, "--json").json()
    assert txs == STEP2["expected"]["transactions"]
    stored = [p.read_bytes() for p in (tmp_path / "w").rglob("*") if p.is_file()]
    assert stored and not any(part.encode() in b for b in stored for part in SECRET_PARTS)


def test_descriptor_sources_agree(
    lwk: Run,
    fixture_chain: FixtureChain,
    descriptor_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, url = fixture_chain
    common = ["balance", "--backend", url, "--json", "--network", "testnet"]
    from_flag = lwk(*common, "--descriptor", DESCRIPTOR)
    from_file = lwk(*common, "--descriptor-file", str(descriptor_file))
    monkeypatch.setattr(sys, "stdin", io.StringIO(DESCRIPTOR))
    from_stdin = lwk(*common, "--descriptor-file", "-")
    monkeypatch.setenv("LWK_DESCRIPTOR", DESCRIPTOR)
    from_env = lwk(*common)
    results = [from_flag, from_file, from_stdin, from_env]
    assert all(r.code == 0 for r in results)
    assert {r.out for r in results} == {from_flag.out}
    assert_no_secret(*(r.out + r.err for r in results))


@pytest.mark.lwk
def test_address_at_an_index_is_lwks(lwk: Run) -> None:
    oracle = lwk_wollet()
    for index in (0, 7, 24, 1000):
        result = lwk("address", *WALLET, "--index", str(index), "--json")
        assert result.code == 0  # offline: no backend or datadir needed for an index
        assert result.json() == {"address": str(oracle.address(index).address()), "index": index}
    fixture = {a["index"]: a["address"] for a in FIXTURE["derivation"]["external"]}
    table = lwk("address", *WALLET, "--index", "24").out.split("\n")
    assert table[1].split() == ["24", fixture[24]]


@pytest.mark.lwk
def test_first_unused_address_follows_the_history(lwk: Run, fixture_chain: FixtureChain) -> None:
    _, url = fixture_chain
    result = lwk("address", *WALLET, "--backend", url, "--json")
    assert result.code == 0
    got = result.json()
    scripts = {
        out
        for txid in STEP1["txids"]
        for out in _output_scripts(FIXTURE["transactions"][txid]["hex"])
    }
    descriptor = WolletDescriptor(DESCRIPTOR)
    used = [i for i in range(200) if descriptor.script_pubkey(Chain.EXTERNAL, i) in scripts]
    assert got["index"] == max(used) + 1
    assert got["address"] == str(lwk_wollet().address(got["index"]).address())


def test_failover_warns_once_and_still_answers(lwk: Run, fixture_chain: FixtureChain) -> None:
    _, url = fixture_chain
    down = "memory://no-such-chain"
    result = lwk("balance", *WALLET, "--backend", down, "--backend", url)
    assert result.code == 0
    assert one_line(result.err) == (
        f"lwk: warning: scan failed on {down} (BackendConnectError: no such chain); "
        f"failing over to {url}"
    )
    assert format_btc(EXPECTED["balance"][POLICY]) in result.out


def test_watch_prints_a_new_payment(
    lwk: Run, fixture_chain: FixtureChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, url = fixture_chain
    pauses: list[float] = []

    def payment_arrives(seconds: float) -> None:  # the poll loop's wait between syncs
        pauses.append(seconds)
        add_fixture_tx(chain, NEW_TXID)

    monkeypatch.setattr(_watch, "_pause", payment_arrives)
    args = ["watch", *WALLET, "--backend", url, "--interval", "3"]
    result = lwk(*args, "--max-events", "3")
    assert result.code == 0 and pauses == [3.0]
    first, *lines = result.out.strip().split("\n")
    before = format_btc(EXPECTED["balance"][POLICY])
    assert first.startswith(f"watching   height {_height(STEP1)}, balance {before} L-BTC")
    new_tx = next(t for t in STEP2["expected"]["transactions"] if t["txid"] == NEW_TXID)
    amount = format_btc(new_tx["balance"].get(POLICY, 0), signed=True)
    assert len(lines) == 3 and lines[0].startswith(f"new block  height {new_tx['height']} ")
    assert lines[1].split() == [
        "new",
        "tx",
        NEW_TXID,
        new_tx["type"],
        amount,
        "L-BTC,",
        "height",
        str(new_tx["height"]),
    ]
    after = format_btc(STEP2["expected"]["balance"][POLICY])
    assert lines[-1] == f"balance    {after} L-BTC"


def test_watch_json_is_one_object_per_line(
    lwk: Run, fixture_chain: FixtureChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, url = fixture_chain
    monkeypatch.setattr(_watch, "_pause", lambda s: add_fixture_tx(chain, NEW_TXID))
    args = ["watch", *WALLET, "--backend", url, "--json", "--max-events", "3"]
    result = lwk(*args)
    assert result.code == 0
    start, tip, new_tx, balance = (json.loads(line) for line in result.out.strip().split("\n"))
    assert start["balance"] == EXPECTED["balance"]
    expected = next(t for t in STEP2["expected"]["transactions"] if t["txid"] == NEW_TXID)
    assert tip["event"] == "new_tip" and tip["height"] == expected["height"]
    assert new_tx == {
        "event": "new_tx",
        "txid": NEW_TXID,
        "height": expected["height"],
        "balance": expected["balance"],
    }
    assert balance == {
        "event": "balance_changed",
        "asset": POLICY,
        "old": EXPECTED["balance"][POLICY],
        "new": STEP2["expected"]["balance"][POLICY],
    }


def test_watch_keeps_polling_through_a_failed_poll(
    lwk: Run, fixture_chain: FixtureChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, url = fixture_chain
    name = url.removeprefix("memory://")
    pauses = 0

    def server_goes_then_returns(seconds: float) -> None:
        nonlocal pauses
        pauses += 1
        if pauses == 1:
            del _chains[name]  # the next poll fails
        else:
            register_chain(name, chain)
            add_fixture_tx(chain, NEW_TXID)

    monkeypatch.setattr(_watch, "_pause", server_goes_then_returns)
    args = ["watch", *WALLET, "--backend", url, "--max-events", "2"]
    result = lwk(*args, "--interval", "2")
    assert result.code == 0
    # a failed poll is retried after the first backoff (0.5 s), not a whole interval
    assert one_line(result.err) == f"lwk: warning: {url}: no such chain; retrying in 0.5s"
    assert f"new tx     {NEW_TXID}" in result.out and pauses == 2


def test_ctrl_c_exits_130(
    lwk: Run, fixture_chain: FixtureChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_watch, "_pause", interrupt)
    result = lwk("watch", *WALLET, "--backend", fixture_chain[1])
    assert result.code == 130
    assert result.out.startswith("watching ")
    assert one_line(result.err) == "lwk: interrupted"


def test_a_bug_is_one_line_without_secrets(
    lwk: Run, fixture_chain: FixtureChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lwk_core.cli import _wallet

    def broken(wollet: object) -> None:
        raise RuntimeError(f"oops near {DESCRIPTOR}")

    monkeypatch.setattr(_wallet, "sync_wallet", lambda *a: broken(a))
    result = lwk("balance", *WALLET, "--backend", fixture_chain[1])
    assert result.code == 1
    line = one_line(result.err)
    assert line.startswith("lwk: internal error: RuntimeError: oops near <descriptor>")
    assert line.endswith("(--debug: traceback)")
    assert_no_secret(result.err)


def test_broadcast_then_rejection(lwk: Run, fixture_chain: FixtureChain) -> None:
    chain, url = fixture_chain
    raw = FIXTURE["transactions"][NEW_TXID]["hex"]
    sent = lwk("broadcast", raw, "--backend", url)
    assert sent.code == 0 and sent.out == f"{NEW_TXID}\n"
    assert chain.heights[NEW_TXID] is None  # now in the backend's mempool
    again = lwk("broadcast", raw, "--backend", url, "--json")
    assert again.code == 5
    assert one_line(again.err) == f"lwk: error: {url}: transaction rejected: txn-already-in-mempool"
    garbage = lwk("broadcast", "zz", "--backend", url)
    assert garbage.code == 1
    assert one_line(garbage.err) == "lwk: error: transaction hex is not valid hexadecimal"


def test_progress_bar_waits_then_draws_then_erases() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = ProgressBar(stream, delay=0.5, width=10, clock=lambda: now[0])
    bar("scripts", 20, 40)
    assert stream.getvalue() == "" and not bar.drawn  # a quick scan shows nothing
    now[0] = 0.6
    bar("scripts", 20, 40)
    assert stream.getvalue().endswith("scanning scripts       [#####.....] 20/40")
    now[0] = 0.65
    bar("transactions", 1, 63)
    assert "fetching" not in stream.getvalue()  # redraws at most every 0.1 s
    now[0] = 0.8
    bar("transactions", 63, 63)
    assert stream.getvalue().endswith("fetching transactions  [##########] 63/63")
    bar.close()
    assert stream.getvalue().endswith("\r\x1b[K") and not bar.drawn


def test_progress_bar_shows_the_rate_and_time_left_of_a_stage() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = ProgressBar(stream, delay=0.5, width=10, clock=lambda: now[0])
    bar("unblind", 0, 1000)  # the stage begins
    now[0] = 2.0
    bar("unblind", 500, 1000)  # 500 outputs in 2 s: 250/s, 500 left
    assert stream.getvalue().endswith(
        "unblinding outputs     [#####.....] 500/1000  250/s, ~2s left"
    )
    now[0] = 2.5
    bar("unblind", 1000, 1000)
    assert stream.getvalue().endswith("[##########] 1000/1000")  # done: no time left to show


def test_progress_bar_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert progress_bar(io.StringIO()) is None
    assert isinstance(progress_bar(Tty()), ProgressBar)


@pytest.mark.parametrize(
    ("sats", "signed", "text"),
    [
        (0, False, "0.00000000"),
        (1, False, "0.00000001"),
        (1093721, False, "0.01093721"),
        (-226, True, "-0.00000226"),
        (2_100_000_000_000_000, True, "+21000000.00000000"),
    ],
)
def test_amounts_are_exact(sats: int, signed: bool, text: str) -> None:
    assert format_btc(sats, signed=signed) == text


def lwk_wollet() -> lwk_wheel.Wollet:
    """The same wallet in LWK 0.19 (the oracle for addresses)."""
    return lwk_wheel.Wollet(
        lwk_wheel.Network.testnet(), lwk_wheel.WolletDescriptor(DESCRIPTOR), None
    )


def _output_scripts(raw_hex: str) -> list[bytes]:
    from lwk_core import Transaction

    return [out.script_pubkey for out in Transaction.from_hex(raw_hex).outputs]


def _height(step: dict[str, object]) -> int:
    expected = step["expected"]
    assert isinstance(expected, dict)
    return max(int(t["height"]) for t in expected["transactions"])
