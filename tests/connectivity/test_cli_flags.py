"""`lwk` with --proxy, --ca-file and --pin against the embedded chain (and microsocks):
the flags reach the clients, the TLS ones only the TLS backends of a chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from connectivity_support import FUNDED_SATS, Funded, Resolver, Socks, TlsFront
from lwk_regtest import Regtest, TokenIssuer
from lwk_regtest._tls import SelfSignedCert

from lwk_core.auth import ClientCredentials
from lwk_core.cli import main

WRONG_PIN = "cd" * 32


def lwk(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_tip_through_the_proxy_with_the_name_resolved_there(
    rt: Regtest, socks: Socks, resolver: Resolver, capsys: pytest.CaptureFixture[str]
) -> None:
    resolver.refused.add("localhost")
    url = f"tcp://localhost:{_port(rt.electrum_url)}"
    code, out, _ = lwk(capsys, "tip", url, "--proxy", socks.url, "--json")
    assert code == 0
    assert json.loads(out)["height"] == rt.tip_height()
    assert socks.connected_to("localhost", _port(rt.electrum_url))
    assert "localhost" not in resolver.asked


def test_balance_with_a_pin_and_a_chain_where_only_tls_backends_get_it(
    rt: Regtest, funded: Funded, capsys: pytest.CaptureFixture[str]
) -> None:
    wallet = ["--network", "regtest", "--descriptor", funded.descriptor, "--json"]
    code, out, _ = lwk(
        capsys,
        "balance",
        *wallet,
        "--backend",
        rt.electrum_url,  # tcp://: no pin for it, it would refuse one
        "--backend",
        rt.electrum_ssl_url,
        "--pin",
        rt.cert_fingerprint,
    )
    assert code == 0, out
    assert json.loads(out)["balance"][rt.network.policy_asset] == FUNDED_SATS

    code, _, err = lwk(
        capsys, "balance", *wallet, "--backend", rt.electrum_ssl_url, "--pin", WRONG_PIN
    )
    assert code != 0
    assert "does not match the pinned fingerprint" in err


def test_ca_file_for_an_https_esplora(
    rt: Regtest,
    cert: SelfSignedCert,
    esplora_tls: TlsFront,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(cert.cert_pem)
    url = f"https://localhost:{esplora_tls.port}"
    code, out, _ = lwk(capsys, "tip", url, "--network", "regtest", "--ca-file", str(ca), "--json")
    assert code == 0
    assert json.loads(out)["height"] == rt.tip_height()
    code, _, err = lwk(capsys, "tip", url, "--network", "regtest")
    assert code != 0 and "certificate" in err


@pytest.mark.parametrize(
    "flags",
    [
        ["--pin", WRONG_PIN],  # no TLS backend to pin
        ["--ca-file", "ca.pem"],
    ],
)
def test_tls_flags_without_a_tls_backend_are_usage_errors(
    rt: Regtest, flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = lwk(capsys, "tip", rt.electrum_url, *flags)
    assert code == 2
    assert f"{flags[0]} is for ssl:// and https:// backends" in err


def test_a_bad_pin_or_proxy_is_a_usage_error(
    rt: Regtest, capsys: pytest.CaptureFixture[str]
) -> None:
    for flags in (["--pin", "abc"], ["--proxy", "ftp://127.0.0.1:21"]):
        code, _, err = lwk(capsys, "tip", rt.electrum_ssl_url, *flags)
        assert code == 2, err


def test_the_tls_flags_come_from_the_environment_too(
    rt: Regtest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LWK_PIN", WRONG_PIN)
    code, _, err = lwk(capsys, "tip", rt.electrum_ssl_url)
    assert code != 0 and "does not match the pinned fingerprint" in err
    monkeypatch.setenv("LWK_PIN", rt.cert_fingerprint)
    code, out, _ = lwk(capsys, "tip", rt.electrum_ssl_url, "--no-validate-domain", "--json")
    assert code == 0
    assert json.loads(out)["height"] == rt.tip_height()
    code, _, err = lwk(capsys, "tip", rt.electrum_ssl_url, "--pin", WRONG_PIN)  # flag wins
    assert code != 0 and "does not match the pinned fingerprint" in err


def test_a_header_reaches_an_http_backend(capsys: pytest.CaptureFixture[str]) -> None:
    """A server that requires a bearer token answers only when --header carries one."""
    with Regtest(auth=TokenIssuer({"app": "s3cret-of-the-app"})) as rt:
        token = ClientCredentials(rt.token_url, "app", "s3cret-of-the-app", allow_insecure=True)
        tip = ["tip", rt.esplora_url, "--network", "regtest", "--allow-insecure-auth", "--json"]
        code, _, err = lwk(capsys, *tip)
        assert code == 3, err  # refused: no token
        header = f"Authorization: Bearer {token.token()}"
        code, out, _ = lwk(capsys, *tip, "--header", header)
        assert code == 0
        assert json.loads(out)["height"] == rt.tip_height()


@pytest.mark.parametrize(
    ("flags", "refusal"),
    [
        (["--no-validate-domain"], "--no-validate-domain is for ssl:// backends"),
        (["--header", "X-Api-Key: 1"], "--header is for http:// and https:// backends"),
        (["--header", "no colon"], "not a NAME:VALUE header"),
    ],
)
def test_flags_for_another_kind_of_backend_are_usage_errors(
    rt: Regtest, flags: list[str], refusal: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = lwk(capsys, "tip", rt.electrum_url, *flags)
    assert code == 2
    assert refusal in err
