"""Driving `python -m lwk_regtest` in a child process: control commands as JSON lines over its
stdin/stdout (`Regtest(process=True)`)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

from lwk_core import OutPoint, TxOutSecrets

from ._chain import RegtestRejected

__all__ = ["Child", "spend_params"]


def spend_params(
    utxos: Sequence[tuple[OutPoint, TxOutSecrets]],
    address: object,
    sats: int,
    change_address: object,
    asset: str | None,
) -> list[Any]:
    """The JSON-able parameters of a `spend` or `build_spend` control command."""
    plain = [[op.txid, op.vout, s.asset, s.value, s.asset_bf, s.value_bf] for op, s in utxos]
    return [plain, str(address), sats, str(change_address), asset]


class Child:
    """`python -m lwk_regtest` in a child process, driven over its stdin/stdout."""

    def __init__(self, args: list[str]) -> None:
        self._proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self._lock = threading.Lock()
        self._next_id = 0
        line = self._read()
        self.info: dict[str, str] = json.loads(line)

    def _read(self) -> str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            code = self._proc.wait()
            raise RuntimeError(f"the regtest child process exited ({code})")
        return line

    def call(self, method: str, params: list[Any]) -> Any:
        with self._lock:
            self._next_id += 1
            assert self._proc.stdin is not None
            request = {"id": self._next_id, "method": method, "params": params}
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            reply = json.loads(self._read())
        error = reply.get("error")
        if error is None:
            return reply["result"]
        if error["type"] == "RegtestRejected":
            raise RegtestRejected(error["reason"], error["code"])
        exc_type = {"KeyError": KeyError, "ValueError": ValueError}.get(error["type"], RuntimeError)
        raise exc_type(error["message"])

    def close(self) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.close()
            self._proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()
