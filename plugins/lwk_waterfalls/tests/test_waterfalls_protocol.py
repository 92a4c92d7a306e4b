"""What the client sends: the descriptor as LWK sends it, encrypted to the server's key."""

from __future__ import annotations

import base64
import os

import lwk
import pyrage
from lwk_regtest import Regtest
from lwk_waterfalls import WaterfallsClient
from lwk_waterfalls._protocol import bitcoin_descriptor, encrypt, is_elip151, parse_page
from shared_data import load_fixture
from waterfalls_views import lwk_waterfalls_view, scanned

from lwk_core import Chain, Wollet, WolletDescriptor

FIXTURE = load_fixture("liquid-testnet-wallet.json")
TPUB = (
    "tpubDC3BrFCCjXq4jAceV8k6UACxDDJCFb1eb7R7BiKYUGZdNagEhNfJoYtUrRdci9JFs1meiGGModvmNm8Pr"
    "qkrEjJ6mpt6gA1DRNU8vu7GqXH"
)


def test_the_descriptor_sent_has_no_blinding_key_and_no_origins() -> None:
    descriptor = WolletDescriptor(FIXTURE["descriptor"])
    assert bitcoin_descriptor(descriptor) == f"elwpkh({TPUB}/<0;1>/*)"


def test_elip151_is_recognised() -> None:
    inner = f"elwpkh([93970d14/84'/1'/0']{TPUB}/<0;1>/*)"
    assert is_elip151(WolletDescriptor(f"ct(elip151,{inner})"))
    assert not is_elip151(WolletDescriptor(FIXTURE["descriptor"]))


def test_the_ciphertext_is_age_for_the_recipient_in_unpadded_base64() -> None:
    identity = pyrage.x25519.Identity.generate()
    sealed = encrypt("elwpkh(x/<0;1>/*)", identity.to_public())
    assert "=" not in sealed
    raw = base64.b64decode(sealed + "=" * (-len(sealed) % 4))
    assert raw.startswith(b"age-encryption.org/v1")
    assert pyrage.decrypt(raw, [identity]) == b"elwpkh(x/<0;1>/*)"


def test_the_server_learns_what_lwk_would_tell_it(lwk_regtest: Regtest) -> None:
    """LWK 0.19's WaterfallsClient and ours reveal the same descriptor text; ours reveals
    nothing unless allowed."""
    rt = lwk_regtest
    network = lwk.Network.regtest_default()
    signer = lwk.Signer(lwk.Mnemonic.from_entropy(os.urandom(16)), network)
    descriptor = str(signer.wpkh_slip77_descriptor())
    rt.faucet(WolletDescriptor(descriptor).address(Chain.EXTERNAL, 0, rt.network), 1_000)
    learned = rt.waterfalls_server.learned
    before = set(learned)
    scanned(WaterfallsClient(rt.waterfalls_url, rt.network), Wollet(rt.network, descriptor))
    assert set(learned) == before  # not allowed: nothing revealed
    lwk_waterfalls_view(rt.waterfalls_url, network, descriptor)
    by_lwk = set(learned) - before
    client = WaterfallsClient(rt.waterfalls_url, rt.network, send_descriptor=True)
    scanned(client, Wollet(rt.network, descriptor))
    assert len(by_lwk) == 1
    (text,) = by_lwk
    assert learned[text] == 2  # once by LWK, once by us
    assert "slip77" not in text and "[" not in text


# RCasatta/waterfalls test vectors: `src/lib.rs` test_cbor_txseen (a TxSeen of txid 11..11 at
# height 3,000,001 without block hash or time) and `src/cbor.rs` test_encode_cbor (a
# BlockMeta); here inside a WaterfallResponse [txs_seen, page, tip, tip_meta].
TXSEEN_CBOR = "855820" + "11" * 32 + "1a002dc6c15820" + "00" * 32 + "f600"
BLOCKMETA_CBOR = (
    "8358200bd333e762b714f0fa8efd9fbc4cbf73586372d5f6c440abbf1f910d443393751a499602d21a0009fbf1"
)


def test_cbor_answers_read_as_upstream_writes_them() -> None:
    body = bytes.fromhex(
        "84" + "a1" + "616b" + "8181" + TXSEEN_CBOR + "01" + "5820" + "00" * 32 + BLOCKMETA_CBOR
    )
    page = parse_page(body, page=1, cbor=True)
    ((entry,),) = page.txs_seen["k"]
    assert (entry.txid, entry.height) == ("11" * 32, 3_000_001)
    assert page.tip_hash == "759333440d911fbfab40c4f6d572635873bf4cbc9ffd8efaf014b762e733d30b"
    assert page.tip_height == 654_321
    assert page.has_more == ()
