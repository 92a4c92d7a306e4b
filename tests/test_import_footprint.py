"""What a process holds by importing lwk-core and using a wallet without a store: heavy
libraries it does not need stay unloaded (issue 20's peak-memory target)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from shared_data import load_fixture

ROOT = Path(__file__).resolve().parents[1]


def held_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_a_wallet_without_a_store_never_loads_cryptography() -> None:
    """cryptography (its Rust and OpenSSL bindings, ~8 MB resident) only seals stored data."""
    descriptor = load_fixture("liquid-testnet-wallet.json")["descriptor"]
    use = (
        "import lwk_core, lwk_electrum, lwk_esplora\n"
        f"w = lwk_core.Wollet(lwk_core.Network.LIQUID_TESTNET, {descriptor!r})\n"
        "print(w.balance(), w.transactions(), w.address(0).address())"
    )
    assert "cryptography" not in held_after(use)
    # the check sees it once something is sealed or opened
    opening = "\ntry: lwk_core.Update.deserialize_decrypted(bytes(64), w.descriptor)"
    assert "cryptography" in held_after(f"{use}{opening}\nexcept lwk_core.DecodeError: pass")


def test_importing_lwk_core_holds_no_asyncio_ssl_database_or_lock_library() -> None:
    """The asyncio API and the SQLite store load when first named; portalocker when a
    datadir is locked; ssl when a CA bundle is read; urllib's HTTP client when a token is
    fetched."""
    unneeded = {"asyncio", "ssl", "sqlite3", "portalocker", "cryptography", "urllib.request"}
    assert not unneeded & held_after("import lwk_core, lwk_core.auth")
    assert {"asyncio", "sqlite3"} <= held_after("from lwk_core import AsyncClient, SqliteStore")


def test_lazy_names_are_the_modules_own_and_listed() -> None:
    import lwk_core
    from lwk_core._async_chain import AsyncBackendChain
    from lwk_core._async_client import AsyncClient, connect_async
    from lwk_core._async_monitor import AsyncMonitor
    from lwk_core._sqlite_store import SqliteStore

    lazy = {
        "AsyncBackendChain": AsyncBackendChain,
        "AsyncClient": AsyncClient,
        "connect_async": connect_async,
        "AsyncMonitor": AsyncMonitor,
        "SqliteStore": SqliteStore,
    }
    for name, value in lazy.items():
        assert getattr(lwk_core, name) is value
        assert name in lwk_core.__all__ and name in dir(lwk_core)
    assert set(lwk_core.__all__) <= set(dir(lwk_core))
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = lwk_core.no_such_name  # type: ignore[attr-defined]
