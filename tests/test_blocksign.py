"""Federation signatures of block headers: real signed headers verify, anything else fails.

Ground truth: real Elements-signed headers (tests/data/elements-vectors.json from
rust-elements, tests/data/signed-headers.json from public Liquid chain data), and headers our
regtest signers make, whose acceptance follows from first principles (m-of-n multisig).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from lwk_regtest import BlockSigners
from shared_data import load_fixture

from lwk_core import (
    BackendProtocolError,
    BadBlockSignature,
    BlockHeader,
    DecodeError,
    Federation,
    Network,
    pinned_federation,
    verify_header,
)
from lwk_core._header import parse_block
from lwk_core.primitives import p2wsh

SIGNED: list[dict[str, Any]] = load_fixture("signed-headers.json")["headers"]


@pytest.fixture(autouse=True)
def real_signers(monkeypatch: pytest.MonkeyPatch) -> None:
    """tox trusts the embedded chain's signers for regtest and testnet: not here."""
    monkeypatch.delenv("LWK_BLOCK_SIGNERS", raising=False)


RUST_ELEMENTS: list[dict[str, Any]] = load_fixture("elements-vectors.json")["vectors"]
LEGACY_2OF3 = next(v for v in RUST_ELEMENTS if "2-of-3" in v["name"])
DYNAFED_FULL = next(v for v in RUST_ELEMENTS if "dynafed" in v["name"])


def _dynafed_full() -> BlockHeader:
    """The fixture's hex runs 2 bytes into the block's transactions (see test_header)."""
    return BlockHeader.parse(bytes.fromhex(DYNAFED_FULL["header_hex"])[:-2])


def _signers_of(vector: dict[str, Any]) -> Federation | Network:
    """The vector's federation, or its network, whose pinned signers tests look up (after
    the real_signers fixture cleared tox's override)."""
    if vector["network"] is not None:
        return Network.from_name(vector["network"])
    return Federation({bytes.fromhex(vector["signblockscript"])})


def _resolved(signers: Federation | Network) -> Federation:
    if isinstance(signers, Federation):
        return signers
    federation = pinned_federation(signers)
    assert federation is not None
    return federation


def _cases() -> Iterator[tuple[str, BlockHeader, Federation | Network]]:
    """Every real signed header with the federation that signed it."""
    legacy = BlockHeader.from_hex(LEGACY_2OF3["header_hex"])
    # Its regtest chain's max_block_signature_size is not published; 144 bytes is its solution.
    yield "rust-elements legacy 2-of-3", legacy, Federation.of(legacy.challenge)
    full = _dynafed_full()
    assert full.current_params is not None
    yield "rust-elements dynafed 3-of-3", full, Federation({full.current_params.signblockscript})
    for v in SIGNED:
        yield v["name"], BlockHeader.from_hex(v["header_hex"]), _signers_of(v)


CASES = list(_cases())
IDS = [name for name, _, _ in CASES]


@pytest.mark.parametrize(("name", "header", "signers"), CASES, ids=IDS)
def test_real_signed_headers_verify(
    name: str, header: BlockHeader, signers: Federation | Network
) -> None:
    verify_header(header, _resolved(signers))


def test_real_headers_are_the_sources_blocks() -> None:
    assert BlockHeader.from_hex(LEGACY_2OF3["header_hex"]).block_hash == LEGACY_2OF3["header_hash"]
    assert _dynafed_full().block_hash == DYNAFED_FULL["header_hash"]
    for v in SIGNED:
        header = BlockHeader.from_hex(v["header_hex"])
        assert (header.block_hash, header.height) == (v["block_hash"], v["height"])


def test_mainnet_signers_sign_both_header_forms_and_testnet_is_another_federation() -> None:
    mainnet = [BlockHeader.from_hex(v["header_hex"]) for v in SIGNED if v["network"] == "liquid"]
    assert {h.is_dynafed for h in mainnet} == {False, True}
    testnet = pinned_federation(Network.LIQUID_TESTNET)
    assert testnet is not None
    for header in mainnet:
        with pytest.raises(BadBlockSignature, match="not the trusted federation"):
            verify_header(header, testnet)
    assert pinned_federation(Network.ELEMENTS_REGTEST) is None


