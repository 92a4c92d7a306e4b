"""The conformance kit can fail: a deliberately broken backend does not pass it."""

from __future__ import annotations

import pytest

BROKEN_BACKEND = """
from lwk_electrum import ElectrumClient
from lwk_regtest.testing import BackendConformance


class LossyClient(ElectrumClient):
    '''Forgets unconfirmed transactions: a plausible bug in a hand-written backend.'''

    def scan_scripts(self, scripts):
        return [[e for e in h if e.height is not None] for h in super().scan_scripts(scripts)]


class TestLossy(BackendConformance):
    def make_backend(self, rt, *, timeout):
        return LossyClient(rt.electrum_url.removeprefix("tcp://"), False, False, timeout=timeout)
"""


def test_the_kit_fails_a_backend_that_drops_mempool_entries(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_lossy=BROKEN_BACKEND)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 4, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "FAILED*TestLossy::test_mempool_then_confirmation*",
            "FAILED*TestLossy::test_large_history_of_one_script*",
            "FAILED*TestLossy::test_broadcast_reaches_the_chain*",  # its payment is unconfirmed
            "FAILED*TestLossy::test_a_chain_fails_over_to_this_backend*",
        ],
        consecutive=False,
    )
    assert outcomes.get("passed", 0) == 10  # everything the bug does not touch still passes
