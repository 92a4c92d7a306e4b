"""The soak: `ElectrumClient.watch()` on a flapping chain for 10 minutes (opt-in: -m slow).

The servers run in a child process (`Regtest(process=True)`), so this process's memory,
threads and file descriptors are the client's and the wallet's alone. Every couple of
seconds a block is mined; every few cycles the wallet is paid; every third cycle the
Electrum server dies for a few seconds (refusing or resetting every request) and comes
back. The watch must follow all of it (every payment in the wallet, the tip the chain's)
with flat memory (VmRSS), threads and open file descriptors, sampled through the run.
`LWK_SOAK_SECONDS` shortens or lengthens it (default 600).
"""

from __future__ import annotations

import os
import threading
import time

import attrs
import pytest
from lwk_electrum import ElectrumClient
from lwk_regtest import Regtest
from lwk_regtest.testing import new_wallet_descriptor

from lwk_core import NewTip, Tip, Wollet

SOAK_SECONDS = float(os.environ.get("LWK_SOAK_SECONDS", "600"))
CYCLE = 2.0  # seconds between two blocks
OUTAGE = 3.0  # seconds the server stays down
WARMUP = min(60.0, SOAK_SECONDS / 5)  # imports, caches and allocator arenas settle first
# Bounds after the warm-up: VmRSS may grow this much (the wallet itself grows by the
# payments, a few kB each), threads not at all, descriptors by a reconnecting socket or two.
RSS_GROWTH_KB = 16 * 1024
FD_SLACK = 2


@attrs.frozen
class Sample:
    at: float
    rss_kb: int
    threads: int
    fds: int


def sample(started: float) -> Sample:
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return Sample(
        round(time.monotonic() - started, 1),
        rss,
        threading.active_count(),
        len(os.listdir("/proc/self/fd")),
    )


@pytest.mark.slow
@pytest.mark.timeout(SOAK_SECONDS + 300)
def test_watch_on_a_flapping_server_keeps_memory_threads_and_fds_flat() -> None:
    with Regtest(process=True) as rt:
        wollet = Wollet(rt.network, new_wallet_descriptor())
        client = ElectrumClient.from_url(rt.electrum_url, timeout=5)
        stop = threading.Event()
        applied: list[int] = []
        failures: list[BaseException] = []

        def follow() -> None:
            try:
                for event in client.watch(wollet, timeout=120):
                    if isinstance(event, NewTip):
                        applied.append(event.height)
                    if stop.is_set():
                        return
            except BaseException as exc:  # reported by the test thread
                failures.append(exc)

        watcher = threading.Thread(target=follow, name="soak-watch")
        watcher.start()
        started = time.monotonic()
        paid: set[str] = set()
        samples: list[Sample] = []
        outages = 0
        cycle = 0
        while time.monotonic() - started < SOAK_SECONDS and not failures:
            cycle += 1
            if cycle % 5 == 0:
                paid.add(rt.faucet(wollet.address(cycle % 7).address(), 1_000 + cycle))
            rt.mine(1)
            if cycle % 3 == 0:
                rt.set_faults("electrum", "refuse" if cycle % 2 else "reset")
                time.sleep(OUTAGE)
                rt.set_faults("electrum", None)
                outages += 1
            time.sleep(CYCLE)
            samples.append(sample(started))
        stop.set()
        rt.mine(1)  # wakes the watch so that it sees `stop`
        watcher.join(60)
        assert not watcher.is_alive() and not failures, failures
        tip = rt.tip_height()
        deadline = time.monotonic() + 30
        while (wollet.tip() or Tip(-1, "", 0)).height < tip:
            assert time.monotonic() < deadline, "the last blocks never reached the wallet"
            update = client.full_scan(wollet)
            if update is not None:
                wollet.apply_update(update)
        client.close()

    assert paid <= {tx.txid for tx in wollet.transactions()}
    settled = [s for s in samples if s.at >= WARMUP]
    assert settled, "the soak was shorter than its warm-up"
    base = settled[0]
    print(
        f"\nsoak {SOAK_SECONDS:.0f} s: {cycle} blocks, {len(paid)} payments, {outages} outages, "
        f"{len(applied)} new tips; after the warm-up (t={base.at} s): VmRSS "
        f"{base.rss_kb}..{max(s.rss_kb for s in settled)} kB (first {samples[0].rss_kb}), "
        f"threads {min(s.threads for s in settled)}..{max(s.threads for s in settled)}, "
        f"fds {min(s.fds for s in settled)}..{max(s.fds for s in settled)}"
    )
    assert max(s.rss_kb for s in settled) - base.rss_kb <= RSS_GROWTH_KB
    assert {s.threads for s in settled} == {base.threads}
    assert max(s.fds for s in settled) <= base.fds + FD_SLACK
