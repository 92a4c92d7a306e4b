"""Every code block of README.md and docs/*.md runs, so the documentation stays true.

Conventions (what a documentation writer needs to know):

- Fences are `python`, `sh`, `toml` or `text`; anything else fails. `text` shows output and
  is not run. A `python file=NAME` or `toml file=NAME` block is written to NAME in the
  working directory instead of being run (later blocks can import it); toml is also parsed.
- Every page has at least one block that runs (a `python` block that is not `file=`, or an
  `sh` block with a command beyond installing): an example against the embedded chain.
- The blocks of one document run in order, python blocks in one namespace (a tutorial's
  later blocks use the names of earlier ones), in a fresh temporary working directory that
  is also $HOME and holds `wallet.desc` (the example descriptor).
- Public Liquid testnet endpoints are replaced, in the text of every block, by the servers
  of an embedded chain serving the real testnet wallet of the shared fixture (LWK's public
  test wallet): `ssl://elements-testnet.blockstream.info:50002` (and the host:port form)
  by the local TLS Electrum server, whose self-signed certificate the blocks trust through
  SSL_CERT_FILE, so domain validation really happens; the Esplora URL
  `https://blockstream.info/liquidtestnet/api` by the local Esplora server; the
  placeholder descriptor `ct(slip77(...),elwpkh(tpub.../<0;1>/*))` by the wallet's.
  Anything else (mainnet URLs) must not be contacted: there is no network.
- `sh` blocks run in bash with `set -euo pipefail`; `lwk` is the installed console script.
  Install commands are checked, not run (`pip install` / `python3 -m pip install`: each
  local path is a directory of this repository with a pyproject.toml, each name an
  installed distribution; `python3 -m tox`: tox.ini exists). `lwk regtest serve` is not
  started (this file already serves a chain; tests/cli runs it). When a command prints a
  line starting with "watching " (`lwk watch`), the next fixture step's transaction is
  added to the chain, so the watch has a payment to report.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from lwk_regtest import Regtest
from shared_data import DATA, load_fixture

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PLACEHOLDER_DESCRIPTOR = "ct(slip77(...),elwpkh(tpub.../<0;1>/*))"
TESTNET_ELECTRUM = "elements-testnet.blockstream.info:50002"
TESTNET_ESPLORA = "https://blockstream.info/liquidtestnet/api"

_FENCE = re.compile(r"^```(\S*)(.*)$")
# A shell line that only installs (checked, not run): it does not make a block an example.
_INSTALL_ONLY = re.compile(r"^\s*(?:(?:python3 -m )?pip install [^&|;]*|python3 -m tox[^&|;]*)$")

_SHIMS = r"""
_lwk_docs_installed() {  # a requirement names an installed distribution
    python3 -c 'import importlib.metadata as m, re, sys
m.version(re.split(r"[<>=!~ ]", sys.argv[1])[0])' "$1"
}
_lwk_docs_check_install() {
    for arg in "$@"; do
        base="${arg%%\[*}"
        case "$arg" in
            install|-e|--editable|-U|--upgrade|-q|--quiet) ;;
            *) if [ -e "$REPO/$base" ]; then
                   [ -f "$REPO/$base/pyproject.toml" ] || { echo "no project: $arg" >&2; return 1; }
               else
                   _lwk_docs_installed "$base" || { echo "not installed: $arg" >&2; return 1; }
               fi ;;
        esac
    done
}
pip() { _lwk_docs_check_install "$@"; }
python3() {
    if [ "${1-}" = "-m" ] && [ "${2-}" = "pip" ]; then shift 2; _lwk_docs_check_install "$@"
    elif [ "${1-}" = "-m" ] && [ "${2-}" = "tox" ]; then [ -f "$REPO/tox.ini" ]
    else command python3 "$@"; fi
}
lwk() {
    if [ "${1-}" = "regtest" ] && [ "${2-}" = "serve" ]; then echo "(served by test_docs)"
    else command lwk "$@"; fi
}
set -euo pipefail
"""


@attrs.frozen
class Block:
    lang: str
    info: str
    code: str
    line: int


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text().split("\n")
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        start = i + 1
        end = start
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        assert end < len(lines), f"{path.name}:{i + 1}: unclosed code block"
        code = "\n".join(lines[start:end]) + "\n"
        found.append(Block(match.group(1), match.group(2).strip(), code, i + 1))
        i = end + 1
    return found


def runs(block: Block) -> bool:
    """Whether the block is an example that runs (see the conventions above)."""
    if block.lang == "python":
        return not block.info.startswith("file=")
    if block.lang == "sh":
        lines = [line for line in block.code.split("\n") if line.strip()]
        return any(not _INSTALL_ONLY.match(line) for line in lines)
    return False


class DocsChain:
    """The embedded chain serving the fixture wallet, and what the blocks are rewritten to."""

    def __init__(self, rt: Regtest, cert_file: Path, descriptor: str) -> None:
        self.rt = rt
        self.cert_file = cert_file
        self.descriptor = descriptor
        host_port = rt.electrum_ssl_url.removeprefix("ssl://")
        self.substitutions = [
            (PLACEHOLDER_DESCRIPTOR, descriptor),
            (f"ssl://{TESTNET_ELECTRUM}", rt.electrum_ssl_url),
            (TESTNET_ELECTRUM, host_port),
            (TESTNET_ESPLORA, rt.esplora_url),
        ]
        self._step = 0
        self._lock = threading.Lock()

    def rewrite(self, code: str) -> str:
        for public, local in self.substitutions:
            code = code.replace(public, local)
        return code

    def new_payment(self) -> None:
        """The fixture's next transaction arrives (or, once all are in, a block)."""
        with self._lock:
            if self._step == 0:
                self.rt.extend_fixture(1)
                self._step = 1
            else:
                self.rt.mine(1)


