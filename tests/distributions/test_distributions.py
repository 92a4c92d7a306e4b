"""The five distributions as users get them: built by `python -m build`, accepted by `twine
check`, licensed, and, installed from their wheels into a fresh venv (dependencies from the
package index), able to run the demo.

Run by `tox -e build` (marker `dist`: not part of the default suite, which needs no
builds and no index).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

import lwk_core

pytestmark = [pytest.mark.dist, pytest.mark.timeout(900)]  # builds: minutes under load

REPO = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = {
    "lwk_core": REPO,
    "lwk_electrum": REPO / "plugins" / "lwk_electrum",
    "lwk_esplora": REPO / "plugins" / "lwk_esplora",
    "lwk_regtest": REPO / "plugins" / "lwk_regtest",
    "lwk_waterfalls": REPO / "plugins" / "lwk_waterfalls",
}
VERSION = lwk_core.__version__  # every distribution is at the core's version today


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    for project in DISTRIBUTIONS.values():
        _run(sys.executable, "-m", "build", "--outdir", out, project)
    return out


def _wheel(dist: Path, name: str) -> Path:
    (found,) = dist.glob(f"{name}-{VERSION}-*.whl")
    return found


def test_each_distribution_builds_an_sdist_and_a_wheel(dist: Path) -> None:
    """Pure-Python wheels but lwk_core's, which carries its C extension (this interpreter's
    and platform's tags)."""
    pure = {f"{name}-{VERSION}-py3-none-any.whl" for name in DISTRIBUTIONS if name != "lwk_core"}
    native = f"lwk_core-{VERSION}-cp{sys.version_info[0]}{sys.version_info[1]}-"
    files = {p.name for p in dist.iterdir()}
    assert {f for f in files if f.endswith(".tar.gz")} == {
        f"{name}-{VERSION}.tar.gz" for name in DISTRIBUTIONS
    }
    assert {f for f in files if f.endswith(".whl") and not f.startswith(native)} == pure
    assert len(files) == 2 * len(DISTRIBUTIONS)


def test_the_core_wheel_carries_the_extension_and_the_sdist_its_source(dist: Path) -> None:
    with zipfile.ZipFile(_wheel(dist, "lwk_core")) as wheel:
        names = wheel.namelist()
    assert any(n.startswith("lwk_core/_native.") and n.endswith(".so") for n in names)
    assert "lwk_core/_native.pyi" in names
    with tarfile.open(dist / f"lwk_core-{VERSION}.tar.gz") as sdist:
        members = sdist.getnames()
    assert f"lwk_core-{VERSION}/lwk_core/_native.c" in members
    assert f"lwk_core-{VERSION}/setup.py" in members


def test_twine_check_accepts_every_file(dist: Path) -> None:
    files = sorted(dist.iterdir())
    output = _run(sys.executable, "-m", "twine", "check", "--strict", *files)
    assert output.count("PASSED") == len(files) == 2 * len(DISTRIBUTIONS)


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_each_wheel_and_sdist_carries_the_mit_license(dist: Path, name: str) -> None:
    license_text = (REPO / "LICENSE").read_text()
    assert license_text.startswith("MIT License")
    with zipfile.ZipFile(_wheel(dist, name)) as wheel:
        info = f"{name}-{VERSION}.dist-info"
        assert wheel.read(f"{info}/licenses/LICENSE").decode() == license_text
        metadata = wheel.read(f"{info}/METADATA").decode()
        assert wheel.read(f"{name}/py.typed") == b""
    assert "License-Expression: MIT\n" in metadata
    assert "License-File: LICENSE\n" in metadata
    assert "Classifier: Typing :: Typed\n" in metadata
    assert "Classifier: Programming Language :: Python :: 3.13\n" in metadata
    with tarfile.open(dist / f"{name}-{VERSION}.tar.gz") as sdist:
        member = sdist.extractfile(f"{name}-{VERSION}/LICENSE")
        assert member is not None and member.read().decode() == license_text


def test_the_wheels_install_into_a_fresh_venv_and_run_the_demo(dist: Path, tmp_path: Path) -> None:
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    wheels = sorted(dist.glob("*.whl"))
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wheels)
    # from an empty directory: nothing of this checkout is importable there
    assert _run(python, "-m", "lwk_core", "--version", cwd=tmp_path) == f"lwk-core {VERSION}\n"
    where = _run(python, "-c", "import lwk_core; print(lwk_core.__file__)", cwd=tmp_path)
    assert where.startswith(str(tmp_path / "venv"))
    native = (
        "from lwk_core._rangeproof import native_stream; from lwk_core._secp import get_secp; "
        "print(native_stream(), get_secp().native_unblind is not None)"
    )
    assert _run(python, "-c", native, cwd=tmp_path) == "True True\n"
    demo = _run(python, "-m", "lwk_core", "demo", cwd=tmp_path)
    # the faucet's payments of 100 000, 50 000 and 25 000 sats, then 50 000 while watching
    assert "0.00175000" in demo and "0.00225000 L-BTC" in demo, demo
