"""The plugin against the embedded Waterfalls server: the same wallet as a script-by-script
scan, as Esplora and as LWK 0.19's own WaterfallsClient sees it, in fewer requests."""

from __future__ import annotations

import os
import random

import lwk
import pytest
from lwk_esplora import EsploraClient
from lwk_regtest import Regtest, _waterfalls_server
from lwk_regtest.testing import new_wallet_descriptor
from lwk_waterfalls import WaterfallsClient, _steps
from shared_data import DATA
from waterfalls_views import View, lwk_waterfalls_view, scanned, view

from lwk_core import BackendChain, Chain, Wollet, WolletDescriptor, connect

FIXTURE = DATA / "liquid-testnet-wallet.json"


def _wf(rt: Regtest, **options: object) -> WaterfallsClient:
    return WaterfallsClient(rt.waterfalls_url, rt.network, **options)  # type: ignore[arg-type]


def _views(rt: Regtest, descriptor: str, *, to_index: int = 0) -> dict[str, View]:
    """The wallet scanned six ways: descriptor and addresses (JSON and CBOR), Esplora, and
    LWK's client."""
    clients = {
        "descriptor": _wf(rt, send_descriptor=True),
        "scripts": _wf(rt),
        "descriptor cbor": _wf(rt, send_descriptor=True, cbor=True),
        "scripts cbor": _wf(rt, cbor=True),
        "esplora": EsploraClient(rt.esplora_url, rt.network),
    }
    views = {
        name: view(scanned(c, Wollet(rt.network, descriptor), to_index=to_index))
        for name, c in clients.items()
    }
    if not to_index:
        network = lwk.Network.regtest_default()
        if rt.network.name == "LIQUID_TESTNET":
            network = lwk.Network.testnet()
        views["lwk waterfalls"] = lwk_waterfalls_view(rt.waterfalls_url, network, descriptor)
    return views


def _new_descriptor() -> str:
    network = lwk.Network.regtest_default()
    mnemonic = lwk.Mnemonic.from_entropy(os.urandom(16))
    return str(lwk.Signer(mnemonic, network).wpkh_slip77_descriptor())


@pytest.mark.lwk
def test_fixture_wallet_as_every_client_sees_it() -> None:
    import json

    fixture = json.loads(FIXTURE.read_text())
    with Regtest.from_fixture(FIXTURE, step=len(fixture["steps"]) - 1) as rt:
        views = _views(rt, fixture["descriptor"])
    expected = fixture["steps"][-1]["expected"]
    balance, txs, utxos = views["descriptor"]
    assert balance == {a: v for a, v in expected["balance"].items() if v}
    assert len(txs) == expected["tx_count"] and len(utxos) == expected["utxo_count"]
    assert all(v == views["descriptor"] for v in views.values()), sorted(views)


@pytest.mark.lwk
def test_random_wallets_with_spends_and_reorgs(lwk_regtest: Regtest) -> None:
    rt = lwk_regtest
    rng = random.Random(os.urandom(8))
    for _ in range(2):
        descriptor = _new_descriptor()
        d = WolletDescriptor(descriptor)
        index = rng.randrange(19)
        for _ in range(rng.randint(3, 6)):  # steps within the gap limit, across batches
            rt.faucet(d.address(Chain.EXTERNAL, index, rt.network), rng.randrange(1, 9) * 1000)
            index += rng.randrange(1, 19)
        rt.mine(1)
        ours = scanned(_wf(rt, send_descriptor=True), Wollet(rt.network, descriptor))
        utxo = ours.utxos()[0]
        change = d.address(Chain.INTERNAL, rng.randrange(30), rt.network)
        elsewhere = WolletDescriptor(new_wallet_descriptor()).address(Chain.EXTERNAL, 0, rt.network)
        rt.spend([(utxo.outpoint, utxo.unblinded)], elsewhere, 500, change_address=change)
        rt.mine(1)
        rt.faucet(d.address(Chain.EXTERNAL, 2, rt.network), 1_234)  # stays in the mempool
        rt.chain.reorg(1)
        views = _views(rt, descriptor)
        assert all(v == views["descriptor"] for v in views.values()), sorted(views)
        assert views["descriptor"][2]  # some utxo


