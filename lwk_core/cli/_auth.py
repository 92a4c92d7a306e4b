"""The backend authentication options: a bearer token, or OAuth2 client credentials.

The flag names follow LWK's CLI (`--auth-token-url`, `--auth-client-id`,
`--auth-client-secret`; Blockstream/lwk, lwk_cli). Secrets on a command line are visible
to other users of the machine (`ps`), so the token and the client secret are read from
$LWK_TOKEN and $LWK_AUTH_CLIENT_SECRET when their flags are not given.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..auth import ClientCredentials
from ._errors import UsageError

__all__ = ["SECRET_ENV", "TOKEN_ENV", "add_auth_arguments", "auth_options"]

TOKEN_ENV = "LWK_TOKEN"
SECRET_ENV = "LWK_AUTH_CLIENT_SECRET"


def add_auth_arguments(group: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--token", metavar="TOKEN", help=f"a bearer token for the backends (or ${TOKEN_ENV})"
    )
    group.add_argument(
        "--auth-token-url", metavar="URL", help="OAuth2 token endpoint (client credentials)"
    )
    group.add_argument("--auth-client-id", metavar="ID", help="OAuth2 client id")
    group.add_argument(
        "--auth-client-secret", metavar="SECRET", help=f"OAuth2 client secret (or ${SECRET_ENV})"
    )
    group.add_argument(
        "--allow-insecure-auth",
        action="store_true",
        help="allow sending the token or secret without TLS (a loopback or tunnelled server)",
    )


def auth_options(args: argparse.Namespace) -> dict[str, Any]:
    """The clients' `token` and `allow_insecure_auth` options from the arguments."""
    insecure = bool(args.allow_insecure_auth)
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if args.auth_token_url is None:
        if args.auth_client_id is not None or args.auth_client_secret is not None:
            raise UsageError("--auth-client-id and --auth-client-secret need --auth-token-url")
        if token is None:  # a hand-written Authorization --header may still need the opt-in
            return {"allow_insecure_auth": True} if insecure else {}
        return {"token": token, "allow_insecure_auth": insecure}
    if token is not None:
        raise UsageError("give either a token or --auth-token-url, not both")
    secret = args.auth_client_secret or os.environ.get(SECRET_ENV)
    if not args.auth_client_id or not secret:
        raise UsageError(f"--auth-token-url needs --auth-client-id and a secret (${SECRET_ENV})")
    try:
        login = ClientCredentials(
            args.auth_token_url, args.auth_client_id, secret, allow_insecure=insecure
        )
    except ValueError as exc:  # InsecureTransport too
        raise UsageError(str(exc)) from None
    return {"token": login, "allow_insecure_auth": insecure}
