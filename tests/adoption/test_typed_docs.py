"""The documentation's Python examples type-check under `mypy --strict`, as a user's own
script would: what the docs show a user typing is what the type hints accept."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mypy import api as mypy_api
from test_docs import DOCUMENTS, blocks

REPO = Path(__file__).resolve().parents[2]
SEARCH_PATH = [REPO, *(REPO / "plugins").iterdir()]

# What the docs tell users not to do: a scan returns None when nothing changed.
MISUSE = textwrap.dedent(
    """
    from lwk_core import Network, Wollet
    from lwk_esplora import EsploraClient

    wollet = Wollet(Network.LIQUID_TESTNET, "ct(slip77(...),elwpkh(tpub.../<0;1>/*))")
    client = EsploraClient("https://blockstream.info/liquidtestnet/api", Network.LIQUID_TESTNET)
    wollet.apply_update(client.full_scan(wollet))
    """
)


def _write_examples(into: Path) -> list[Path]:
    """One module per document (its python blocks in order, as test_docs runs them), and
    each `python file=NAME` block as NAME."""
    modules = []
    for document in DOCUMENTS:
        code = []
        for block in blocks(document):
            if block.lang != "python":
                continue
            if block.info.startswith("file="):
                (into / block.info.removeprefix("file=")).write_text(block.code)
            else:
                code.append(block.code)
        if code:
            module = into / f"doc_{document.stem}.py"
            module.write_text("\n".join(code))
            modules.append(module)
    return modules


def test_the_docs_examples_type_check_strictly_and_misuse_does_not(tmp_path: Path) -> None:
    examples = _write_examples(tmp_path)
    assert {p.name for p in examples} >= {"doc_README.py", "doc_quickstart.py"}
    misuse = tmp_path / "misuse.py"
    misuse.write_text(MISUSE)
    config = tmp_path / "mypy.ini"
    search = ":".join(map(str, [tmp_path, *SEARCH_PATH]))
    config.write_text(
        f"[mypy]\nstrict = True\nmypy_path = {search}\n"
        "[mypy-embit.*]\nignore_missing_imports = True\n"
        "[mypy-pyrage.*]\nignore_missing_imports = True\n"
    )
    stdout, stderr, _ = mypy_api.run(
        ["--config-file", str(config), "--cache-dir", str(REPO / ".mypy_cache" / "docs")]
        + [str(p) for p in [*examples, misuse]]
    )
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, stdout + stderr
    # (a warm cache may report an earlier run's temporary path: match the file's name)
    assert 'misuse.py:7: error: Argument 1 to "apply_update"' in errors[0]
    assert '"Update | None"; expected "Update"' in errors[0]
