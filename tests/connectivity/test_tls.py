"""TLS for both backends against the embedded servers' self-signed certificate: a CA bundle
(`ca_file`), certificate pins, trust on first use for Electrum, and a typed error for each
refusal, before any request reaches the server.

Ground truth: the fingerprint the regtest chain publishes for its certificate (computed by
lwk_regtest from the DER bytes), and another certificate made here.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from connectivity_support import FUNDED_SATS, Funded, TlsFront, async_view, free_port, view
from lwk_electrum import AsyncElectrumClient, ElectrumClient
from lwk_esplora import AsyncEsploraClient, EsploraClient
from lwk_regtest import Regtest
from lwk_regtest._tls import SelfSignedCert, self_signed_cert

from lwk_core import (
    BackendChain,
    CertificatePinMismatch,
    CertificateRejected,
    InvalidArgument,
    StoreCorrupted,
    Wollet,
)

WRONG_PIN = "ab" * 32


@pytest.fixture(scope="module")
def other_cert() -> SelfSignedCert:
    """Another self-signed certificate for localhost (the cached generator's, run afresh)."""
    return self_signed_cert.__wrapped__()  # type: ignore[attr-defined,no-any-return]


@pytest.fixture(scope="module")
def ca_file(cert: SelfSignedCert, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "regtest-ca.pem"
    path.write_bytes(cert.cert_pem)
    return path


@pytest.fixture(scope="module")
def other_ca_file(other_cert: SelfSignedCert, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("other-ca") / "other-ca.pem"
    path.write_bytes(other_cert.cert_pem)
    return path


def _tip(client: Any) -> None:
    with client:
        client.tip()


def _atip(client: Any) -> None:
    async def tip() -> None:
        async with client:
            await client.tip()

    asyncio.run(tip())


# -- Electrum ------------------------------------------------------------------------------


def test_electrum_validates_against_a_ca_file(
    rt: Regtest, funded: Funded, ca_file: Path, other_ca_file: Path
) -> None:
    with ElectrumClient.from_url(rt.electrum_ssl_url, ca_file=ca_file) as c:
        assert view(c, rt, funded.descriptor)["balance"] == FUNDED_SATS
    async_client = AsyncElectrumClient.from_url(rt.electrum_ssl_url, ca_file=str(ca_file))
    assert asyncio.run(async_view(async_client, rt, funded.descriptor))["balance"] == FUNDED_SATS

    for refused in (  # the system's CAs, another CA: neither signed this certificate
        ElectrumClient.from_url(rt.electrum_ssl_url),
        ElectrumClient.from_url(rt.electrum_ssl_url, ca_file=other_ca_file),
    ):
        with pytest.raises(CertificateRejected, match="certificate"):
            _tip(refused)
    with pytest.raises(CertificateRejected):
        _atip(AsyncElectrumClient.from_url(rt.electrum_ssl_url, ca_file=other_ca_file))


def test_electrum_pin_mismatch_names_both_fingerprints(rt: Regtest) -> None:
    for flavour, run in ((ElectrumClient, _tip), (AsyncElectrumClient, _atip)):
        with pytest.raises(CertificatePinMismatch) as info:
            run(flavour.from_url(rt.electrum_ssl_url, cert_fingerprint=WRONG_PIN))
        assert (info.value.expected, info.value.served) == (WRONG_PIN, rt.cert_fingerprint)
        colons = ":".join(rt.cert_fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
        run(flavour.from_url(rt.electrum_ssl_url, cert_fingerprint=colons))  # accepted


def test_electrum_trust_on_first_use_pins_the_first_certificate(
    rt: Regtest, funded: Funded, cert: SelfSignedCert, other_cert: SelfSignedCert, tmp_path: Path
) -> None:
    """A server (a TLS front on one port) that later shows another certificate is refused,
    and the wallet keeps what it had."""
    backend = int(rt.electrum_url.rsplit(":", 1)[1])
    port = free_port()
    url = f"ssl://localhost:{port}"
    wollet = Wollet(rt.network, funded.descriptor)
    with TlsFront(cert, backend, port):
        with ElectrumClient.from_url(url, trust_on_first_use=tmp_path) as c:
            update = c.full_scan(wollet)
            assert update is not None
            wollet.apply_update(update)
        pin_file = tmp_path / "electrum-tls-pins.json"
        assert json.loads(pin_file.read_text()) == {
            "version": 1,
            "pins": {url: rt.cert_fingerprint},
        }
        assert stat.S_IMODE(os.stat(pin_file).st_mode) == 0o600
        _atip(AsyncElectrumClient.from_url(url, trust_on_first_use=tmp_path))  # same pin
    seen = [t.txid for t in wollet.transactions()]
    assert wollet.balance().btc_balance() == FUNDED_SATS

    with TlsFront(other_cert, backend, port) as changed:  # same host and port, new cert
        for flavour, run in ((ElectrumClient, None), (AsyncElectrumClient, _atip)):
            client = flavour.from_url(url, trust_on_first_use=tmp_path)
            with pytest.raises(CertificatePinMismatch) as info:
                if run is None:
                    with client:
                        client.full_scan(wollet)
                else:
                    run(client)
            assert (info.value.expected, info.value.served) == (
                rt.cert_fingerprint,
                other_cert.fingerprint,
            )
        assert changed.forwarded == 0  # no request went to the server
    assert [t.txid for t in wollet.transactions()] == seen
    assert json.loads(pin_file.read_text())["pins"] == {url: rt.cert_fingerprint}


def test_a_damaged_pin_file_is_refused_not_overwritten(rt: Regtest, tmp_path: Path) -> None:
    pin_file = tmp_path / "electrum-tls-pins.json"
    pin_file.write_text('{"version": 1, "pins": {"ssl://localhost:1": "not a pin"}}')
    with pytest.raises(StoreCorrupted):
        _tip(ElectrumClient.from_url(rt.electrum_ssl_url, trust_on_first_use=tmp_path))
    assert "not a pin" in pin_file.read_text()


@pytest.mark.parametrize(
    ("url_kind", "options"),
    [
        ("tcp", {"cert_fingerprint": WRONG_PIN}),
        ("tcp", {"ca_file": "x.pem"}),
        ("ssl", {"cert_fingerprint": WRONG_PIN, "trust_on_first_use": "."}),
        ("ssl", {"ca_file": "/nonexistent/ca.pem"}),
        ("ssl", {"ca_file": __file__}),  # not PEM
        ("ssl", {"ca_file": __file__, "validate_domain": False}),
        ("ssl", {"cert_fingerprint": "abc"}),
        ("ssl", {"proxy": "http://127.0.0.1:8080"}),
        ("ssl", {"proxy": "socks5h://127.0.0.1"}),
    ],
)
def test_electrum_refuses_tls_and_proxy_options_that_cannot_work(
    rt: Regtest, url_kind: str, options: dict[str, Any]
) -> None:
    url = rt.electrum_url if url_kind == "tcp" else rt.electrum_ssl_url
    with pytest.raises(InvalidArgument):
        ElectrumClient.from_url(url, **options)


# -- Esplora -------------------------------------------------------------------------------


def test_esplora_validates_against_a_ca_file(
    rt: Regtest, funded: Funded, esplora_tls: TlsFront, ca_file: Path, other_ca_file: Path
) -> None:
    url = f"https://localhost:{esplora_tls.port}"
    with EsploraClient(url, rt.network, ca_file=ca_file) as c:
        assert view(c, rt, funded.descriptor)["balance"] == FUNDED_SATS
    async_client = AsyncEsploraClient(url, rt.network, ca_file=ca_file)
    assert asyncio.run(async_view(async_client, rt, funded.descriptor))["balance"] == FUNDED_SATS

    before = esplora_tls.forwarded
    # certifi's CAs (httpx's default) and another CA: neither signed this certificate
    with pytest.raises(CertificateRejected, match="certificate"):
        _tip(EsploraClient(url, rt.network, trust_env=False))
    with pytest.raises(CertificateRejected):
        _tip(EsploraClient(url, rt.network, ca_file=other_ca_file))
    with pytest.raises(CertificateRejected):
        _atip(AsyncEsploraClient(url, rt.network, ca_file=other_ca_file))
    assert esplora_tls.forwarded == before


def test_esplora_pins_the_certificate_before_any_request(
    rt: Regtest, funded: Funded, esplora_tls: TlsFront
) -> None:
    url = f"https://localhost:{esplora_tls.port}"
    with EsploraClient(url, rt.network, cert_fingerprint=rt.cert_fingerprint) as c:
        assert view(c, rt, funded.descriptor)["balance"] == FUNDED_SATS
    before = esplora_tls.forwarded
    for flavour, run in ((EsploraClient, _tip), (AsyncEsploraClient, _atip)):
        with pytest.raises(CertificatePinMismatch) as info:
            run(flavour(url, rt.network, cert_fingerprint=WRONG_PIN))
        assert (info.value.expected, info.value.served) == (WRONG_PIN, rt.cert_fingerprint)
    assert esplora_tls.forwarded == before  # the request (and its headers) never went out


def test_a_chain_fails_over_from_a_pin_mismatch(
    rt: Regtest, funded: Funded, esplora_tls: TlsFront
) -> None:
    url = f"https://localhost:{esplora_tls.port}"
    wrong = EsploraClient(url, rt.network, cert_fingerprint=WRONG_PIN)
    right = ElectrumClient.from_url(rt.electrum_ssl_url, cert_fingerprint=rt.cert_fingerprint)
    with BackendChain([wrong, right]) as chain:
        assert view(chain, rt, funded.descriptor)["balance"] == FUNDED_SATS


@pytest.mark.parametrize(
    ("scheme", "options"),
    [
        ("http", {"ca_file": __file__}),
        ("http", {"cert_fingerprint": WRONG_PIN}),
        ("https", {"ca_file": "/nonexistent/ca.pem"}),
        ("https", {"ca_file": __file__}),  # not PEM
        ("https", {"ca_file": __file__, "cert_fingerprint": WRONG_PIN}),
        ("https", {"verify": False, "cert_fingerprint": WRONG_PIN}),
        ("https", {"cert_fingerprint": "abc"}),
        ("https", {"proxy": "ftp://127.0.0.1:21"}),
    ],
)
def test_esplora_refuses_tls_and_proxy_options_that_cannot_work(
    rt: Regtest, scheme: str, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgument):
        EsploraClient(f"{scheme}://localhost:1", rt.network, **options)
