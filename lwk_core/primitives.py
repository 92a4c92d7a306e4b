"""Byte-level building blocks, public for servers, test chains and tools built on lwk-core
(the embedded regtest chain of lwk-regtest uses them): hashes, Bitcoin's CompactSize,
Liquid addresses, Merkle trees of txids, P2WSH scripts, and the descriptor checksum
(BIP-380)."""

from __future__ import annotations

from ._address import address_to_script, script_to_address
from ._blocksign import p2wsh
from ._descriptor import descriptor_checksum
from ._encoding import compact_size, varbytes
from ._hashes import electrum_status, fast_merkle_root, hash160, sha256, sha256d, tagged_hash
from ._header import MerkleTree, merkle_branch, merkle_root, merkle_root_from_branch

__all__ = [
    "MerkleTree",
    "address_to_script",
    "compact_size",
    "descriptor_checksum",
    "electrum_status",
    "fast_merkle_root",
    "hash160",
    "merkle_branch",
    "merkle_root",
    "merkle_root_from_branch",
    "p2wsh",
    "script_to_address",
    "sha256",
    "sha256d",
    "tagged_hash",
    "varbytes",
]
