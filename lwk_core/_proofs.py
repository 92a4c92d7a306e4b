"""Confirmations and block times checked against the block headers themselves.

A history says "txid confirmed at height h"; a block time is "the block at h was made at t".
What a scan believes of them comes from headers it checked, not from the server's word:

- each header asked is parsed and must be at the height asked; with block signers set it
  must carry their signatures (`verify_header`), so a server cannot invent a block or its
  time;
- with SPV on, each confirmation comes with a Merkle proof that must fold up to the merkle
  root of that checked header, so a server cannot move a transaction into a block it is not
  in (and, the header being signed, into a block it made up).

A failed check is a BackendProtocolError (BadBlockSignature for a signature): the scan ends
without an Update and a BackendChain fails over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from ._blocksign import Federation, verify_header
from ._errors import BackendProtocolError, BadBlockSignature, DecodeError
from ._header import BlockHeader, merkle_root_from_branch
from ._types import MerkleProof

__all__ = ["Verification", "check_headers", "check_proofs"]

_MAX_DEPTH = 32  # a branch for 2**32 transactions is far beyond any block


def _no_signers() -> Federation | None:
    return None


@attrs.define
class Verification:
    """What a scan checks beyond the shapes of replies.

    `signers` gives the block signers at the time of asking (a client follows dynafed
    transitions as tips arrive) or None for no signature check; `spv` asks a Merkle proof
    of each confirmation not in `proven`, the (txid, height) pairs already proven by this
    client (kept between its scans, so each is proven once per session).
    """

    signers: Callable[[], Federation | None] = _no_signers
    spv: bool = False
    proven: set[tuple[str, int]] = attrs.field(factory=set)


def check_headers(
    reply: Any, heights: Sequence[int], signers: Federation | None, *, backend: str
) -> dict[int, BlockHeader]:
    """The headers `reply` gives for `heights` (raw bytes per height), each at its height
    and, with `signers`, signed by them."""
    if not isinstance(reply, Mapping) or set(reply) != set(heights):
        got = len(reply) if isinstance(reply, Mapping) else type(reply).__name__
        raise BackendProtocolError(f"asked for {len(heights)} headers, got {got}", backend=backend)
    headers = {}
    for height in heights:
        raw = reply[height]
        if not isinstance(raw, bytes | bytearray):
            raise BackendProtocolError(
                f"the header at height {height} is not bytes", backend=backend
            )
        try:
            header = BlockHeader.parse(bytes(raw))
        except DecodeError as exc:
            raise BackendProtocolError(
                f"malformed header at height {height}: {exc}", backend=backend
            ) from exc
        if header.height != height:
            raise BackendProtocolError(
                f"asked for the header at height {height}, got one at height {header.height}",
                backend=backend,
            )
        if signers is not None:
            try:
                verify_header(header, signers)
            except BadBlockSignature as exc:
                raise BadBlockSignature(
                    f"block {header.block_hash} at height {height}: {exc.reason}", backend=backend
                ) from exc
        headers[height] = header
    return headers


def check_proofs(
    reply: Any,
    confirmed: Sequence[tuple[str, int]],
    headers: Mapping[int, BlockHeader],
    *,
    backend: str,
) -> None:
    """Each proof in `reply` must prove its (txid, height) of `confirmed` against the
    checked header at that height."""
    if not isinstance(reply, Sequence) or len(reply) != len(confirmed):
        got = len(reply) if isinstance(reply, Sequence) else type(reply).__name__
        raise BackendProtocolError(
            f"asked for {len(confirmed)} merkle proofs, got {got}", backend=backend
        )
    for (txid, height), proof in zip(confirmed, reply, strict=True):
        if not isinstance(proof, MerkleProof):
            raise BackendProtocolError(f"the merkle proof of {txid} is not one", backend=backend)
        if proof.block_height != height:
            raise BackendProtocolError(
                f"the merkle proof of {txid} is for height {proof.block_height}, its history "
                f"says {height}",
                backend=backend,
            )
        if len(proof.merkle) > _MAX_DEPTH or type(proof.pos) is not int:
            raise BackendProtocolError(f"malformed merkle proof of {txid}", backend=backend)
        try:
            root = merkle_root_from_branch(txid, proof.merkle, proof.pos)
        except (DecodeError, TypeError) as exc:
            raise BackendProtocolError(
                f"malformed merkle proof of {txid}: {exc}", backend=backend
            ) from exc
        if root != headers[height].merkle_root:
            raise BackendProtocolError(
                f"the merkle proof of {txid} does not match the block at height {height}",
                backend=backend,
            )
