"""Block signers for the regtest chain: an m-of-n federation that signs every block header.

Headers take the legacy signed-block form (challenge = the multisig script, solution =
`OP_0 <sig>...`, signatures without a sighash byte) or the dynafed form (compact current
parameters whose signblockscript is the P2WSH of the multisig, a null proposal, and a
signblock witness `"" <sig+SIGHASH_ALL>... <script>`), as Elements' block signing produces
them (`src/block_proof.cpp`, `src/script/generic.hpp`,
<https://github.com/ElementsProject/elements>). The signed message is the block hash.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from typing import Any

import attrs
from embit import ec

from lwk_core import BlockHeader, Federation
from lwk_core.primitives import compact_size, p2wsh, sha256d, varbytes

__all__ = ["DEFAULT_SIGNERS", "BlockSigners", "without_proof"]

_DYNAFED_BIT = 0x80000000
_SIGHASH_ALL = b"\x01"
_OP_CHECKMULTISIG = 0xAE


def _push(data: bytes) -> bytes:
    if len(data) > 75:
        raise ValueError("signatures and keys are direct pushes")
    return bytes([len(data)]) + data


def _small(n: int) -> int:
    if not 1 <= n <= 16:
        raise ValueError("a regtest federation has 1 to 16 keys")
    return 0x50 + n


@attrs.frozen(slots=False)  # slots off for the cached properties
class BlockSigners:
    """`threshold` of the keys derived from `seeds` sign each block; `signing` picks how many
    actually sign (fewer than the threshold makes blocks a verifier must refuse). Dynafed
    headers may propose the next federation's multisig script (`proposes`) as full
    parameters, as a federation does before it hands over (the limit stays the same)."""

    seeds: tuple[bytes, ...] = attrs.field(converter=tuple)
    threshold: int
    dynafed: bool = False
    witness_limit: int = 1416
    signing: int | None = None
    proposes: bytes | None = attrs.field(default=None, repr=False)

    @classmethod
    def generate(cls, threshold: int = 2, total: int = 3, **kwargs: object) -> BlockSigners:
        """A federation with keys derived from fixed labels (reproducible chains)."""
        seeds = [hashlib.sha256(b"lwk-regtest block signer %d" % i).digest() for i in range(total)]
        return cls(tuple(seeds), threshold, **kwargs)  # type: ignore[arg-type]

    @functools.cached_property
    def _keys(self) -> list[ec.PrivateKey]:
        return [ec.PrivateKey(seed) for seed in self.seeds]

    @functools.cached_property
    def script(self) -> bytes:
        """`OP_m <pubkeys> OP_n OP_CHECKMULTISIG`."""
        keys = b"".join(_push(k.get_public_key().sec()) for k in self._keys)
        n = _small(len(self.seeds))
        return bytes([_small(self.threshold)]) + keys + bytes([n, _OP_CHECKMULTISIG])

    def federation(self) -> Federation:
        """The lwk_core Federation a verifier of this chain trusts."""
        return Federation.of(self.script)

    def to_json(self) -> dict[str, Any]:
        """The federation as plain JSON values (`from_json` reads it back): how a parent
        hands it to `python -m lwk_regtest --signers`."""
        proposes = None if self.proposes is None else self.proposes.hex()
        seeds = [seed.hex() for seed in self.seeds]
        return {**attrs.asdict(self), "seeds": seeds, "proposes": proposes}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> BlockSigners:
        seeds = tuple(bytes.fromhex(s) for s in value["seeds"])
        proposes = value.get("proposes")
        return cls(**{**value, "seeds": seeds, "proposes": proposes and bytes.fromhex(proposes)})

    def _signatures(self, block_hash: bytes) -> list[bytes]:
        count = self.threshold if self.signing is None else self.signing
        return [k.sign(block_hash).serialize() for k in self._keys[:count]]

    @functools.cached_property
    def _hashed_tail(self) -> bytes:
        """What follows height in the hashed header: the challenge, or the dynafed
        parameters (compact current ones with a zero elided root, a null proposal)."""
        if not self.dynafed:
            return varbytes(self.script)
        limit = struct.pack("<I", self.witness_limit)
        current = b"\x01" + varbytes(p2wsh(self.script)) + limit + bytes(32)
        if self.proposes is None:
            return current + b"\x00"
        # full parameters: no fedpeg program or script, an empty extension space
        return current + b"\x02" + varbytes(p2wsh(self.proposes)) + limit + b"\x00\x00\x00"

    def unsigned(self, version: int, prev: bytes, merkle: bytes, time: int, height: int) -> bytes:
        """The hashed part of a header (prev and merkle in internal byte order)."""
        version = version | _DYNAFED_BIT if self.dynafed else version
        return struct.pack("<I32s32sII", version, prev, merkle, time, height) + self._hashed_tail

    def header(
        self, prev: bytes, merkle: bytes, time: int, height: int, version: int = 0x20000000
    ) -> bytes:
        """A whole header these signers signed (prev and merkle in internal byte order)."""
        unsigned = self.unsigned(version, prev, merkle, time, height)
        return unsigned + self.proof(sha256d(unsigned))

    def proof(self, block_hash: bytes) -> bytes:
        """The solution (legacy) or signblock witness (dynafed) signing `block_hash`."""
        if not self.dynafed:
            solution = b"\x00" + b"".join(_push(s) for s in self._signatures(block_hash))
            return varbytes(solution)
        stack = [b"", *(s + _SIGHASH_ALL for s in self._signatures(block_hash)), self.script]
        return compact_size(len(stack)) + b"".join(varbytes(item) for item in stack)


DEFAULT_SIGNERS = BlockSigners.generate(2, 3, dynafed=True)
"""Who signs the embedded chain's blocks unless told otherwise: 2 of 3 fixed keys, dynafed
headers (a verifier trusts `DEFAULT_SIGNERS.federation()`)."""


def without_proof(header: bytes) -> bytes:
    """`header` with its signatures taken out (an empty legacy solution or signblock
    witness): the same block hash, as the proof is not hashed, but nobody's signatures."""
    parsed = BlockHeader.parse(header)
    if parsed.is_dynafed:
        items = parsed.signblock_witness
        proof = compact_size(len(items)) + b"".join(varbytes(item) for item in items)
    else:
        proof = varbytes(parsed.solution)
    return header[: len(header) - len(proof)] + b"\x00"