def test_a_descriptor_scan_takes_fewer_requests(lwk_regtest: Regtest) -> None:
    rt = lwk_regtest
    descriptor = _new_descriptor()
    d = WolletDescriptor(descriptor)
    for index in (0, 19, 38):  # three batches deep
        rt.faucet(d.address(Chain.EXTERNAL, index, rt.network), 2_000)
    rt.mine(1)
    counts = {}
    for name, client in (
        ("descriptor", _wf(rt, send_descriptor=True)),
        ("scripts", _wf(rt)),
        ("esplora", EsploraClient(rt.esplora_url, rt.network)),
    ):
        server = rt.esplora_server if name == "esplora" else rt.waterfalls_server
        before = server.faults.requests
        assert scanned(client, Wollet(rt.network, descriptor)).balance().btc_balance() == 6_000
        counts[name] = server.faults.requests - before
    # genesis + recipient + 1 page + the tip's header + 3 txs; scripts: 4 address batches;
    # Esplora: one per script
    assert counts["descriptor"] == 7
    assert counts["descriptor"] < counts["scripts"] < counts["esplora"]


def test_the_descriptor_is_sent_only_when_allowed(lwk_regtest: Regtest) -> None:
    rt = lwk_regtest
    descriptor = _new_descriptor()
    rt.faucet(WolletDescriptor(descriptor).address(Chain.EXTERNAL, 0, rt.network), 3_000)
    requests, learned = rt.waterfalls_server.requests, rt.waterfalls_server.learned
    before = requests["GET /v4/waterfalls"], requests["GET /v1/server_recipient"], set(learned)
    for client in (_wf(rt), connect(rt.waterfalls_url, rt.network)):
        assert scanned(client, Wollet(rt.network, descriptor)).balance().btc_balance() == 3_000
    after = requests["GET /v4/waterfalls"], requests["GET /v1/server_recipient"], set(learned)
    assert after == before
    allowed = connect(rt.waterfalls_url, rt.network, send_descriptor=True)
    assert scanned(allowed, Wollet(rt.network, descriptor)).balance().btc_balance() == 3_000
    assert len(set(learned) - before[2]) == 1


def test_an_elip151_descriptor_is_scanned_by_scripts(lwk_regtest: Regtest) -> None:
    rt = lwk_regtest
    inner = _new_descriptor().split(",", 1)[1].rsplit(")", 1)[0].split("#")[0]
    descriptor = f"ct(elip151,{inner})"
    rt.faucet(WolletDescriptor(descriptor).address(Chain.EXTERNAL, 1, rt.network), 4_000)
    before = rt.waterfalls_server.requests["GET /v4/waterfalls"]
    ours = scanned(_wf(rt, send_descriptor=True), Wollet(rt.network, descriptor))
    assert ours.balance().btc_balance() == 4_000
    assert rt.waterfalls_server.requests["GET /v4/waterfalls"] == before


def test_a_rotated_server_key_is_fetched_again(lwk_regtest: Regtest) -> None:
    rt = lwk_regtest
    descriptor = _new_descriptor()
    client = _wf(rt, send_descriptor=True)
    scanned(client, Wollet(rt.network, descriptor))
    rt.faucet(WolletDescriptor(descriptor).address(Chain.EXTERNAL, 0, rt.network), 5_000)
    rt.waterfalls_server.rotate_key()
    requests = rt.waterfalls_server.requests
    before = requests["GET /v4/waterfalls"], requests["GET /v1/server_recipient"]
    assert scanned(client, Wollet(rt.network, descriptor)).balance().btc_balance() == 5_000
    after = requests["GET /v4/waterfalls"], requests["GET /v1/server_recipient"]
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)  # the 422, then the retry


