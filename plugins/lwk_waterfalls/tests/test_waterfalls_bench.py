"""Opt-in measurement (`pytest -m slow -s`): first scan and rescan of a 200-tx wallet over
the same regtest chain, ours over Waterfalls vs LWK 0.19's WaterfallsClient and
ElectrumClient, at 0 and 50 ms of added latency per request. Prints a table; asserts that
every client sees the same wallet and that ours makes fewer requests than LWK's."""

from __future__ import annotations

import time
from collections.abc import Callable

import lwk
import pytest
from lwk_regtest import Regtest
from lwk_waterfalls import WaterfallsClient
from waterfalls_views import View, lwk_view, view

from lwk_core import Wollet

N_TXS = 200


def _timed(scan: Callable[[], object]) -> float:
    started = time.monotonic()
    scan()
    return time.monotonic() - started


@pytest.mark.slow
@pytest.mark.lwk
def test_200_tx_wallet_first_scan_and_rescan() -> None:
    network = lwk.Network.regtest_default()
    signer = lwk.Signer(lwk.Mnemonic.from_entropy(bytes(range(16))), network)
    descriptor = str(signer.wpkh_slip77_descriptor())
    rows: list[str] = []
    with Regtest() as rt:
        rt.fund_wallet(descriptor, N_TXS)
        rt.mine(1)
        server = rt.waterfalls_server
        for latency in (0.0, 0.05):
            for faults in (server.faults, rt.electrum_faults):
                faults.latency = latency
            views: dict[str, View] = {}
            requests: dict[str, int] = {}

            ours = WaterfallsClient(rt.waterfalls_url, rt.network, send_descriptor=True)
            wollet = Wollet(rt.network, descriptor)

            def our_scan(client: WaterfallsClient = ours, wollet: Wollet = wollet) -> None:
                update = client.full_scan(wollet)
                if update is not None:
                    wollet.apply_update(update)

            before = server.faults.requests
            first = _timed(our_scan)
            requests["ours"] = server.faults.requests - before
            rescan = _timed(our_scan)
            views["ours"] = view(wollet)
            rows.append(
                f"{latency * 1000:3.0f} ms  ours (waterfalls)  {first:6.2f} s  {rescan:5.2f} s"
            )

            for name, make in (
                (
                    "lwk waterfalls",
                    lambda: lwk.WaterfallsClient(
                        rt.waterfalls_url.removeprefix("waterfalls+"), network
                    ),
                ),
                ("lwk electrum", lambda: lwk.ElectrumClient.from_url(rt.electrum_url)),
            ):
                client = make()
                lwk_wollet = lwk.Wollet(network, lwk.WolletDescriptor(descriptor), None)

                def lwk_scan(client: object = client, w: lwk.Wollet = lwk_wollet) -> None:
                    update = client.full_scan(w)  # type: ignore[attr-defined]
                    if update is not None:
                        w.apply_update(update)

                before = server.faults.requests
                first_lwk = _timed(lwk_scan)
                requests[name] = server.faults.requests - before
                rescan_lwk = _timed(lwk_scan)
                views[name] = lwk_view(lwk_wollet)
                rows.append(
                    f"{latency * 1000:3.0f} ms  {name:17}  {first_lwk:6.2f} s  {rescan_lwk:5.2f} s"
                )
            assert views["ours"] == views["lwk waterfalls"] == views["lwk electrum"]
            assert len(views["ours"][1]) == N_TXS
            assert requests["ours"] < requests["lwk waterfalls"]
    print("\n" + "\n".join(["latency  client             first    rescan", *rows]))
