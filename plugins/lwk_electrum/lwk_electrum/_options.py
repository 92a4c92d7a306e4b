"""The constructor arguments both Electrum clients take (LWK's, plus the transport's)."""

from __future__ import annotations

import logging
import os
import ssl
from typing import Any, Self

import attrs

from lwk_core import InvalidArgument, Network
from lwk_core.auth import TokenProvider, as_token_provider, refuse_insecure
from lwk_core.plugin import ca_context, parse_fingerprint

from ._connection import BATCH_SIZE
from ._endpoint import Endpoint
from ._framing import MAX_LINE
from ._pins import PinFile
from ._socks import SocksProxy

__all__ = ["ElectrumConstructors", "ElectrumOptions"]

log = logging.getLogger("lwk_electrum")


@attrs.frozen
class ElectrumOptions:
    endpoint: Endpoint
    validate_domain: bool
    timeout: float
    connect_timeout: float
    pin: bytes | None
    ca: ssl.SSLContext | None
    pins: PinFile | None
    proxy: SocksProxy | None
    network: Network | None
    verify_merkle: bool
    batch_size: int
    max_line: int
    auth: TokenProvider | None = None

    def connection_kwargs(self) -> dict[str, Any]:
        return {
            "auth": self.auth,
            "timeout": self.timeout,
            "connect_timeout": self.connect_timeout,
            "validate_domain": self.validate_domain,
            "cert_fingerprint": self.pin,
            "ca": self.ca,
            "pins": self.pins,
            "proxy": self.proxy,
            "max_line": self.max_line,
            "batch_size": self.batch_size,
        }


class ElectrumConstructors:
    """`Client("host:port", tls, validate_domain)` as in LWK, or `Client.from_url(url)`;
    each flavour builds its connection and session from the options in `_setup`.

    Beyond LWK's: `proxy="socks5h://host:port"` connects through a SOCKS5 proxy such as
    Tor's (needs `lwk-electrum[socks]`; the proxy resolves the server's name);
    `ca_file` (PEM) replaces the system's CAs; `cert_fingerprint` pins the certificate;
    `trust_on_first_use=datadir` pins the first certificate each server shows, in
    `datadir/electrum-tls-pins.json` (see `_pins`); `token` (a string or a TokenProvider)
    goes in each request's authorization member, over tcp:// only with allow_insecure_auth.
    """

    def __init__(
        self,
        electrum_url: str,
        tls: bool = True,
        validate_domain: bool = True,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        cert_fingerprint: str | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        trust_on_first_use: str | os.PathLike[str] | None = None,
        proxy: str | None = None,
        network: Network | None = None,
        verify_merkle: bool = True,
        batch_size: int = BATCH_SIZE,
        max_line: int = MAX_LINE,
        token: str | TokenProvider | None = None,
        allow_insecure_auth: bool = False,
    ) -> None:
        self._setup(
            _options(
                Endpoint.from_host_port(electrum_url, bool(tls)),
                token=token,
                allow_insecure_auth=allow_insecure_auth,
                validate_domain=validate_domain,
                timeout=timeout,
                connect_timeout=connect_timeout,
                cert_fingerprint=cert_fingerprint,
                ca_file=ca_file,
                trust_on_first_use=trust_on_first_use,
                proxy=proxy,
                network=network,
                verify_merkle=verify_merkle,
                batch_size=batch_size,
                max_line=max_line,
            )
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        validate_domain: bool = True,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        cert_fingerprint: str | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        trust_on_first_use: str | os.PathLike[str] | None = None,
        proxy: str | None = None,
        network: Network | None = None,
        verify_merkle: bool = True,
        batch_size: int = BATCH_SIZE,
        max_line: int = MAX_LINE,
        token: str | TokenProvider | None = None,
        allow_insecure_auth: bool = False,
    ) -> Self:
        """A client for "ssl://host:port" (TLS) or "tcp://host:port" (plain TCP)."""
        client = cls.__new__(cls)
        client._setup(
            _options(
                Endpoint.from_url(url),
                token=token,
                allow_insecure_auth=allow_insecure_auth,
                validate_domain=validate_domain,
                timeout=timeout,
                connect_timeout=connect_timeout,
                cert_fingerprint=cert_fingerprint,
                ca_file=ca_file,
                trust_on_first_use=trust_on_first_use,
                proxy=proxy,
                network=network,
                verify_merkle=verify_merkle,
                batch_size=batch_size,
                max_line=max_line,
            )
        )
        return client

    def _setup(self, options: ElectrumOptions) -> None:
        raise NotImplementedError


def _options(
    endpoint: Endpoint,
    *,
    validate_domain: bool,
    cert_fingerprint: str | None,
    ca_file: str | os.PathLike[str] | None,
    trust_on_first_use: str | os.PathLike[str] | None,
    proxy: str | None,
    token: str | TokenProvider | None,
    allow_insecure_auth: bool,
    **rest: Any,
) -> ElectrumOptions:
    auth = as_token_provider(token)
    if auth is not None:
        refuse_insecure(
            endpoint.url, encrypted=endpoint.tls, allow_insecure_auth=allow_insecure_auth
        )
    pin = None if cert_fingerprint is None else parse_fingerprint(cert_fingerprint)
    pins = None if trust_on_first_use is None else PinFile(trust_on_first_use)
    if (pin is not None or pins is not None or ca_file is not None) and not endpoint.tls:
        raise InvalidArgument("cert_fingerprint, trust_on_first_use and ca_file need TLS (ssl://)")
    if pin is not None and pins is not None:
        raise InvalidArgument("give cert_fingerprint or trust_on_first_use, not both")
    if ca_file is not None and not (validate_domain and pin is None and pins is None):
        raise InvalidArgument("ca_file is for validating: not with validate_domain=False or a pin")
    if endpoint.tls and not validate_domain and pin is None and pins is None:
        log.warning(
            "%s: TLS certificate validation is off (validate_domain=False): the traffic is"
            " encrypted but the server is not authenticated; prefer cert_fingerprint",
            endpoint.url,
        )
    return ElectrumOptions(
        endpoint,
        bool(validate_domain),
        pin=pin,
        ca=None if ca_file is None else ca_context(ca_file),
        pins=pins,
        proxy=None if proxy is None else SocksProxy.from_url(proxy),
        auth=auth,
        **rest,
    )
