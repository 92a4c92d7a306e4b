"""The scan engine driven by scripted replies, with no I/O at all: the requests and replies of
a real scan of the fixture wallet are recorded once, then replayed into a fresh engine with
sockets and threads forbidden; it must ask the same and return the same Update. Malformed
replies end in typed errors naming the backend."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from lwk_electrum import ElectrumClient
from lwk_regtest import Regtest
from shared_data import DATA, load_fixture

from lwk_core import BackendProtocolError, HistoryEntry, Update, Wollet
from lwk_core._errors import ScanLimitExceeded
from lwk_core._requests import (
    GetHeaders,
    GetHistories,
    GetTip,
    GetTransactions,
    Request,
    ScanDescriptor,
)
from lwk_core._scan import ScanLimits, Steps, scan_steps
from lwk_core._sync import perform

FIXTURE = load_fixture("liquid-testnet-wallet.json")
Exchange = tuple[Request, Any]


@attrs.frozen
class Recording:
    wollet: Wollet
    exchanges: list[Exchange]
    update: Update


def run_scripted(steps: Steps, answer: Any) -> Update | None:
    """Drive `steps` with `answer(request)` as the only source of replies."""
    reply: Any = None
    try:
        while True:
            reply = answer(steps.send(reply))
    except StopIteration as done:
        result: Update | None = done.value
        return result


@pytest.fixture(scope="module")
def recording() -> Iterator[Recording]:
    """A real first scan of the fixture wallet over Electrum, every exchange recorded."""
    with Regtest.from_fixture(DATA / "liquid-testnet-wallet.json", step=1) as rt:
        wollet = Wollet(rt.network, FIXTURE["descriptor"])
        exchanges: list[Exchange] = []

        def record(request: Request) -> Any:
            reply = perform(client, request)
            exchanges.append((request, reply))
            return reply

        with ElectrumClient.from_url(rt.electrum_url) as client:
            update = run_scripted(scan_steps(wollet.state, backend=client.name), record)
    assert update is not None
    yield Recording(wollet, exchanges, update)


@pytest.fixture
def no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the scan engine did I/O")

    monkeypatch.setattr(socket, "socket", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    monkeypatch.setattr(threading.Thread, "start", forbidden)


def replay(recording: Recording) -> Any:
    replies = iter(recording.exchanges)

    def answer(request: Request) -> Any:
        expected, reply = next(replies)
        assert request == expected
        return reply

    return answer


@pytest.mark.usefixtures("no_io")
def test_replayed_replies_give_the_same_update_without_io(recording: Recording) -> None:
    state = recording.wollet.state
    update = run_scripted(scan_steps(state, backend="scripted"), replay(recording))
    assert update == recording.update
    wollet = Wollet(recording.wollet.network, FIXTURE["descriptor"])
    wollet.apply_update(update)
    expected = FIXTURE["steps"][1]["expected"]
    assert dict(wollet.balance()) == expected["balance"]
    assert len(wollet.transactions()) == expected["tx_count"]


@pytest.mark.usefixtures("no_io")
def test_a_descriptor_scan_answers_the_histories_in_one_request(recording: Recording) -> None:
    """The histories the script requests got, given at once as a whole-wallet reply."""
    chains: dict[Any, list[list[HistoryEntry]]] = {}
    positions = {spk: path for spk, path in recording.update.scripts.items()}
    for request, reply in recording.exchanges:
        if isinstance(request, GetHistories):
            for script, history in zip(request.scripts, reply, strict=True):
                if script not in positions:
                    continue  # asked ahead, past where the scan stops: not taken
                chain, index = positions[script]
                histories = chains.setdefault(chain, [])
                histories.extend([] for _ in range(index + 1 - len(histories)))
                histories[index] = history
    others = iter([e for e in recording.exchanges if not isinstance(e[0], GetHistories)][1:])

    def answer(request: Request) -> Any:
        if isinstance(request, ScanDescriptor):
            return chains
        assert not isinstance(request, GetHistories), "no script request after the descriptor"
        expected, reply = next(others)
        assert request == expected
        return reply

    update = run_scripted(scan_steps(recording.wollet.state, backend="scripted"), answer)
    assert update == recording.update


def corrupt(recording: Recording, kind: type, change: Any) -> Any:
    """Replay, with the reply to the first request of `kind` replaced by `change(reply)`."""
    answer = replay(recording)
    done = False

    def corrupted(request: Request) -> Any:
        nonlocal done
        reply = answer(request)
        if isinstance(request, kind) and not done:
            done = True
            return change(reply)
        return reply

    return corrupted


MALFORMED = {
    "histories short": (GetHistories, lambda r: r[:-1], "histories"),
    "history not entries": (GetHistories, lambda r: [["x"], *r[1:]], "entries"),
    "height zero": (GetHistories, lambda r: [[HistoryEntry("00" * 32, 0)], *r[1:]], "positive"),
    "tip not a tip": (GetTip, lambda r: {"height": 1}, "not a Tip"),
    "tx of another txid": (GetTransactions, lambda r: [r[1], r[0], *r[2:]], "hashing to"),
    "tx garbage": (GetTransactions, lambda r: [b"\x00" * 10, *r[1:]], "undecodable"),
    "txs short": (GetTransactions, lambda r: r[:-1], "transactions"),
    "headers missing": (GetHeaders, lambda r: {}, "headers"),
    "header not bytes": (GetHeaders, lambda r: dict.fromkeys(r, "00"), "not bytes"),
    "header garbage": (GetHeaders, lambda r: dict.fromkeys(r, b"\x01" * 90), "malformed header"),
    "header of another height": (
        GetHeaders,
        lambda r: {h: r[min(r)] for h in r} | {min(r): r[max(r)]},
        "asked for the header at height",
    ),
}


@pytest.mark.usefixtures("no_io")
@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_replies_are_typed_errors(recording: Recording, case: str) -> None:
    kind, change, words = MALFORMED[case]
    steps = scan_steps(recording.wollet.state, backend="scripted")
    with pytest.raises(BackendProtocolError, match=words) as caught:
        run_scripted(steps, corrupt(recording, kind, change))
    assert caught.value.backend == "scripted"


@pytest.mark.usefixtures("no_io")
def test_a_server_claiming_every_script_is_used_ends_at_the_limit(recording: Recording) -> None:
    used = [HistoryEntry("11" * 32, None)]

    def everything_used(request: Request) -> Any:
        if isinstance(request, GetHistories):
            return [used for _ in request.scripts]
        return None if isinstance(request, ScanDescriptor) else pytest.fail(f"{request}")

    limits = ScanLimits(max_new_indexes=200)
    steps = scan_steps(recording.wollet.state, backend="liar", limits=limits)
    with pytest.raises(ScanLimitExceeded, match="max_new_indexes=200"):
        run_scripted(steps, everything_used)


@pytest.mark.usefixtures("no_io")
@pytest.mark.parametrize(
    ("limits", "words"),
    [
        (ScanLimits(max_history_per_script=3), "max_history_per_script=3"),
        (ScanLimits(max_history_entries=50), "max_history_entries=50"),
    ],
)
def test_fabricated_histories_end_at_the_limit(
    recording: Recording, limits: ScanLimits, words: str
) -> None:
    fat = [HistoryEntry(f"{n:064x}", None) for n in range(60)]

    def fabricated(request: Request) -> Any:
        if isinstance(request, GetHistories):
            return [fat for _ in request.scripts]
        return None

    steps = scan_steps(recording.wollet.state, backend="liar", limits=limits)
    with pytest.raises(ScanLimitExceeded, match=words):
        run_scripted(steps, fabricated)


@pytest.mark.parametrize(("gap_limit", "to_index"), [(0, 0), (10_001, 0), (20, -1), (20, 2**31)])
def test_absurd_arguments_fail_before_any_request(
    recording: Recording, gap_limit: int, to_index: int
) -> None:
    with pytest.raises(ValueError):
        scan_steps(recording.wollet.state, backend="x", gap_limit=gap_limit, to_index=to_index)


def test_limits_reach_the_scan_through_the_public_api() -> None:
    """A caller's ScanLimits hold for a client and a chain (each backend then fails)."""
    from lwk_esplora import EsploraClient

    from lwk_core import AllBackendsFailed, BackendChain, ScanLimits

    with Regtest() as rt:
        descriptor = rt.example_wallet()  # funded with several confirmed payments
        tight = ScanLimits(max_history_entries=1)
        wollet = Wollet(rt.network, descriptor)
        with ElectrumClient.from_url(rt.electrum_url) as client:
            with pytest.raises(ScanLimitExceeded, match="max_history_entries=1"):
                client.full_scan(wollet, limits=tight)
            assert client.full_scan(wollet) is not None  # the default limits let it through
        chain = BackendChain(
            [ElectrumClient.from_url(rt.electrum_url), EsploraClient(rt.esplora_url, rt.network)]
        )
        with pytest.raises(AllBackendsFailed) as caught:
            chain.sync(Wollet(rt.network, descriptor), limits=tight)
        assert all(isinstance(cause, ScanLimitExceeded) for _, cause in caught.value.causes)
        assert wollet.transactions() == []  # nothing was applied by these scans