def _flipped(raw: bytes, i: int) -> bytes:
    return raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]


@pytest.mark.parametrize(("name", "header", "signers"), CASES, ids=IDS)
def test_changing_any_byte_of_a_signed_header_fails(
    name: str, header: BlockHeader, signers: Federation | Network
) -> None:
    """Header fields, params, signatures, witness script, lengths: every byte matters."""
    signers = _resolved(signers)
    raw = header.to_bytes()
    for i in range(len(raw)):
        with pytest.raises((BadBlockSignature, DecodeError)):
            verify_header(BlockHeader.parse(_flipped(raw, i)), signers)


def test_a_signature_without_its_sighash_byte_or_with_another_fails() -> None:
    _, header, full_signers = CASES[1]
    signers = _resolved(full_signers)
    witness = header.signblock_witness
    for sig in (witness[1][:-1], witness[1][:-1] + b"\x02", witness[1][:-1] + b"\x81"):
        tampered = attrs.evolve(header, signblock_witness=(witness[0], sig, *witness[2:]))
        with pytest.raises(BadBlockSignature):
            verify_header(tampered, signers)


def test_a_witness_over_the_params_limit_fails() -> None:
    """The limit is part of the signed params, so each limit gets its own header (and
    signatures, whose DER length varies by a byte or two): pass exactly when it fits."""
    signers = BlockSigners.generate(2, 3, dynafed=True)
    unsigned_size = len(signers.unsigned(0x20000000, bytes(32), bytes(32), 9, 9))
    size = len(_regtest_header(signers).to_bytes()) - unsigned_size
    outcomes = set()
    for limit in range(size - 4, size + 5):
        limited = attrs.evolve(signers, witness_limit=limit)
        header = _regtest_header(limited)
        fits = len(header.to_bytes()) - unsigned_size <= limit
        outcomes.add(fits)
        if fits:
            verify_header(header, limited.federation())
        else:
            with pytest.raises(BadBlockSignature, match="over the limit"):
                verify_header(header, limited.federation())
    assert outcomes == {True, False}


def test_a_legacy_solution_over_the_limit_fails() -> None:
    v = next(v for v in SIGNED if v["network"] == "liquid" and "legacy" in v["name"])
    header = BlockHeader.from_hex(v["header_hex"])
    mainnet = pinned_federation(Network.LIQUID)
    assert mainnet is not None
    exact = attrs.evolve(mainnet, max_legacy_solution=len(header.solution))
    verify_header(header, exact)
    with pytest.raises(BadBlockSignature, match="over the limit"):
        verify_header(header, attrs.evolve(exact, max_legacy_solution=len(header.solution) - 1))


def _regtest_header(signers: BlockSigners, time: int = 9, height: int = 9) -> BlockHeader:
    unsigned = signers.unsigned(0x20000000, bytes(32), bytes(32), time, height)
    header = BlockHeader.parse(unsigned + signers.proof(b"\x00" * 32))
    block_hash = bytes.fromhex(header.block_hash)[::-1]
    return BlockHeader.parse(unsigned + signers.proof(block_hash))


@pytest.mark.parametrize("dynafed", [False, True], ids=["legacy", "dynafed"])
def test_regtest_signers_m_of_n(dynafed: bool) -> None:
    """2 of 3 signatures verify; 1 does not; nor 2 from keys outside the federation."""
    signers = BlockSigners.generate(2, 3, dynafed=dynafed)
    verify_header(_regtest_header(signers), signers.federation())
    one = attrs.evolve(signers, signing=1)
    with pytest.raises(BadBlockSignature):
        verify_header(_regtest_header(one), signers.federation())
    strangers = BlockSigners.generate(2, 5, dynafed=dynafed)
    outsiders = attrs.evolve(signers, seeds=strangers.seeds[3:])
    with pytest.raises(BadBlockSignature):
        verify_header(_regtest_header(outsiders), signers.federation())


