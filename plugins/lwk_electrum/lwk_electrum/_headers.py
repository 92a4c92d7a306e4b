"""Block headers as an Electrum server sends them (hex), parsed and checked."""

from __future__ import annotations

from typing import Any

from lwk_core.plugin import BackendProtocolError, BlockHeader, DecodeError, Tip

__all__ = ["parse_header", "parse_tip"]


def parse_header(value: Any, height: int | None, *, backend: str) -> BlockHeader:
    """Parse a full Elements header from hex; if `height` is given the header must say so."""
    if not isinstance(value, str):
        raise BackendProtocolError("a block header is not a hex string", backend=backend)
    try:
        header = BlockHeader.from_hex(value)
    except DecodeError as e:
        raise BackendProtocolError(f"malformed block header: {e}", backend=backend) from e
    if height is not None and header.height != height:
        raise BackendProtocolError(
            f"asked for the header at height {height}, got one at height {header.height}",
            backend=backend,
        )
    return header


def parse_tip(value: Any, *, backend: str) -> Tip:
    """The result of blockchain.headers.subscribe: {"hex": header, "height": int} (core
    checks that the header is at that height)."""
    if not isinstance(value, dict):
        raise BackendProtocolError("the tip is not an object", backend=backend)
    height = value.get("height")
    if type(height) is not int or height < 0:
        raise BackendProtocolError("the tip has no valid height", backend=backend)
    header = parse_header(value.get("hex"), None, backend=backend)
    return Tip(height, header.block_hash, header.time, header.to_bytes())
