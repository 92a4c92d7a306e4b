"""`--datadir` alone keeps the wallet where the platform keeps user data (XDG on Linux)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from shared_data import load_fixture

DESCRIPTOR = load_fixture("liquid-testnet-wallet.json")["descriptor"]


@pytest.mark.skipif(sys.platform != "linux", reason="the XDG base directory convention")
def test_datadir_alone_is_the_xdg_data_home(tmp_path: Path) -> None:
    (tmp_path / "wallet.desc").write_text(DESCRIPTOR)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    args = ["address", "--network", "liquidtestnet", "--descriptor-file", "wallet.desc"]
    args += ["--index", "0", "--datadir"]
    done = subprocess.run(
        [sys.executable, "-m", "lwk_core", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wallet_dir,) = (tmp_path / "xdg" / "lwk" / "liquidtestnet").iterdir()
    assert sorted(p.name for p in wallet_dir.iterdir()) == ["lock"]
    assert not (tmp_path / "--datadir").exists()
