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
    GetUsage,
    Request,
    ScanDescriptor,
)
from lwk_core._scan import ScanLimits, Steps, scan_steps
from lwk_core._sync import perform
from lwk_core.plugin import USED, ScriptUsage

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


SCRIPT_REQUESTS = (GetUsage, GetHistories)


def histories_of(recording: Recording) -> dict[bytes, list[HistoryEntry]]:
    """The history the recorded scan got for each script it took (a USED script's came with
    a later request)."""
    found: dict[bytes, list[HistoryEntry]] = {}
    for request, reply in recording.exchanges:
        if isinstance(request, GetUsage):
            told = zip(request.scripts, reply.scripts, strict=True)
            found.update((script, u) for script, u in told if u is not USED)
            found.update(zip(request.pending, reply.pending, strict=True))
        elif isinstance(request, GetHistories):
            found.update(zip(request.scripts, reply, strict=True))
    return {s: h for s, h in found.items() if s in recording.update.scripts}


def test_the_recorded_electrum_scan_asked_usage_then_histories(recording: Recording) -> None:
    """Electrum tells usage first: each round's histories came with the next request."""
    asked = [r for r, _ in recording.exchanges if isinstance(r, SCRIPT_REQUESTS)]
    assert isinstance(asked[0], GetUsage) and asked[0].pending == ()
    assert any(isinstance(r, GetUsage) and r.pending for r in asked)


def others_than_scripts(recording: Recording) -> Any:
    """Replay the recorded exchanges other than the script requests (the descriptor's first)."""
    rest = [e for e in recording.exchanges if not isinstance(e[0], SCRIPT_REQUESTS)]
    assert isinstance(rest[0][0], ScanDescriptor)
    return iter(rest[1:])


@pytest.mark.usefixtures("no_io")
def test_a_backend_without_usage_gets_the_histories_asked_and_the_same_update(
    recording: Recording,
) -> None:
    """A backend not offering usage (GetUsage answered None, as Client answers for a plugin
    without `lwk_scan_usage`) is asked each round's histories: the same Update."""
    histories, others = histories_of(recording), others_than_scripts(recording)
    asked: list[type] = []

    def answer(request: Request) -> Any:
        asked.append(type(request))
        if isinstance(request, ScanDescriptor | GetUsage):
            return None
        if isinstance(request, GetHistories):
            return [histories.get(script, []) for script in request.scripts]
        expected, reply = next(others)
        assert request == expected
        return reply

    update = run_scripted(scan_steps(recording.wollet.state, backend="scripted"), answer)
    assert update == recording.update
    assert asked.count(GetUsage) == 1  # asked once per scan, then histories only
    assert asked.count(GetHistories) > 1


@pytest.mark.usefixtures("no_io")
def test_short_histories_from_a_backend_without_usage_are_a_typed_error(
    recording: Recording,
) -> None:
    def answer(request: Request) -> Any:
        if isinstance(request, GetHistories):
            return [[] for _ in request.scripts[1:]]
        return None

    steps = scan_steps(recording.wollet.state, backend="scripted")
    with pytest.raises(BackendProtocolError, match="asked for 40 histories, got 39"):
        run_scripted(steps, answer)


@pytest.mark.usefixtures("no_io")
def test_a_descriptor_scan_answers_the_histories_in_one_request(recording: Recording) -> None:
    """The histories the script requests got, given at once as a whole-wallet reply."""
    chains: dict[Any, list[list[HistoryEntry]]] = {}
    for script, history in histories_of(recording).items():
        chain, index = recording.update.scripts[script]
        histories = chains.setdefault(chain, [])
        histories.extend([] for _ in range(index + 1 - len(histories)))
        histories[index] = history
    others = others_than_scripts(recording)

    def answer(request: Request) -> Any:
        if isinstance(request, ScanDescriptor):
            return chains
        assert not isinstance(request, SCRIPT_REQUESTS), "no script request after the descriptor"
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
    "usage not a usage": (GetUsage, lambda r: r.scripts, "not a ScriptUsage"),
    "usage short": (GetUsage, lambda r: ScriptUsage(r.scripts[:-1], r.pending), "histories"),
    "history not entries": (
        GetUsage,
        lambda r: ScriptUsage([["x"], *r.scripts[1:]], []),
        "entries",
    ),
    "height zero": (
        GetUsage,
        lambda r: ScriptUsage([[HistoryEntry("00" * 32, 0)], *r.scripts[1:]], []),
        "positive",
    ),
    "pending told used": (GetUsage, lambda r: ScriptUsage(r.scripts, [USED]), "histories"),
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
        if isinstance(request, GetUsage):
            return ScriptUsage([USED for _ in request.scripts], [used for _ in request.pending])
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
