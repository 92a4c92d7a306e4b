"""The user's seed documents: their Python snippets run with only the import lines changed.

Each page's snippets run in order in one namespace (as a reader would type them), with the
`from lwk import ...` lines replaced and the public host names mapped to the embedded
regtest servers. "blockstream.info:465" (TLS, domain validation on) becomes the regtest TLS
port with the regtest certificate trusted through SSL_CERT_FILE: validation stays on.
Addresses the snippets only construct clients for are left alone: constructing does no I/O.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lwk
import pytest
from electrum_fake import wait_for_tip
from lwk_regtest import Regtest
from shared_data import DATA

from lwk_core import Network, Wollet
from lwk_core._transaction import Transaction

IMPORTS = {
    "from lwk import ElectrumClient\n": "from lwk_electrum import ElectrumClient\n",
    "from lwk import EsploraClient, Network\n": (
        "from lwk_esplora import EsploraClient\nfrom lwk_core import Network\n"
    ),
}


def snippets(page: str) -> list[str]:
    text = (DATA / page).read_text()
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


class StopLoop(Exception):
    pass


@pytest.fixture
def rt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Regtest]:
    with Regtest() as regtest:
        ca = tmp_path / "regtest-ca.pem"
        ca.write_bytes(regtest.cert_pem)
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
        yield regtest


def run_page(page: str, rt: Regtest, namespace: dict[str, Any], *, skip: str = "") -> int:
    tcp = rt.electrum_url.split("://")[1]
    hosts = {
        '"blockstream.info:465"': '"' + rt.electrum_ssl_url.split("://")[1] + '"',
        '"localhost:50001"': f'"{tcp}"',
        '"localhost:60401"': f'"{tcp}"',
    }
    ran = 0
    for code in snippets(page):
        for old, new in {**IMPORTS, **hosts}.items():
            code = code.replace(old, new)
        skipped = bool(skip) and skip in code
        if skipped:  # only its imports, which later snippets rely on
            code = "".join(line for line in code.splitlines(True) if line.startswith("from "))
        assert "from lwk import" not in code
        exec(compile(code, f"{page} snippet", "exec"), namespace)
        ran += not skipped
    return ran


def funded_wollet(rt: Regtest, name: str, payments: int) -> Wollet:
    mnemonic = lwk.Mnemonic.from_entropy(hashlib.sha256(name.encode()).digest()[:16])
    text = str(lwk.Signer(mnemonic, lwk.Network.regtest_default()).wpkh_slip77_descriptor())
    wollet = Wollet(Network.ELEMENTS_REGTEST, text)
    for i in range(payments):
        rt.faucet(wollet.address(i).address(), 10_000 * (i + 1))
    rt.mine(1)
    return wollet


def test_electrum_integration_page(
    rt: Regtest, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wollet = funded_wollet(rt, "seed electrum page", 2)
    signed = Transaction.from_bytes(rt.build_payment(wollet.address(5).address(), 777))
    late_payment: list[str] = []

    def sleep(seconds: float) -> None:
        """The real-time loop's pause: a payment and a block arrive, then the test ends.

        The client's tip follows the headers the server pushes: within the page's 30 s the
        new block's arrives, so the pause lasts until it has."""
        assert seconds == 30
        if late_payment:
            raise StopLoop
        late_payment.append(rt.faucet(wollet.address(6).address(), 4_000))
        rt.mine(1)
        wait_for_tip(namespace["client"], rt.tip_height())

    monkeypatch.setattr(time, "sleep", sleep)
    namespace: dict[str, Any] = {"wollet": wollet, "signed_transaction": signed}
    with pytest.raises(StopLoop):
        run_page("electrum-integration.md", rt, namespace)
    out = capsys.readouterr().out.splitlines()

    assert out[0] == "Connected to Electrum server"
    assert out[1] == "Found 2 new transactions"
    assert out[2] == "Current L-BTC balance: 30000 sats"
    assert out[3] == f"Transaction broadcast successfully: {signed.txid}"
    assert out[4] == f"Transaction size: {signed.size()} bytes"
    assert out[5].startswith("Current block: ")
    assert out[6].startswith("New block detected: ") and out[6] != out[5]
    assert len(out) == 7
    # The loop's sync found the broadcast payment and the late one, both confirmed.
    assert wollet.balance().btc_balance() == 30_000 + 777 + 4_000
    heights = {t.txid: t.height for t in wollet.transactions()}
    assert heights[late_payment[0]] == heights[signed.txid] == rt.tip_height()


def test_backends_overview_page(rt: Regtest, capsys: pytest.CaptureFixture[str]) -> None:
    wollet = funded_wollet(rt, "seed overview page", 3)
    namespace: dict[str, Any] = {"wollet": wollet}
    # The Esplora quick start scans blockstream.info (no network here): the Esplora plugin's
    # own tests cover it. Its construction-only lines in the network sections do run.
    ran = run_page("backends-overview.md", rt, namespace, skip="Wallet synced via Esplora")
    assert ran == 6
    out = capsys.readouterr().out.splitlines()
    # The quick start scans and applies; the later full scan and sync find nothing new.
    assert out == [
        "Wallet synced via Electrum",
        "L-BTC balance: 60000 sats",
        "Wallet is up to date",
    ]
    assert wollet.balance().btc_balance() == 60_000
