"""Trust on first use: the certificate pins of self-signed Electrum servers, kept in a file.

`PinFile(datadir)` keeps `datadir/electrum-tls-pins.json`, beside the wallets' own
directories: `{"version": 1, "pins": {"ssl://host:port": "<sha256 of the DER cert, hex>"}}`.
The first certificate a server shows is pinned (and logged); later connections must show
the same one (CertificatePinMismatch otherwise, until the entry is deleted by hand). The
file is replaced atomically, 0600, and a file that is not such a JSON document is refused
(StoreCorrupted), never overwritten: fail closed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Final

from lwk_core import StoreCorrupted

__all__ = ["PIN_FILE", "PinFile"]

log = logging.getLogger("lwk_electrum")

PIN_FILE: Final = "electrum-tls-pins.json"
_MAX_FILE: Final = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")


class PinFile:
    """The pins of one datadir; thread-safe, and re-read on each first-use decision."""

    def __init__(self, datadir: str | os.PathLike[str]) -> None:
        self.path = Path(datadir) / PIN_FILE
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<PinFile {self.path}>"

    def pin_for(self, server: str, der: bytes) -> bytes:
        """The pin `server` must match: the stored one, or this certificate's, stored now."""
        with self._lock:
            pins = self._read()
            known = pins.get(server)
            if known is not None:
                return bytes.fromhex(known)
            fingerprint = hashlib.sha256(der).hexdigest()
            pins[server] = fingerprint
            self._write(pins)
            log.warning(
                "%s: trusting its certificate on first use (sha256 %s)", server, fingerprint
            )
            return bytes.fromhex(fingerprint)

    def _read(self) -> dict[str, str]:
        try:
            with self.path.open("rb") as f:
                raw = f.read(_MAX_FILE + 1)
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise StoreCorrupted(f"cannot read the pin file {self.path}: {e.strerror}") from e
        try:
            document = json.loads(raw) if len(raw) <= _MAX_FILE else None
        except ValueError:
            document = None
        pins = document.get("pins") if isinstance(document, dict) else None
        if (
            not isinstance(document, dict)
            or document.get("version") != 1
            or not isinstance(pins, dict)
            or not all(isinstance(v, str) and _HEX64.fullmatch(v) for v in pins.values())
        ):
            raise StoreCorrupted(f"{self.path} is not a pin file; move it away to start afresh")
        return {str(k): str(v) for k, v in pins.items()}

    def _write(self, pins: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = json.dumps({"version": 1, "pins": pins}, indent=1, sort_keys=True).encode()
        tmp = self.path.with_name(f"{PIN_FILE}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
