"""lwk-paymon: its change detection, its descriptors file, its POST sink, and the service
itself run as a process against the embedded regtest chain (payments, a backend killed,
a restart that resumes from the datadir)."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import lwk
import pytest
from lwk_electrum import ElectrumClient
from lwk_paymon import PostSink, read_descriptors, wallet_changes
from lwk_regtest import Regtest
from shared_data import DATA, load_fixture

from lwk_core import Chain, DescriptorError, Network, WalletTx, Wollet, WolletDescriptor

FIXTURE = load_fixture("liquid-testnet-wallet.json")
STEP1, STEP2 = FIXTURE["steps"]
(NEW_TXID,) = set(STEP2["txids"]) - set(STEP1["txids"])
WAIT = 60  # seconds before a missing line fails the test (a deadline, not a measure)


def new_descriptor(name: str) -> str:
    """A fresh regtest wallet's CT descriptor, made by LWK from a seed derived from `name`."""
    mnemonic = lwk.Mnemonic.from_entropy(hashlib.sha256(name.encode()).digest()[:16])
    return str(lwk.Signer(mnemonic, lwk.Network.regtest_default()).wpkh_slip77_descriptor())


def address(descriptor: str, index: int = 0) -> str:
    return WolletDescriptor(descriptor).address(Chain.EXTERNAL, index, Network.ELEMENTS_REGTEST)


# -- what changed ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_syncs() -> tuple[dict[str, WalletTx], list[WalletTx]]:
    """The fixture wallet's transactions (by txid) at its first step, and after its second."""
    with Regtest.from_fixture(DATA / "liquid-testnet-wallet.json", step=0) as rt:
        wollet = Wollet(Network.LIQUID_TESTNET, FIXTURE["descriptor"])
        with ElectrumClient.from_url(rt.electrum_url) as client:
            if update := client.full_scan(wollet):
                wollet.apply_update(update)
            before = {tx.txid: tx for tx in wollet.transactions()}
            rt.extend_fixture(1)
            if update := client.full_scan(wollet):
                wollet.apply_update(update)
    return before, wollet.transactions()


def test_a_new_fixture_transaction_is_one_payment_as_lwk_describes_it(
    fixture_syncs: tuple[dict[str, WalletTx], list[WalletTx]],
) -> None:
    before, after = fixture_syncs
    expected = next(t for t in STEP2["expected"]["transactions"] if t["txid"] == NEW_TXID)
    assert wallet_changes("w", before, after) == [
        {
            "event": "payment",
            "wallet": "w",
            "txid": NEW_TXID,
            "height": expected["height"],
            "timestamp": expected["timestamp"],
            "type": expected["type"],
            "balance": expected["balance"],
        }
    ]
    assert wallet_changes("w", before, list(before.values())) == []


def test_confirmations_reorgs_and_drops_are_told_apart(
    fixture_syncs: tuple[dict[str, WalletTx], list[WalletTx]],
) -> None:
    a, b, c = [tx for tx in fixture_syncs[0].values() if tx.height is not None][:3]
    before = {a.txid: attrs.evolve(a, height=None), b.txid: b, c.txid: c}
    after = [a, attrs.evolve(b, height=None)]  # a confirmed, b back in the mempool, c gone
    events = wallet_changes("w", before, after)
    assert [(e["event"], e["txid"]) for e in events] == [
        ("confirmed", a.txid),
        ("unconfirmed", b.txid),
        ("dropped", c.txid),
    ]


# -- the descriptors file ----------------------------------------------------------------


def test_the_descriptors_file_skips_comments_and_names_bad_lines(tmp_path: Path) -> None:
    one, two = new_descriptor("file-1"), new_descriptor("file-2")
    path = tmp_path / "wallets.txt"
    path.write_text(f"# shop wallets\n\n{one}\n  {two}  \n")
    assert [str(d) for d in read_descriptors(path)] == [
        str(WolletDescriptor(one)),
        str(WolletDescriptor(two)),
    ]
    secret = one.split("slip77(")[1][:64]
    path.write_text(f"{one}\n{one[:-12]}xx{one[-10:]}\n")
    with pytest.raises(DescriptorError, match=r"^line 2: ") as bad:
        read_descriptors(path)
    assert secret not in str(bad.value)
    path.write_text(f"{one}\n# again\n{one}\n")
    with pytest.raises(DescriptorError, match=r"^line 3: the wallet of line 1$"):
        read_descriptors(path)
    path.write_text("# nothing\n")
    with pytest.raises(DescriptorError, match="no descriptor"):
        read_descriptors(path)


# -- the POST sink -----------------------------------------------------------------------


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: queue.Queue[Any] = queue.Queue()
    failures_left = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Receiver.failures_left > 0:
            _Receiver.failures_left -= 1
            self.send_response(503)
        else:
            _Receiver.bodies.put(body)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.bodies, _Receiver.failures_left = queue.Queue(), 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_posted_events_arrive_in_order_once_the_receiver_is_back(receiver: str) -> None:
    sink = PostSink(receiver)
    _Receiver.failures_left = 1
    sink({"n": 1})  # refused: kept
    assert _Receiver.bodies.empty() and list(sink.pending) == [{"n": 1}]
    sink({"n": 2})  # the receiver is back: both, in order
    assert [_Receiver.bodies.get_nowait() for _ in range(2)] == [{"n": 1}, {"n": 2}]
    assert _Receiver.bodies.empty() and not sink.pending
    with pytest.raises(ValueError):
        PostSink("ftp://example.invalid/")


