"""`Regtest`: the embedded chain, its faucet and its servers, here or in a child process (see
the package's docstring)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from lwk_core import Chain, Federation, Network, OutPoint, TxOutSecrets, WolletDescriptor

from ._auth import TOKEN_PATH, TokenIssuer
from ._chain import RegtestChain
from ._child import Child, spend_params
from ._electrum_server import ElectrumServer
from ._esplora_server import EsploraServer
from ._faucet import Faucet, TxCache, default_cache_dir
from ._faults import Faults
from ._fixture import (
    example_descriptor,
    extend_to_step,
    fixture_chain,
    fund_wallet,
    load_fixture,
)
from ._signing import DEFAULT_SIGNERS, BlockSigners
from ._tls import self_signed_cert
from ._waterfalls_server import WaterfallsServer

__all__ = ["Regtest"]

_CHANGES = frozenset(
    {"faucet", "issue_asset", "spend", "mine", "reorg", "evict", "fund_wallet", "extend_fixture"}
)  # the control commands that change the chain

_EXAMPLE_PAYMENTS = (100_000, 50_000, 25_000)


class Regtest:
    """A running regtest chain with an Electrum (tcp and ssl) and an Esplora server.

    `cache_dir` holds built transactions (default: $LWK_REGTEST_CACHE or
    ~/.cache/lwk-regtest); `cache=False` builds everything afresh. `genesis_hash` is the
    chain the servers say they serve (default: the network's; see RegtestChain).
    `signers` sign every block (default: `DEFAULT_SIGNERS`, 2 of 3, dynafed headers);
    None makes unsigned blocks whose challenge is OP_TRUE, as a default elementsd regtest
    chain's. `federation()` is what a client verifying the blocks trusts.
    `auth` (a TokenIssuer, in-process only) makes every server require bearer tokens, and
    the Esplora server the token endpoint at `token_url`. `electrum_max_subscriptions`
    caps the scripts each Electrum connection may subscribe (see ElectrumServer).
    """

    def __init__(
        self,
        network: Network = Network.ELEMENTS_REGTEST,
        *,
        genesis_hash: str | None = None,
        signers: BlockSigners | None = DEFAULT_SIGNERS,
        process: bool = False,
        cache: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        auth: TokenIssuer | None = None,
        electrum_max_subscriptions: int | None = None,
        _fixture: tuple[str, int] | None = None,
    ) -> None:
        if auth is not None and process:
            raise ValueError("token authentication is supported in-process only")
        self.auth = auth
        self.network = network
        self.genesis_hash = genesis_hash or network.genesis_hash
        self.signers = signers
        self.process = process
        if electrum_max_subscriptions is not None and electrum_max_subscriptions < 0:
            raise ValueError("electrum_max_subscriptions must be >= 0 or None")
        self.electrum_max_subscriptions = electrum_max_subscriptions
        self._cache_dir = (Path(cache_dir) if cache_dir else default_cache_dir()) if cache else None
        self._fixture = _fixture
        self._chain: RegtestChain | None = None
        self._faucet: Faucet | None = None
        self._servers: list[ElectrumServer | EsploraServer] = []
        self._child: Child | None = None
        self._example: str | None = None
        self.electrum_url = self.electrum_ssl_url = self.esplora_url = self.waterfalls_url = ""
        self.token_url = ""
        self.cert_pem = b""
        self.cert_fingerprint = ""

    @classmethod
    def from_fixture(
        cls,
        path: str | os.PathLike[str],
        *,
        step: int = 1,
        process: bool = False,
        cache: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        signers: BlockSigners | None = DEFAULT_SIGNERS,
    ) -> Regtest:
        """Serve a wallet fixture's real transactions at their heights and block times.

        `step` 0 serves the transactions of the fixture's first step only; `extend_fixture`
        adds a later step's.
        """
        fixture = load_fixture(path)
        return cls(
            fixture.network,
            process=process,
            cache=cache,
            cache_dir=cache_dir,
            signers=signers,
            _fixture=(os.fspath(path), step),
        )

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> Regtest:
        if self.process:
            self._child = Child(self._child_args())
            info = self._child.info
        else:
            info = self._start_here()
        self.network = Network.from_name(info["network"])
        self.electrum_url = info["electrum_url"]
        self.electrum_ssl_url = info["electrum_ssl_url"]
        self.esplora_url = info["esplora_url"]
        self.waterfalls_url = info["waterfalls_url"]
        self.cert_pem = info["cert_pem"].encode()
        self.cert_fingerprint = info["cert_fingerprint"]
        if self.auth is not None:
            self.token_url = self.esplora_url + TOKEN_PATH
        return self

    def stop(self) -> None:
        for server in reversed(self._servers):
            server.stop()
        self._servers = []
        if self._child is not None:
            self._child.close()
            self._child = None

    def __enter__(self) -> Regtest:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _start_here(self) -> dict[str, str]:
        if self._fixture is not None:
            path, step = self._fixture
            self._chain = fixture_chain(load_fixture(path), step, signers=self.signers)
        else:
            self._chain = RegtestChain(
                self.network, genesis_hash=self.genesis_hash, signers=self.signers
            )
        self._faucet = Faucet(self._chain, cache=TxCache(self._cache_dir))
        cert = self_signed_cert()
        auth, cap = self.auth, self.electrum_max_subscriptions
        self._servers = [
            ElectrumServer(self._chain, auth=auth, max_subscriptions=cap).start(),
            ElectrumServer(
                self._chain, ssl_context=cert.server_context(), auth=auth, max_subscriptions=cap
            ).start(),
            EsploraServer(self._chain, auth=auth).start(),
            WaterfallsServer(self._chain, auth=auth).start(),
        ]
        return {
            "network": self._chain.network.value,
            "electrum_url": self._servers[0].url,
            "electrum_ssl_url": self._servers[1].url,
            "esplora_url": self._servers[2].url,
            "waterfalls_url": "waterfalls+" + self._servers[3].url,
            "cert_pem": cert.cert_pem.decode(),
            "cert_fingerprint": cert.fingerprint,
        }

    def _child_args(self) -> list[str]:
        args = [sys.executable, "-m", "lwk_regtest", "--network", self.network.value]
        args += ["--genesis-hash", self.genesis_hash]
        if self._fixture is not None:
            args += ["--fixture", self._fixture[0], "--step", str(self._fixture[1])]
        if self.signers is None:
            args += ["--unsigned"]
        elif self.signers != DEFAULT_SIGNERS:
            args += ["--signers", json.dumps(self.signers.to_json())]
        args += ["--cache-dir", str(self._cache_dir)] if self._cache_dir else ["--no-cache"]
        if self.electrum_max_subscriptions is not None:
            args += ["--electrum-max-subscriptions", str(self.electrum_max_subscriptions)]
        return args

    # ------------------------------------------------------------------ objects
    def federation(self) -> Federation | None:
        """Who signs this chain's blocks, as a client's `block_signers` takes it (None: the
        blocks are unsigned)."""
        return None if self.signers is None else self.signers.federation()

    @property
    def chain(self) -> RegtestChain:
        if self._chain is None:
            raise RuntimeError("the chain lives in the child process (process=True) or not yet")
        return self._chain

    @property
    def electrum_server(self) -> ElectrumServer:
        server = self._local_servers()[0]
        assert isinstance(server, ElectrumServer)
        return server

    @property
    def electrum_ssl_server(self) -> ElectrumServer:
        server = self._local_servers()[1]
        assert isinstance(server, ElectrumServer)
        return server

    @property
    def esplora_server(self) -> EsploraServer:
        server = self._local_servers()[2]
        assert isinstance(server, EsploraServer)
        return server

    @property
    def waterfalls_server(self) -> WaterfallsServer:
        server = self._local_servers()[3]
        assert isinstance(server, WaterfallsServer)
        return server

    @property
    def electrum_faults(self) -> Faults:
        return self._local_servers()[0].faults

    @property
    def electrum_ssl_faults(self) -> Faults:
        return self._local_servers()[1].faults

    @property
    def esplora_faults(self) -> Faults:
        return self._local_servers()[2].faults

    def _local_servers(self) -> list[ElectrumServer | EsploraServer]:
        if not self._servers:
            raise RuntimeError("the servers live in the child process (process=True) or not yet")
        return self._servers

    # ------------------------------------------------------------------ control
    def faucet(self, address: object, sats: int, asset: str | None = None) -> str:
        """Pay `sats` of `asset` (default L-BTC) to `address` with a real blinded tx."""
        return str(self._call("faucet", str(address), sats, asset))

    def issue_asset(
        self, sats: int, address: object | None = None, *, token_sats: int = 0
    ) -> tuple[str, str]:
        """Issue a new asset to `address` (or to the faucet); returns (txid, asset id)."""
        txid, asset = self._call("issue_asset", sats, address and str(address), token_sats)
        return str(txid), str(asset)

    def spend(
        self,
        utxos: Sequence[tuple[OutPoint, TxOutSecrets]],
        address: object,
        sats: int,
        *,
        change_address: object,
        asset: str | None = None,
    ) -> str:
        """Spend wallet outputs given their secrets (see Faucet.spend); returns the txid."""
        return str(self._call("spend", *spend_params(utxos, address, sats, change_address, asset)))

    def build_spend(
        self,
        utxos: Sequence[tuple[OutPoint, TxOutSecrets]],
        address: object,
        sats: int,
        *,
        change_address: object,
        asset: str | None = None,
    ) -> bytes:
        """The transaction `spend` would broadcast, for a client to broadcast."""
        params = spend_params(utxos, address, sats, change_address, asset)
        return bytes.fromhex(self._call("build_spend", *params))

    def build_payment(self, address: object, sats: int, asset: str | None = None) -> bytes:
        """A faucet payment, not broadcast (the faucet may reuse its coin until it is)."""
        return bytes.fromhex(self._call("build_payment", str(address), sats, asset))

    def mine(self, n: int = 1) -> list[str]:
        return list(self._call("mine", n))

    def reorg(self, depth: int, *, keep_txs: bool = True, same_heights: bool = False) -> None:
        """See RegtestChain.reorg."""
        self._call("reorg", depth, keep_txs, same_heights)

    def evict(self, txid: str) -> None:
        self._call("evict", txid)

    def tip_height(self) -> int:
        return int(self._call("tip_height"))

    def example_wallet(self) -> str:
        """A CT descriptor (fixed seed) funded with a few confirmed blinded payments."""
        return str(self._call("example_wallet"))

    def fund_wallet(self, descriptor: str, n_txs: int, **options: int) -> list[str]:
        """Pay `n_txs` blinded payments to a descriptor's addresses (see fund_wallet)."""
        return list(self._call("fund_wallet", descriptor, n_txs, options))

    def extend_fixture(self, step: int) -> None:
        """Add the transactions of a later fixture step (e.g. 1 after starting at 0)."""
        self._call("extend_fixture", step)

    def set_faults(
        self,
        server: str,
        mode: str | None,
        remaining: int | None = None,
        latency: float | None = None,
    ) -> None:
        """Set the faults of "electrum", "electrum_ssl", "esplora" or "waterfalls" (works in
        process mode)."""
        self._call("set_faults", server, mode, remaining, latency)

    def request_counts(self) -> dict[str, Any]:
        """Requests each server received so far (works in process mode): per server a
        "total", for Esplora the count per route ("routes"), for Electrum the count per
        JSON-RPC method, the most script subscriptions one connection held
        ("peak_subscriptions") and the round trips, for Waterfalls the round trips
        (`Faults.round_trips`)."""
        counts: dict[str, Any] = self._call("request_counts")
        return counts

    def _call(self, method: str, *params: Any) -> Any:
        if self._child is not None:
            return self._child.call(method, list(params))
        return self.handle(method, list(params))

    def handle(self, method: str, params: list[Any]) -> Any:
        """Run one control command here (what the child does for `process=True`); one that
        changes the chain returns once the Electrum servers pushed the change."""
        result = self._handle(method, params)
        if method in _CHANGES:
            for server in self._servers:
                if isinstance(server, ElectrumServer):
                    server.settle()
        return result

    def _handle(self, method: str, params: list[Any]) -> Any:
        chain, faucet = self.chain, self._faucet
        assert faucet is not None
        if method == "faucet":
            return faucet.pay(*params)
        if method == "issue_asset":
            sats, address, token_sats = params
            return list(faucet.issue_asset(sats, address, token_sats=token_sats))
        if method in ("spend", "build_spend"):
            plain, address, sats, change, asset = params
            utxos = [(OutPoint(*u[:2]), TxOutSecrets(*u[2:])) for u in plain]
            if method == "spend":
                return faucet.spend(utxos, address, sats, change_address=change, asset=asset)
            raw = faucet.build_spend(utxos, address, sats, change_address=change, asset=asset)
            return raw.hex()
        if method == "build_payment":
            return faucet.build_payment(*params).hex()
        if method == "mine":
            return chain.mine(*params)
        if method == "reorg":
            return chain.reorg(params[0], keep_txs=params[1], same_heights=params[2])
        if method == "evict":
            return chain.evict(params[0])
        if method == "tip_height":
            return chain.tip_height()
        if method == "example_wallet":
            return self._example_wallet()
        if method == "fund_wallet":
            descriptor, n_txs, options = params
            return fund_wallet(faucet, descriptor, n_txs, **options)
        if method == "extend_fixture":
            if self._fixture is None:
                raise ValueError("this chain was not loaded from a fixture")
            return extend_to_step(chain, load_fixture(self._fixture[0]), params[0])
        if method == "set_faults":
            server, mode, remaining, latency = params
            names = ["electrum", "electrum_ssl", "esplora", "waterfalls"]
            faults = self._local_servers()[names.index(server)].faults
            faults.set(mode, remaining)
            if latency is not None:
                faults.latency = latency
            return None
        if method == "request_counts":
            electrum, _, esplora, waterfalls = self._local_servers()
            return {
                "electrum": {
                    "total": electrum.faults.requests,
                    "methods": dict(electrum.requests),
                    "peak_subscriptions": self.electrum_server.peak_subscriptions,
                    "round_trips": electrum.faults.round_trips,
                },
                "esplora": {"total": esplora.faults.requests, "routes": dict(esplora.requests)},
                "waterfalls": {
                    "total": waterfalls.faults.requests,
                    "round_trips": waterfalls.faults.round_trips,
                },
            }
        raise ValueError(f"unknown control method {method!r}")

    def _example_wallet(self) -> str:
        if self._example is None:
            descriptor = example_descriptor(self.chain.network)
            for i, sats in enumerate(_EXAMPLE_PAYMENTS):
                address = WolletDescriptor(descriptor).address(Chain.EXTERNAL, i, self.network)
                assert self._faucet is not None
                self._faucet.pay(address, sats)
            self.chain.mine(1)
            self._example = descriptor
        return self._example