@pytest.fixture(scope="module")
def docs_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocsChain]:
    fixture = DATA / "liquid-testnet-wallet.json"
    with Regtest.from_fixture(fixture, step=0) as rt:
        cert_file = tmp_path_factory.mktemp("tls") / "regtest.pem"
        cert_file.write_bytes(rt.cert_pem)
        yield DocsChain(rt, cert_file, load_fixture(fixture.name)["descriptor"])


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_code_blocks_run(
    path: Path,
    docs_chain: DocsChain,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_plugins: None,
) -> None:
    found = blocks(path)
    assert found, f"{path.name} has no code block"
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SSL_CERT_FILE", str(docs_chain.cert_file))
    monkeypatch.delenv("LWK_DESCRIPTOR", raising=False)
    (tmp_path / "wallet.desc").write_text(docs_chain.descriptor + "\n")
    namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
    written: list[str] = []
    root = logging.getLogger()
    saved_logging = (root.level, list(root.handlers))  # blocks may call basicConfig
    try:
        for block in found:
            where = f"{path.relative_to(REPO)}:{block.line}"
            code = docs_chain.rewrite(block.code)
            if block.lang == "text":
                continue
            if block.info.startswith("file="):
                assert block.lang in {"python", "toml"}, f"{where}: file= needs python or toml"
                name = block.info.removeprefix("file=")
                (tmp_path / name).write_text(code)
                written.append(Path(name).stem)
                if block.lang == "toml":
                    tomllib.loads(code)
            elif block.lang == "python":
                exec(compile(code, where, "exec"), namespace)
            elif block.lang == "toml":
                tomllib.loads(code)
            elif block.lang == "sh":
                _run_sh(code, where, docs_chain, tmp_path)
            else:
                pytest.fail(f"{where}: unknown code block language {block.lang!r}")
    finally:
        for module in written:
            sys.modules.pop(module, None)
        root.setLevel(saved_logging[0])
        root.handlers[:] = saved_logging[1]


def _run_sh(code: str, where: str, docs_chain: DocsChain, cwd: Path) -> None:
    env = {
        **os.environ,
        "REPO": str(REPO),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        ["bash", "-c", _SHIMS + code],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    timer = threading.Timer(120, proc.kill)
    timer.start()
    output: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if line.startswith("watching "):
                docs_chain.new_payment()
        code_ = proc.wait()
    finally:
        timer.cancel()
    assert code_ == 0, f"{where}: exit {code_}\n{''.join(output)}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_page_has_an_example_that_runs(path: Path) -> None:
    assert any(map(runs, blocks(path))), f"{path.name}: no python or sh block that runs"


@pytest.mark.parametrize(
    ("lang", "info", "code", "expected"),
    [
        ("python", "", "print(1)\n", True),
        ("python", "file=x.py", "X = 1\n", False),
        ("text", "", "output\n", False),
        ("toml", "", "a = 1\n", False),
        ("sh", "", "pip install ./plugins/lwk_electrum\n", False),
        ("sh", "", "python3 -m pip install ./ ./plugins/lwk_regtest\npython3 -m tox\n", False),
        ("sh", "", "python3 -m pip install ./ && python3 -m lwk_core demo\n", True),
        ("sh", "", "lwk plugins\n", True),
    ],
)
def test_what_counts_as_an_example_that_runs(
    lang: str, info: str, code: str, expected: bool
) -> None:
    assert runs(Block(lang, info, code, 1)) is expected


def test_the_convention_finds_blocks(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text("a\n```python\nx = 1\n```\n\n```text file=y\nout\n```\n")
    assert blocks(doc) == [Block("python", "", "x = 1\n", 2), Block("text", "file=y", "out\n", 6)]


@pytest.mark.parametrize(
    ("script", "ok"),
    [
        ("lwk plugins >/dev/null", True),
        ("lwk tip tcp://127.0.0.1:1", False),  # exit 3 fails the block
        ("lwk tip tcp://127.0.0.1:1 || test $? -eq 3", True),
        ("pip install ./plugins/lwk_electrum 'tox>=4.11' pluggy", True),
        ("pip install ./plugins/no_such_plugin", False),
        ("python3 -m pip install no-such-distribution-xyz", False),
        ("python3 -m tox", True),
        ("lwk regtest serve", True),  # not started: the fixture serves the chain
    ],
)
def test_the_shell_runner_checks(
    script: str, ok: bool, docs_chain: DocsChain, tmp_path: Path
) -> None:
    if ok:
        _run_sh(script, "inline", docs_chain, tmp_path)
    else:
        with pytest.raises(AssertionError, match="inline: exit"):
            _run_sh(script, "inline", docs_chain, tmp_path)
