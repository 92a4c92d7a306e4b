"""The lwk-electrum hook implementations (entry point "electrum" in group "lwk.backends").

Every hook but lwk_schemes and lwk_connect answers only for an ElectrumSession and returns
None for another plugin's connection.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lwk_core import BackendProtocolError, BroadcastRejected, DecodeError, HistoryEntry, Tip
from lwk_core._transaction import Transaction
from lwk_core.plugin import hookimpl

from ._errors import ElectrumError
from ._headers import parse_header
from ._scan import scan_scripts
from ._session import ElectrumSession

if TYPE_CHECKING:
    from lwk_core import Network

    from ._client import ElectrumClient

__all__ = [
    "broadcast_reason",
    "lwk_block_timestamps",
    "lwk_broadcast",
    "lwk_close",
    "lwk_connect",
    "lwk_get_tx",
    "lwk_ping",
    "lwk_scan_scripts",
    "lwk_schemes",
    "lwk_tip",
]

SCHEMES = ("tcp", "ssl")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
# JSON-RPC codes that say the server failed, not that the node judged the transaction.
_NOT_A_VERDICT = frozenset({-32700, -32600, -32601, -32603})
_RPC_REASON = re.compile(r"RPC error -?\d+: (.+)", re.DOTALL)


@hookimpl
def lwk_schemes() -> list[str]:
    return list(SCHEMES)


@hookimpl
def lwk_connect(
    url: str, network: Network | None, options: Mapping[str, Any]
) -> ElectrumClient | None:
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in SCHEMES:
        return None
    from ._client import ElectrumClient

    return ElectrumClient.from_url(url, network=network, **options)


@hookimpl
def lwk_ping(connection: object) -> bool | None:
    if not isinstance(connection, ElectrumSession):
        return None
    connection.rpc.call("server.ping")
    return True


@hookimpl
def lwk_tip(connection: object) -> Tip | None:
    if not isinstance(connection, ElectrumSession):
        return None
    return connection.rpc.tip()


@hookimpl
def lwk_scan_scripts(
    connection: object, scripts: Sequence[bytes]
) -> list[list[HistoryEntry]] | None:
    if not isinstance(connection, ElectrumSession):
        return None
    verified = connection.verified if connection.verify_merkle else None
    return scan_scripts(connection.rpc, connection.cache, scripts, verified=verified)


@hookimpl
def lwk_get_tx(connection: object, txids: Sequence[str]) -> list[bytes] | None:
    if not isinstance(connection, ElectrumSession):
        return None
    replies = connection.rpc.batch([("blockchain.transaction.get", [txid]) for txid in txids])
    raws = []
    for txid, reply in zip(txids, replies, strict=True):
        try:
            raws.append(bytes.fromhex(reply))
        except (TypeError, ValueError):
            raise BackendProtocolError(
                f"transaction {txid} is not hex", backend=connection.name
            ) from None
    return raws


@hookimpl
def lwk_block_timestamps(connection: object, heights: Sequence[int]) -> dict[int, int] | None:
    if not isinstance(connection, ElectrumSession):
        return None
    unique = sorted(set(heights))
    replies = connection.rpc.batch([("blockchain.block.header", [h]) for h in unique])
    return {
        h: parse_header(raw, h, backend=connection.name).time
        for h, raw in zip(unique, replies, strict=True)
    }


@hookimpl
def lwk_broadcast(connection: object, tx: bytes) -> str | None:
    if not isinstance(connection, ElectrumSession):
        return None
    try:
        txid = connection.rpc.call("blockchain.transaction.broadcast", tx.hex())
    except ElectrumError as e:
        if e.code in _NOT_A_VERDICT:
            raise
        raise BroadcastRejected(broadcast_reason(e.message), backend=connection.name) from e
    if not (isinstance(txid, str) and _HEX64.fullmatch(txid)):
        raise BackendProtocolError("broadcast answered no txid", backend=connection.name)
    try:
        expected = Transaction.from_bytes(tx).txid
    except DecodeError:
        expected = None  # the server accepted bytes we cannot parse: trust its txid
    if expected is not None and txid.lower() != expected:
        raise BackendProtocolError(
            f"broadcast answered txid {txid}, the transaction is {expected}",
            backend=connection.name,
        )
    return txid.lower()


@hookimpl
def lwk_close(connection: object) -> None:
    if isinstance(connection, ElectrumSession):
        connection.rpc.close()


def broadcast_reason(message: str) -> str:
    """The node's reject reason inside an electrs broadcast error, in either generation:

    - `sendrawtransaction RPC error -26: bad-txns-inputs-missingorspent` (newer);
    - `sendrawtransaction RPC error: {"code":-26,"message":"bad-txns-..."}` (older).
    """
    start = message.find("{")
    if start >= 0:
        try:
            inner = json.loads(message[start:])
        except (ValueError, RecursionError):  # a server's text may nest absurdly deep
            inner = None
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    match = _RPC_REASON.search(message)
    return match.group(1).strip() if match else message.strip()
