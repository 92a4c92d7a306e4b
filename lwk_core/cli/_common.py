"""Options shared by several commands, and turning them into a wallet and a backend."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import platformdirs

from .._chain import BackendChain
from .._client import Client, connect
from .._descriptor import WolletDescriptor
from .._errors import InsecureTransport, InvalidArgument
from .._network import Network
from .._update import Update
from .._wollet import Wollet
from ._auth import add_auth_arguments, auth_options
from ._errors import UsageError
from ._output import progress_bar

__all__ = [
    "DEFAULT_DATADIR",
    "DESCRIPTOR_ENV",
    "Backend",
    "add_connection_flags",
    "backend_options",
    "network_type",
    "open_backend",
    "open_wallet",
    "output_options",
    "positive_float",
    "positive_int",
    "read_descriptor",
    "sync_wallet",
    "wallet_options",
]

DESCRIPTOR_ENV = "LWK_DESCRIPTOR"
PROXY_ENV = "LWK_PROXY"
CA_FILE_ENV = "LWK_CA_FILE"
PIN_ENV = "LWK_PIN"
DEFAULT_DATADIR = platformdirs.user_data_path("lwk", appauthor=False)
"""`--datadir` without a directory: the platform's place for user data (on Linux
$XDG_DATA_HOME/lwk, ~/.local/share/lwk by default)."""

Backend = Client | BackendChain


def network_type(text: str) -> Network:
    """argparse type for --network: liquid, liquidtestnet/testnet, elementsregtest/regtest."""
    try:
        return Network.from_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def output_options(top: bool) -> argparse.ArgumentParser:
    """--json and --debug, accepted before or after the command name."""
    parent = argparse.ArgumentParser(add_help=False)
    default: Any = False if top else argparse.SUPPRESS
    parent.add_argument(
        "--json", action="store_true", default=default, help="machine-readable JSON on stdout"
    )
    parent.add_argument(
        "--debug", action="store_true", default=default, help="debug logs and full tracebacks"
    )
    return parent


def wallet_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("wallet")
    source = group.add_mutually_exclusive_group()
    source.add_argument(
        "--descriptor",
        metavar="D",
        help=f"the CT descriptor (prefer --descriptor-file or ${DESCRIPTOR_ENV}: shell history)",
    )
    source.add_argument(
        "--descriptor-file", metavar="PATH", help="read the descriptor from a file ('-': stdin)"
    )
    group.add_argument(
        "--network",
        type=network_type,
        help="liquid, liquidtestnet or elementsregtest (default: liquid for xpub keys; "
        "tpub keys serve both test networks, so they need it)",
    )
    group.add_argument(
        "--datadir",
        metavar="DIR",
        nargs="?",
        const=DEFAULT_DATADIR,
        type=Path,
        help=f"keep the synced wallet here (encrypted) between runs; --datadir alone: "
        f"{DEFAULT_DATADIR}",
    )
    return parent


def backend_options(*, gap_limit: bool = True) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("backends")
    group.add_argument(
        "--backend",
        metavar="URL",
        action="append",
        default=[],
        help="tcp://, ssl://, http://, https:// (or a plugin's scheme); repeat for failover",
    )
    group.add_argument(
        "--timeout", type=positive_float, metavar="SECONDS", help="per-request timeout"
    )
    add_auth_arguments(group)
    add_connection_flags(group)
    if gap_limit:
        group.add_argument(
            "--gap-limit",
            type=positive_int,
            default=20,
            metavar="N",
            help="unused addresses in a row that end a scan (default 20)",
        )
    return parent


def add_connection_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--proxy, --ca-file, --pin (or their environment variables), --no-validate-domain and
    --header: the clients' proxy, ca_file, cert_fingerprint, validate_domain and headers."""
    parser.add_argument(
        "--proxy",
        metavar="URL",
        default=os.environ.get(PROXY_ENV) or None,
        help="connect through this proxy, e.g. socks5h://127.0.0.1:9050 (Tor); needs the "
        f"plugins' [socks] extra (or ${PROXY_ENV})",
    )
    parser.add_argument(
        "--ca-file",
        metavar="PATH",
        default=os.environ.get(CA_FILE_ENV) or None,
        help=f"trust the CAs of this PEM file for ssl:// and https:// backends (or ${CA_FILE_ENV})",
    )
    parser.add_argument(
        "--pin",
        metavar="SHA256",
        default=os.environ.get(PIN_ENV) or None,
        help=f"accept only the TLS certificate with this SHA-256 fingerprint (hex; or ${PIN_ENV})",
    )
    parser.add_argument(
        "--no-validate-domain",
        dest="validate_domain",
        action="store_false",
        default=None,
        help="ssl:// Electrum backends: check the certificate's chain, not that it names the "
        "host (a server reached by IP address)",
    )
    parser.add_argument(
        "--header",
        metavar="NAME:VALUE",
        action="append",
        type=_header,
        help="an HTTP header for http:// and https:// backends (repeat it)",
    )


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip() or any(c in text for c in "\r\n"):
        raise argparse.ArgumentTypeError(f"not a NAME:VALUE header: {name.strip() or text!r}")
    return name.strip(), value.strip()


