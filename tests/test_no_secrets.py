"""Descriptors carry blinding keys, authenticated backends tokens and client secrets: none
may leak into logs, reprs or exception texts; and nothing of a wallet (keys, txids, scripts,
amounts, blinders) is in clear in either store."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from lwk_electrum import ElectrumClient
from lwk_esplora import EsploraClient
from lwk_memory_backend import MemoryChain, MemoryClient, register_chain
from lwk_regtest import Regtest, TokenIssuer
from shared_data import load_fixture, unique_name
from stores import DATABASE, KINDS, Kind, opened, state_files

from lwk_core import (
    AllBackendsFailed,
    AuthenticationFailed,
    BackendChain,
    Chain,
    DescriptorError,
    InsecureTransport,
    InsufficientCredits,
    LwkError,
    Network,
    UpdateError,
    Wollet,
    WolletDescriptor,
    connect,
)
from lwk_core._transaction import Transaction
from lwk_core.auth import ClientCredentials, StaticToken, TokenProvider

FIXTURE = load_fixture("liquid-testnet-wallet.json")
NET = Network.LIQUID_TESTNET
NETWORK_RT = Network.ELEMENTS_REGTEST
SLIP77 = "ac53739ddde9fdf6bba3dbc51e989b09aa8c9cdce7b7d7eddd49cec86ddf71f7"
DESCRIPTOR = FIXTURE["descriptor"]


def _secrets() -> list[str]:
    d = WolletDescriptor(DESCRIPTOR)
    keys = [
        d.blinding_private_key(d.script_pubkey(chain, i)).hex()
        for chain in (Chain.EXTERNAL, Chain.INTERNAL)
        for i in range(3)
    ]
    return [SLIP77, DESCRIPTOR.split("#")[0], str(d), *keys]


def _assert_clean(text: str) -> None:
    for secret in _secrets():
        assert secret not in text


def test_reprs_and_strs_of_wallet_objects(caplog: pytest.LogCaptureFixture) -> None:
    chain = MemoryChain(NET)
    name = unique_name("secrets")
    register_chain(name, chain)
    for txid in FIXTURE["steps"][0]["txids"][:20]:
        entry = FIXTURE["transactions"][txid]
        chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])
    wollet = Wollet(NET, DESCRIPTOR)
    client = MemoryClient(name, NET)
    with caplog.at_level(logging.DEBUG):
        update = client.full_scan(wollet)
        assert update is not None
        wollet.apply_update(update)
    texts = [
        repr(wollet),
        repr(wollet.descriptor),
        repr(update),
        repr(client),
        repr(wollet.state),
        *map(repr, wollet.utxos()),
        *map(repr, wollet.transactions()),
        caplog.text,
    ]
    _assert_clean("\n".join(texts))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.replace("#u0y4axgs", "#aaaaaaaa"),  # bad checksum
        lambda d: d.replace("slip77(", "slip78("),  # unknown key form
        lambda d: d.replace("/<0;1>/*", "/<0;1>/*/*/*"),  # bad path
        lambda d: d[:-30],  # truncated
        lambda d: d.replace("ac53", "zz53"),  # not hex
    ],
)
def test_descriptor_errors_do_not_echo_the_key(mutate: object) -> None:
    with pytest.raises(DescriptorError) as info:
        WolletDescriptor(mutate(DESCRIPTOR))  # type: ignore[operator]
    _assert_clean(f"{info.value}\n{info.value!r}")


def test_failing_runs_log_and_raise_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    chain = MemoryChain(NET)
    name = unique_name("secrets-fail")
    register_chain(name, chain)
    a, b = MemoryClient(name, NET), MemoryClient(name, NET, timeout=0.05)
    a.conn.faults["refuse"] = True
    b.conn.faults["hang"] = True
    wollet = Wollet(NET, DESCRIPTOR)
    texts = []
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(AllBackendsFailed) as failed:
            BackendChain([a, b]).full_scan(wollet)
        texts.append(f"{failed.value}\n{failed.value!r}")
        other = Wollet(NET, FIXTURE["descriptor"].replace(SLIP77, "11" * 32).split("#")[0])
        update = MemoryClient(name, NET).full_scan(other)
        assert update is not None
        with pytest.raises(UpdateError) as refused:
            wollet.apply_update(update)
        texts.append(str(refused.value))
    texts.append(caplog.text)
    _assert_clean("\n".join(texts))
    assert all(isinstance(e, LwkError) for _, e in failed.value.causes)


class _Recording(TokenProvider):
    """A provider that remembers every token it handed out (the secrets to look for)."""

    def __init__(self, inner: TokenProvider) -> None:
        self.inner = inner
        self.seen: list[str] = []

    def token(self) -> str:
        token = self.inner.token()
        self.seen.append(token)
        return token

    def refused(self, token: str) -> bool:
        return self.inner.refused(token)


def test_tokens_and_client_secrets_stay_out_of_logs_reprs_and_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client_secret = "cl13nt-s3cret-do-not-print"
    issuer = TokenIssuer({"app": client_secret})
    texts: list[str] = []
    with Regtest(auth=issuer) as rt, caplog.at_level(logging.DEBUG):
        credentials = ClientCredentials(rt.token_url, "app", client_secret, allow_insecure=True)
        tokens = _Recording(credentials)
        esplora = EsploraClient(rt.esplora_url, NETWORK_RT, token=tokens, allow_insecure_auth=True)
        electrum = ElectrumClient.from_url(
            rt.electrum_ssl_url, cert_fingerprint=rt.cert_fingerprint, token=tokens
        )
        clients = [esplora, electrum]
        for client in clients:
            client.tip()
            texts += [repr(client), repr(client.connection), client.name]
        issuer.expire_all()  # refused, renewed: every path logs something
        rt.electrum_ssl_server.disconnect_all()
        for client in clients:
            client.tip()
        issuer.credits = 0
        issuer.expire_all()
        rt.electrum_ssl_server.disconnect_all()
        failures: list[Exception] = []
        for client in clients:
            with pytest.raises(InsufficientCredits) as spent:
                client.tip()
            failures.append(spent.value)
        issuer.revoke("app")
        rt.electrum_ssl_server.disconnect_all()
        for client in clients:
            with pytest.raises(AuthenticationFailed) as revoked:
                client.tip()
            failures.append(revoked.value)
        with pytest.raises(AuthenticationFailed) as static:
            EsploraClient(
                rt.esplora_url, NETWORK_RT, token="st4tic-t0ken", allow_insecure_auth=True
            ).tip()
        failures.append(static.value)
        with pytest.raises(InsecureTransport) as insecure:
            EsploraClient(rt.esplora_url, NETWORK_RT, token="st4tic-t0ken")
        failures.append(insecure.value)
        texts += [repr(credentials), repr(tokens.inner), repr(StaticToken("st4tic-t0ken"))]
        for client in clients:
            client.close()
    texts += [f"{e}\n{e!r}\n{e.__cause__!r}" for e in failures]
    texts.append(caplog.text)
    assert len(set(tokens.seen)) >= 2  # the secrets looked for were really in use
    text = "\n".join(texts)
    for secret in [client_secret, "st4tic-t0ken", *tokens.seen]:
        assert secret not in text


def _wallet_data(wollet: Wollet) -> list[bytes]:
    """What a wallet's state knows, as it could appear on disk: txids (hex, bytes, either
    order), scripts, raw transactions, amounts and blinders of its outputs."""
    state = wollet.state
    needles = [tx.to_bytes()[:64] for tx in state.txs.values()]
    for txid in state.txs:
        needles += [txid.encode(), bytes.fromhex(txid), bytes.fromhex(txid)[::-1]]
    needles += list(state.scripts)
    for secrets in state.unblinded.values():
        needles += [bytes.fromhex(secrets.asset_bf), bytes.fromhex(secrets.value_bf)]
        if secrets.value > 1 << 16:
            needles += [secrets.value.to_bytes(8, "little"), secrets.value.to_bytes(8, "big")]
    return needles


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_of_the_wallet_is_in_clear_in_its_store(tmp_path: Path, kind: Kind) -> None:
    chain = MemoryChain(NET)
    name = unique_name("secrets-disk")
    register_chain(name, chain)
    for txid in FIXTURE["steps"][1]["txids"]:
        entry = FIXTURE["transactions"][txid]
        chain.add(Transaction.from_hex(entry["hex"]), entry["height"], entry["timestamp"])
    d = WolletDescriptor(DESCRIPTOR)
    xpub = re.search("tpub[1-9A-HJ-NP-Za-km-z]+", DESCRIPTOR)
    assert xpub is not None
    texts = [*_secrets(), xpub.group(), d.wallet_id, d.dwid(NET)]
    snapshots = []
    with opened(kind, tmp_path) as store, Wollet(NET, d, store=store) as wollet:
        update = connect(f"memory://{name}", NET).full_scan(wollet)
        assert update is not None
        wollet.apply_update(update)
        assert len(wollet.transactions()) == FIXTURE["steps"][1]["expected"]["tx_count"]
        needles = [t.encode() for t in texts] + [bytes.fromhex(_secrets()[0])]
        needles += _wallet_data(wollet)
        snapshots.append({p.name: p.read_bytes() for p in state_files(tmp_path)})
    snapshots.append({p.name: p.read_bytes() for p in state_files(tmp_path)})  # closed
    if kind == "sqlite":  # the write-ahead log while open, the database file after
        assert set(snapshots[0]) == {DATABASE, DATABASE + "-wal"}
        assert set(snapshots[1]) == {DATABASE}
    blobs = [blob for snapshot in snapshots for blob in snapshot.values()]
    assert sum(map(len, blobs)) > sum(tx.size() for tx in wollet.state.txs.values())
    for needle in needles:
        assert all(needle not in blob for blob in blobs), needle[:8].hex()