def test_one_signature_and_an_empty_one_where_two_are_needed_fails() -> None:
    """The same stack shape as a valid 2-of-3 proof, with the second signature empty."""
    signers = BlockSigners.generate(2, 3, dynafed=True)
    header = _regtest_header(signers)
    dummy, first, _second, script = header.signblock_witness
    one = attrs.evolve(header, signblock_witness=(dummy, first, b"", script))
    with pytest.raises(BadBlockSignature, match="exactly one true"):
        verify_header(one, signers.federation())
    twice = attrs.evolve(header, signblock_witness=(dummy, first, first, script))
    with pytest.raises(BadBlockSignature):
        verify_header(twice, signers.federation())


def test_an_unsigned_op_true_header_is_refused_by_a_federation() -> None:
    header, _ = parse_block(bytes.fromhex(RUST_ELEMENTS[0]["block_hex"]))
    assert header.challenge == b"\x51"
    signers = BlockSigners.generate(2, 3)
    with pytest.raises(BadBlockSignature, match="challenge is not the trusted"):
        verify_header(header, signers.federation())
    verify_header(header, Federation({b"\x51"}))  # OP_TRUE trusted: any solution-less header


def test_scripts_outside_the_block_signing_subset_are_refused() -> None:
    op_dup_script = b"\x76\x51"  # OP_DUP OP_TRUE: not an opcode block signing uses
    header = BlockHeader.legacy("00" * 32, "00" * 32, 1, 1, challenge=op_dup_script)
    with pytest.raises(BadBlockSignature, match="outside the block-signing subset"):
        verify_header(header, Federation({op_dup_script}))
    p2wpkh = b"\x00\x14" + bytes(20)
    full = _dynafed_full()
    assert full.current_params is not None
    evolved = attrs.evolve(
        full, current_params=attrs.evolve(full.current_params, signblockscript=p2wpkh)
    )
    with pytest.raises(BadBlockSignature, match="only P2WSH"):
        verify_header(evolved, Federation({p2wpkh}))


def test_follow_trusts_the_parameters_a_verified_header_proposes() -> None:
    header = _dynafed_full()
    assert header.current_params is not None and header.proposed_params is not None
    current = Federation({header.current_params.signblockscript})
    followed = current.follow(header)
    assert followed.trusts(header.proposed_params.signblockscript)
    assert not current.trusts(header.proposed_params.signblockscript)
    stranger = Federation({b"\x00\x20" + bytes(32)})
    with pytest.raises(BadBlockSignature):
        stranger.follow(header)  # an unverified proposal teaches nothing


def test_a_handover_is_followed_only_from_a_proposal_the_old_federation_signed() -> None:
    """Old signers propose the new ones' script as full parameters in a header they sign:
    a verifier trusting the old federation then takes the new one's headers; one that never
    saw the proposal, or saw it signed by too few, refuses them (first principles: the only
    proof of a handover is the trusted signers' own word)."""
    old = BlockSigners.generate(2, 3, dynafed=True)
    new = BlockSigners(BlockSigners.generate(3, 6).seeds[3:], 3, dynafed=True)
    proposal = _regtest_header(attrs.evolve(old, proposes=new.script), height=10)
    assert proposal.proposed_params is not None and proposal.proposed_params.is_full
    assert proposal.proposed_params.signblockscript == p2wsh(new.script)
    handed_over = _regtest_header(new, height=11)
    with pytest.raises(BadBlockSignature, match="not the trusted federation's"):
        old.federation().follow(handed_over)
    followed = old.federation().follow(proposal)
    assert followed.trusts(p2wsh(new.script)) and followed.trusts(p2wsh(old.script))
    assert followed.follow(handed_over) == followed  # nothing new proposed: the same trust
    too_few = attrs.evolve(old, proposes=new.script, signing=1)
    with pytest.raises(BadBlockSignature):
        old.federation().follow(_regtest_header(too_few, height=10))
    forged = attrs.evolve(new, proposes=new.script)  # the new signers vouching for themselves
    with pytest.raises(BadBlockSignature, match="not the trusted federation's"):
        old.federation().follow(_regtest_header(forged, height=10))


def test_signature_failures_are_backend_protocol_errors() -> None:
    assert issubclass(BadBlockSignature, BackendProtocolError)