def _connection_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The client options the connection flags give (only those given)."""
    flags = {
        "proxy": args.proxy,
        "ca_file": args.ca_file,
        "cert_fingerprint": args.pin,
        "validate_domain": args.validate_domain,
        "headers": dict(args.header) if args.header else None,
    }
    return {name: value for name, value in flags.items() if value is not None}


def read_descriptor(args: argparse.Namespace) -> str:
    """The descriptor from --descriptor, --descriptor-file or $LWK_DESCRIPTOR (in that order)."""
    if args.descriptor:
        return str(args.descriptor).strip()
    if args.descriptor_file:
        try:
            if args.descriptor_file == "-":
                text = sys.stdin.read()
            else:
                text = Path(args.descriptor_file).read_text()
        except OSError as exc:
            raise UsageError(f"cannot read the descriptor file: {exc.strerror}") from exc
        return text.strip()
    text = os.environ.get(DESCRIPTOR_ENV, "").strip()
    if text:
        return text
    raise UsageError(
        f"no descriptor: give --descriptor-file PATH, set ${DESCRIPTOR_ENV}, or --descriptor D"
    )


def open_wallet(args: argparse.Namespace, text: str | None = None) -> Wollet:
    """The wallet of the descriptor (`text`, else read_descriptor's) on --network (xpub
    keys: liquid), from --datadir."""
    descriptor = WolletDescriptor(read_descriptor(args) if text is None else text)
    network = args.network
    if network is None:
        if not descriptor.is_mainnet:  # liquidtestnet or elementsregtest: no way to tell
            raise UsageError("the descriptor's keys are for a test network: give --network")
        network = Network.LIQUID
    return Wollet(network, descriptor, datadir=args.datadir)


def open_backend(urls: Sequence[str], network: Network | None, args: argparse.Namespace) -> Backend:
    """One client for one URL; a BackendChain (failover in the given order) for several.

    Every command opens its backends here, so each one honours every flag: the timeout, the
    clients' token options (`_auth.auth_options`) and the connection flags (`_connection_flags`)
    go to every URL, except the options of one kind of backend: the TLS ones (ca_file,
    cert_fingerprint) go to ssl:// and https:// URLs only, validate_domain to ssl:// ones,
    headers to http:// and https:// ones.
    """
    if not urls:
        raise UsageError("no backend: give --backend URL (repeat it for failover)")
    connection = _connection_flags(args)
    for name, (wants, refusal) in _FOR_SOME.items():
        if name in connection and not any(map(wants, urls)):
            raise UsageError(refusal)
    options: dict[str, Any] = {} if args.timeout is None else {"timeout": args.timeout}
    options.update(auth_options(args))
    clients = []
    for url in urls:
        given = {k: v for k, v in connection.items() if k not in _FOR_SOME or _FOR_SOME[k][0](url)}
        clients.append(_connect(url, network, {**options, **given}))
    return clients[0] if len(clients) == 1 else BackendChain(clients, network=network)


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower()


def _is_tls(url: str) -> bool:
    return _scheme(url) == "ssl" or _scheme(url).endswith("https")


def _is_electrum_tls(url: str) -> bool:
    return _scheme(url) == "ssl"


def _is_http(url: str) -> bool:
    return _scheme(url).endswith(("http", "https"))


_TLS = "is for ssl:// and https:// backends"
# client option -> (the URLs that take it, the usage error when none does)
_FOR_SOME = {
    "ca_file": (_is_tls, f"--ca-file {_TLS}"),
    "cert_fingerprint": (_is_tls, f"--pin {_TLS}"),
    "validate_domain": (_is_electrum_tls, "--no-validate-domain is for ssl:// backends"),
    "headers": (_is_http, "--header is for http:// and https:// backends"),
}


def _connect(url: str, network: Network | None, options: dict[str, Any]) -> Client:
    try:
        client: Client = connect(url, network, **options)
    except TypeError as exc:  # the plugin refused an option, or needs the network
        if network is None and "network" in str(exc):
            needs = f"{url} needs --network (liquid, liquidtestnet, elementsregtest)"
            raise UsageError(needs) from None
        raise UsageError(f"{url}: {exc}") from None
    except InsecureTransport as exc:  # a token for a server without TLS (the text names it)
        raise UsageError(str(exc)) from None
    except InvalidArgument as exc:  # an option the client refused (bad --pin, --ca-file ...)
        raise UsageError(f"{url}: {exc}") from None
    except ValueError as exc:  # a malformed URL (no port, bad host ...)
        raise UsageError(f"bad backend URL {url!r}: {exc}") from None
    return client


def sync_wallet(backend: Backend, wollet: Wollet, gap_limit: int = 20) -> Update | None:
    """Scan (a progress bar on a terminal if it takes a moment) and apply the update."""
    bar = progress_bar()
    try:
        update = backend.sync(wollet, gap_limit, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if update is not None:
        wollet.apply_update(update)
    return update