def test_truncated_histories_are_continued(
    lwk_regtest: Regtest, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = lwk_regtest
    monkeypatch.setattr(_waterfalls_server, "MAX_TXS_SEEN", 3)  # pages of 3 confirmed entries
    descriptor = _new_descriptor()
    d = WolletDescriptor(descriptor)
    for i in range(8):
        rt.faucet(d.address(Chain.EXTERNAL, 1, rt.network), 1_000 + i)
    rt.mine(1)
    rt.faucet(d.address(Chain.EXTERNAL, 1, rt.network), 50)  # mempool: page 0 only
    views = _views(rt, descriptor)
    assert len(views["descriptor"][1]) == 9
    assert all(v == views["descriptor"] for v in views.values()), sorted(views)


def test_a_scan_beyond_one_page_of_indexes(lwk_regtest: Regtest) -> None:
    rt = lwk_regtest
    descriptor = _new_descriptor()
    rt.faucet(WolletDescriptor(descriptor).address(Chain.EXTERNAL, 1_010, rt.network), 6_000)
    before = rt.waterfalls_server.requests["GET /v4/waterfalls"]
    views = _views(rt, descriptor, to_index=1_030)
    assert rt.waterfalls_server.requests["GET /v4/waterfalls"] - before == 2  # pages 0 and 1
    assert views["descriptor"][0] == {rt.network.policy_asset: 6_000}
    assert all(v == views["descriptor"] for v in views.values()), sorted(views)


def test_a_chain_fails_over_from_a_garbling_server(lwk_regtest: Regtest) -> None:
    rt = lwk_regtest
    descriptor = _new_descriptor()
    rt.faucet(WolletDescriptor(descriptor).address(Chain.EXTERNAL, 0, rt.network), 7_000)
    chain = BackendChain(
        [_wf(rt, send_descriptor=True, max_retries=0), rt.esplora_url], network=rt.network
    )
    rt.waterfalls_server.faults.set("garbage")
    try:
        wollet = scanned(chain, Wollet(rt.network, descriptor))
    finally:
        rt.waterfalls_server.faults.set(None)
    assert wollet.balance().btc_balance() == 7_000


@pytest.mark.parametrize("gap_limit", [5, 30])
def test_other_gap_limits_than_the_servers(lwk_regtest: Regtest, gap_limit: int) -> None:
    """The server applies its own gap (20): core takes every history it shows (as LWK's
    Waterfalls client does) and asks the scripts beyond it one batch at a time."""
    rt = lwk_regtest
    descriptor = _new_descriptor()
    d = WolletDescriptor(descriptor)
    for index in (3, 7, 26, 33):  # 26 and 33: beyond a 20-gap after 7, within a 30-gap
        rt.faucet(d.address(Chain.EXTERNAL, index, rt.network), 1_000 + index)
    rt.faucet(d.address(Chain.INTERNAL, 4, rt.network), 500)
    found = {}
    for name, client in (
        ("descriptor", _wf(rt, send_descriptor=True)),
        ("esplora", EsploraClient(rt.esplora_url, rt.network)),
    ):
        wollet = Wollet(rt.network, descriptor)
        update = client.sync(wollet, gap_limit)
        assert update is not None
        wollet.apply_update(update)
        found[name] = view(wollet)
    everything = {rt.network.policy_asset: 1_003 + 1_007 + 1_026 + 1_033 + 500}
    assert found["descriptor"][0] == everything
    if gap_limit == 30:
        assert found["descriptor"] == found["esplora"]
    else:  # a 5-gap script scan stops after index 7
        assert found["esplora"][0] == {rt.network.policy_asset: 1_003 + 1_007 + 500}


def test_cbor_clients_ask_the_cbor_routes(lwk_regtest: Regtest) -> None:
    rt = lwk_regtest
    descriptor = _new_descriptor()
    rt.faucet(WolletDescriptor(descriptor).address(Chain.EXTERNAL, 0, rt.network), 3_000)
    requests = rt.waterfalls_server.requests
    routes = (
        "GET /v4/waterfalls",
        "GET /v2/waterfalls",
        "GET /v4/waterfalls.cbor",
        "GET /v2/waterfalls.cbor",
    )
    before = [requests[r] for r in routes]
    for client in (_wf(rt, send_descriptor=True, cbor=True), _wf(rt, cbor=True)):
        assert scanned(client, Wollet(rt.network, descriptor)).balance().btc_balance() == 3_000
    json_v4, json_v2, cbor_v4, cbor_v2 = (
        requests[r] - n for r, n in zip(routes, before, strict=True)
    )
    assert (json_v4, json_v2, cbor_v4) == (0, 0, 1)  # one descriptor page, in CBOR
    assert cbor_v2 > 0  # the address batches, in CBOR


def test_an_answer_seen_before_is_not_parsed_again(
    lwk_regtest: Regtest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rescan with nothing new gets the same bytes: their parse is the last one. A
    payment changes the bytes, and the rescan sees it."""
    rt = lwk_regtest
    descriptor = _new_descriptor()
    rt.faucet(WolletDescriptor(descriptor).address(Chain.EXTERNAL, 0, rt.network), 4_000)
    rt.mine(1)
    parsed: list[bytes] = []
    parse = _steps.parse_page

    def counted(body: bytes, **options: object) -> object:
        parsed.append(body)
        return parse(body, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(_steps, "parse_page", counted)
    client, wollet = _wf(rt, send_descriptor=True), Wollet(rt.network, descriptor)
    assert scanned(client, wollet).balance().btc_balance() == 4_000
    first = len(parsed)
    assert first >= 1
    assert client.full_scan(wollet) is None
    assert len(parsed) == first  # the same answer: not parsed again
    rt.faucet(WolletDescriptor(descriptor).address(Chain.EXTERNAL, 1, rt.network), 5_000)
    assert scanned(client, wollet).balance().btc_balance() == 9_000
    assert len(parsed) == first + 1
