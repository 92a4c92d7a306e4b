"""The embedded chain signs its blocks by default, here and in a child process, with the
federation the test environment trusts; `signers=None` gives OP_TRUE blocks as a default
elementsd regtest chain's.

Ground truth: the signers' multisig script (first principles: who holds the keys) and the
header forms Elements defines (dynafed: P2WSH params and a witness; legacy: challenge
OP_TRUE and an empty solution).
"""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
from lwk_electrum import ElectrumClient
from lwk_regtest import DEFAULT_SIGNERS, BlockSigners, Regtest

from lwk_core import BadBlockSignature, BlockHeader, Federation, verify_header
from lwk_core.primitives import p2wsh

TOX_INI = Path(__file__).resolve().parents[2] / "tox.ini"


def test_the_test_environment_trusts_the_default_signers() -> None:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(TOX_INI)
    assert tox["signers"]["script"] == DEFAULT_SIGNERS.script.hex()
    assert (DEFAULT_SIGNERS.threshold, len(DEFAULT_SIGNERS.seeds)) == (2, 3)
    assert DEFAULT_SIGNERS.dynafed


def _tip_header(rt: Regtest, signers: Federation | None) -> BlockHeader:
    client = ElectrumClient.from_url(rt.electrum_url)
    client.block_signers = signers
    try:
        return BlockHeader.parse(client.tip().header)
    finally:
        client.close()


@pytest.mark.parametrize("process", [False, True], ids=["here", "child"])
def test_blocks_are_signed_by_default(process: bool) -> None:
    with Regtest(process=process, cache=False) as rt:
        rt.mine(1)
        assert rt.federation() == DEFAULT_SIGNERS.federation()
        header = _tip_header(rt, rt.federation())
        assert header.is_dynafed and header.current_params is not None
        assert header.current_params.signblockscript == p2wsh(DEFAULT_SIGNERS.script)
        verify_header(header, DEFAULT_SIGNERS.federation())


@pytest.mark.parametrize("process", [False, True], ids=["here", "child"])
def test_other_signers_and_legacy_headers_reach_a_child_too(process: bool) -> None:
    signers = BlockSigners(BlockSigners.generate(3, 5).seeds[2:], 3)  # legacy headers
    assert BlockSigners.from_json(signers.to_json()) == signers
    with Regtest(signers=signers, process=process, cache=False) as rt:
        rt.mine(1)
        header = _tip_header(rt, signers.federation())
        assert not header.is_dynafed and header.challenge == signers.script
        with pytest.raises(BadBlockSignature):
            _tip_header(rt, DEFAULT_SIGNERS.federation())


@pytest.mark.parametrize("process", [False, True], ids=["here", "child"])
def test_unsigned_blocks_as_elementsd_regtest_makes_them(process: bool) -> None:
    with Regtest(signers=None, process=process, cache=False) as rt:
        rt.mine(1)
        assert rt.federation() is None
        header = _tip_header(rt, None)
        assert (header.challenge, header.solution, header.is_dynafed) == (b"\x51", b"", False)
        with pytest.raises(BadBlockSignature):
            _tip_header(rt, DEFAULT_SIGNERS.federation())
