"""`lwk` against regtest servers that require OAuth2 bearer tokens: --token ($LWK_TOKEN),
--auth-token-url/--auth-client-id/--auth-client-secret ($LWK_AUTH_CLIENT_SECRET),
--allow-insecure-auth. Ground truth: the faucet's payments."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_support import Run
from lwk_regtest import Regtest, TokenIssuer
from shared_data import regtest_wallet_descriptor

from lwk_core import Network, Wollet
from lwk_core.auth import ClientCredentials
from lwk_core.cli._errors import ExitCode

NETWORK = Network.ELEMENTS_REGTEST
DESCRIPTOR = regtest_wallet_descriptor()
CLIENT_ID, SECRET = "cli-app", "cli-s3cret-value"
PAID = 70_000


@pytest.fixture(scope="module")
def rt() -> Iterator[Regtest]:
    with Regtest(auth=TokenIssuer({CLIENT_ID: SECRET})) as rt:
        rt.faucet(Wollet(NETWORK, DESCRIPTOR).address(0).address(), PAID)
        rt.mine(1)
        yield rt


@pytest.fixture(autouse=True)
def _no_auth_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LWK_TOKEN", raising=False)
    monkeypatch.delenv("LWK_AUTH_CLIENT_SECRET", raising=False)


def balance(lwk: Run, rt: Regtest, *auth: str) -> tuple[int, str, str]:
    wallet = ("--descriptor", DESCRIPTOR, "--network", "elementsregtest")
    result = lwk("balance", *wallet, "--backend", rt.esplora_url, *auth, "--json")
    return result.code, result.out, result.err


def test_client_credentials_with_the_secret_from_the_environment(
    lwk: Run, rt: Regtest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LWK_AUTH_CLIENT_SECRET", SECRET)
    args = ("--auth-token-url", rt.token_url, "--auth-client-id", CLIENT_ID)
    code, out, err = balance(lwk, rt, *args, "--allow-insecure-auth")
    assert code == ExitCode.OK, err
    assert '"' + NETWORK.policy_asset + '": ' + str(PAID) in out
    code, out, err = balance(lwk, rt, *args)  # plain http: refused before any request
    assert code == ExitCode.USAGE and "without TLS" in err
    assert SECRET not in out + err


def test_a_static_token(lwk: Run, rt: Regtest, monkeypatch: pytest.MonkeyPatch) -> None:
    token = ClientCredentials(rt.token_url, CLIENT_ID, SECRET, allow_insecure=True).token()
    # "--token=T": a random token may begin with "-", which argparse would take for an option
    code, out, err = balance(lwk, rt, f"--token={token}", "--allow-insecure-auth")
    assert code == ExitCode.OK and str(PAID) in out, err
    monkeypatch.setenv("LWK_TOKEN", token)
    code, out, err = balance(lwk, rt, "--allow-insecure-auth")
    assert code == ExitCode.OK and str(PAID) in out, err
    code, out, err = balance(lwk, rt, "--token", "refused-t0ken", "--allow-insecure-auth")
    assert code == ExitCode.BACKEND and "HTTP 401" in err
    assert token not in out + err and "refused-t0ken" not in out + err


def test_a_wrong_secret_is_a_backend_error_naming_the_oauth_code(lwk: Run, rt: Regtest) -> None:
    args = ("--auth-token-url", rt.token_url, "--auth-client-id", CLIENT_ID)
    code, out, err = balance(
        lwk, rt, *args, "--auth-client-secret", "wr0ng", "--allow-insecure-auth"
    )
    assert code == ExitCode.BACKEND and "invalid_client" in err
    assert "wr0ng" not in out + err


@pytest.mark.parametrize(
    "args",
    [
        ("--auth-client-id", CLIENT_ID),  # no token URL
        ("--auth-token-url", "https://login.example/token"),  # no client id nor secret
        ("--token", "t", "--auth-token-url", "https://x/t", "--auth-client-id", "i"),  # both
    ],
)
def test_incomplete_or_conflicting_auth_options_are_usage_errors(
    lwk: Run, rt: Regtest, args: tuple[str, ...]
) -> None:
    code, _, err = balance(lwk, rt, *args, "--auth-client-secret", "s")
    assert code == ExitCode.USAGE, err