# -- the service -------------------------------------------------------------------------


class Service:
    """`python -m lwk_paymon` in a child process; its stdout lines read as JSON."""

    def __init__(self, args: list[str], stderr: Path) -> None:
        self.stderr = stderr
        with stderr.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lwk_paymon", *args],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def events(self, n: int) -> list[dict[str, Any]]:
        """The next `n` events (failing if the process ends or stays silent too long)."""
        found = []
        for _ in range(n):
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"no event within {WAIT}s; got {found}")
            assert line is not None, f"the service ended: {self.stop()}"
            found.append(json.loads(line))
        return found

    def stop(self) -> str:
        """SIGTERM; the service must exit 0 and print nothing more. Returns its stderr."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=WAIT)
        err = self.stderr.read_text()
        assert code == 0, err
        assert self.lines.get(timeout=WAIT) is None  # nothing after what was read
        return err


def _payment(event: dict[str, Any]) -> tuple[str, str, str, int | None, int]:
    (sats,) = event["balance"].values()
    return event["event"], event["wallet"], event["txid"], event["height"], sats


def test_the_service_announces_payments_fails_over_and_resumes(
    tmp_path: Path, receiver: str
) -> None:
    descriptors = [new_descriptor(f"paymon-{i}") for i in range(3)]
    dwids = [WolletDescriptor(d).dwid(Network.ELEMENTS_REGTEST) for d in descriptors]
    (tmp_path / "wallets.txt").write_text("# three shop wallets\n" + "\n".join(descriptors))
    with Regtest() as rt:
        args = [
            str(tmp_path / "wallets.txt"),
            "--network",
            "elementsregtest",
            "--backend",
            rt.electrum_url,
            "--backend",
            rt.esplora_url,
            "--datadir",
            str(tmp_path / "data"),
            "--interval",
            "0.2",
        ]
        service = Service(args, tmp_path / "first.err")
        synced = service.events(3)
        assert [(e["event"], e["wallet"], e["resumed"]) for e in synced] == [
            ("synced", dwid, False) for dwid in dwids
        ]
        assert all(e["transactions"] == 0 and e["height"] == rt.tip_height() for e in synced)

        paid_a = rt.faucet(address(descriptors[0]), 10_000)
        paid_b = rt.faucet(address(descriptors[1]), 20_000)
        assert sorted(map(_payment, service.events(2))) == sorted(
            [
                ("payment", dwids[0], paid_a, None, 10_000),
                ("payment", dwids[1], paid_b, None, 20_000),
            ]
        )
        height = rt.tip_height() + 1
        rt.mine(1)
        assert sorted(map(_payment, service.events(2))) == sorted(
            [
                ("confirmed", dwids[0], paid_a, height, 10_000),
                ("confirmed", dwids[1], paid_b, height, 20_000),
            ]
        )

        rt.electrum_faults.set("refuse")  # the first backend dies: Esplora takes over
        paid_c = rt.faucet(address(descriptors[2]), 30_000)
        assert list(map(_payment, service.events(1))) == [
            ("payment", dwids[2], paid_c, None, 30_000)
        ]
        err = service.stop()
        assert f"failing over to {rt.esplora_url}" in err
        blinding_keys = [d.split("slip77(")[1][:64] for d in descriptors]
        assert not any(key in err for key in blinding_keys)

        rt.electrum_faults.clear()  # back up; the service restarts from its datadir
        service = Service(args, tmp_path / "second.err")
        resumed = service.events(3)  # a payment announced again would come before these
        assert [(e["event"], e["wallet"], e["resumed"]) for e in resumed] == [
            ("synced", dwid, True) for dwid in dwids
        ]
        assert [e["transactions"] for e in resumed] == [1, 1, 1]
        assert [e["balance"][rt.network.policy_asset] for e in resumed] == [
            10_000,
            20_000,
            30_000,
        ]
        again = rt.faucet(address(descriptors[0], 1), 40_000)
        assert list(map(_payment, service.events(1))) == [
            ("payment", dwids[0], again, None, 40_000)
        ]
        service.stop()

        posting = Service(
            [*args, "--post", receiver], tmp_path / "third.err"
        )  # the same events, POSTed
        posted = [_Receiver.bodies.get(timeout=WAIT) for _ in range(3)]
        assert [(b["event"], b["resumed"]) for b in posted] == [("synced", True)] * 3
        rt.mine(1)
        confirmed = _Receiver.bodies.get(timeout=WAIT)
        assert _payment(confirmed) == ("confirmed", dwids[0], again, height + 1, 40_000)
        posting.stop()  # and nothing was printed: stop() checks stdout stayed empty
