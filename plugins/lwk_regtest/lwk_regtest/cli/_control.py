"""How `lwk regtest faucet|mine|tip` reach a running `lwk regtest serve`.

`serve` listens on a loopback TCP port and writes its URLs, that port and a random token to
a state file only its user can read (0600, in a 0700 directory: `--state-dir`, else
$LWK_REGTEST_STATE_DIR, $XDG_RUNTIME_DIR/lwk-regtest or <tmp>/lwk-regtest-<uid>). A command
sends one JSON line `{"token", "method", "params"}` and reads one JSON line back; a request
without the token is refused, so other local users cannot drive the faucet.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import secrets
import socket
import socketserver
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lwk_core import BackendConnectError, LwkError

__all__ = [
    "ControlError",
    "ControlServer",
    "ServeAlreadyRunning",
    "ServeNotRunning",
    "StateDirError",
    "call",
    "read_state",
    "remove_state",
    "state_dir",
    "write_state",
]

STATE_FILE = "serve.json"
_MAX_LINE = 1 << 16
_TIMEOUT = 60.0  # seconds: a faucet payment builds and blinds a transaction


class ServeNotRunning(BackendConnectError):
    """No `lwk regtest serve` answers for this state directory."""


class ServeAlreadyRunning(LwkError):
    """A `lwk regtest serve` already answers for this state directory."""


class StateDirError(LwkError):
    """The state directory is not private to this user (another user could read the token)."""


class ControlError(LwkError):
    """The running serve refused a command (e.g. an amount the faucet cannot pay)."""


def state_dir(given: str | None) -> Path:
    """The state directory: `given`, else $LWK_REGTEST_STATE_DIR, else a per-user one."""
    if given:
        return Path(given)
    if os.environ.get("LWK_REGTEST_STATE_DIR"):
        return Path(os.environ["LWK_REGTEST_STATE_DIR"])
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "lwk-regtest"
    return Path(tempfile.gettempdir()) / f"lwk-regtest-{os.getuid()}"


def _private(directory: Path) -> Path:
    """Create `directory` 0700 if missing; StateDirError unless it is ours and private."""
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700, parents=True)
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise StateDirError(
            f"{directory}: not a directory private to this user (it must be yours, mode 0700)"
        )
    return directory / STATE_FILE


def write_state(directory: Path, state: dict[str, Any]) -> Path:
    """Write the state file (0600) atomically; returns its path."""
    path = _private(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".serve-")  # mode 0600
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)
    return path


def read_state(directory: Path) -> dict[str, Any]:
    """The state a serve wrote; ServeNotRunning if there is none."""
    path = _private(directory) if directory.exists() else directory / STATE_FILE
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise ServeNotRunning(
            f"no 'lwk regtest serve' is running (no {path}); start one in another "
            "terminal: lwk regtest serve"
        ) from None
    except (OSError, ValueError) as exc:
        raise ServeNotRunning(f"{path}: unreadable state file ({exc})") from None
    return state


def remove_state(directory: Path, token: str) -> None:
    """Remove the state file if it is still the one with `token` (a later serve's stays)."""
    path = directory / STATE_FILE
    with contextlib.suppress(OSError, ValueError):
        if hmac.compare_digest(json.loads(path.read_text()).get("token", ""), token):
            path.unlink()


def call(state: dict[str, Any], method: str, params: list[Any]) -> Any:
    """Run `method` on the serve described by `state`; ServeNotRunning if it is gone."""
    host, port = state["control"].rsplit(":", 1)
    request = {"token": state["token"], "method": method, "params": params}
    try:
        with socket.create_connection((host, int(port)), timeout=_TIMEOUT) as sock:
            sock.sendall(json.dumps(request).encode() + b"\n")
            line = sock.makefile("rb").readline(_MAX_LINE)
    except OSError as exc:
        raise ServeNotRunning(
            f"the 'lwk regtest serve' of pid {state.get('pid')} does not answer ({exc}); "
            "start one: lwk regtest serve"
        ) from None
    try:
        reply: dict[str, Any] = json.loads(line)
    except ValueError:
        raise ServeNotRunning("the serve closed the control connection") from None
    if "error" in reply:
        raise ControlError(str(reply["error"]))
    return reply["result"]


class ControlServer:
    """The serve's side: answers the commands in `methods` to requests carrying the token,
    one at a time (the chain's changes are made in order)."""

    def __init__(self, methods: dict[str, Callable[..., Any]]) -> None:
        self.token = secrets.token_hex(32)
        self._methods = methods
        self._lock = threading.Lock()
        handler = self._handler()
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        port: int = self._server.socket.getsockname()[1]
        return f"127.0.0.1:{port}"

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, line: bytes) -> dict[str, Any]:
        """The reply to one request line."""
        try:
            request = json.loads(line)
            token, method, params = request["token"], request["method"], request["params"]
        except (ValueError, KeyError, TypeError):
            return {"error": "malformed request"}
        if not isinstance(token, str) or not hmac.compare_digest(token, self.token):
            return {"error": "wrong token"}
        if method not in self._methods or not isinstance(params, list):
            return {"error": f"unknown command {method!r}"}
        try:
            with self._lock:
                return {"result": self._methods[method](*params)}
        except Exception as exc:  # the chain's refusal, reported to the command
            return {"error": f"{type(exc).__name__}: {exc}"}

    def _handler(self) -> type[socketserver.StreamRequestHandler]:
        answer = self.answer

        class Handler(socketserver.StreamRequestHandler):
            timeout = _TIMEOUT  # a client that connects and says nothing is dropped

            def handle(self) -> None:
                reply = answer(self.rfile.readline(_MAX_LINE))
                self.wfile.write(json.dumps(reply).encode() + b"\n")

        return Handler
