"""ELIP-150 CT descriptors, parsed and derived the way LWK's `WolletDescriptor` does.

`ct(<blinding key>,<descriptor>)#checksum` (ELIP-150; blinding keys per SLIP-77 and ELIP-151).
The ct layer is parsed here, the rest by its own modules: the text and checksum
(`_descriptor_text`), key expressions (`_descriptor_keys`, BIP-32 in `_bip32`), scripts
(`_descriptor_scripts`) and blinding keys (`_blinding_keys`). Supported blinding keys:
`slip77(hex)`, a hex or xprv view key, a bare public key (hex or xpub: addresses only) and
`elip151`.
"""

from __future__ import annotations

from ._address import script_to_address
from ._bip32 import CURVE_ORDER, HARDENED
from ._blinding_keys import BareKey, BlindingKey, ViewKey, parse_blinding_key
from ._descriptor_scripts import parse_script
from ._descriptor_text import descriptor_checksum, split_call, strip_checksum
from ._encoding import compact_size
from ._errors import DescriptorError
from ._hashes import sha256, tagged_hash
from ._network import Chain, Network

__all__ = ["WolletDescriptor", "descriptor_checksum"]

_DWID_INDEX = HARDENED - 1  # ELIP-151 and LWK's dwid use the last unhardened index


class WolletDescriptor:
    """A CT descriptor of a watch-only wallet (LWK's `WolletDescriptor`).

    `str(d)` is LWK's canonical text with checksum; it carries the blinding key, so treat it
    as a secret. `repr(d)` and every error message never carry key material.
    """

    __slots__ = ("_blinding", "_branches", "_chains", "_script", "_text", "_wallet_id")

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise DescriptorError("a descriptor must be given as text")
        if not text:
            raise DescriptorError("empty descriptor")
        name, args = split_call(strip_checksum(text), "ct(<blinding key>,<descriptor>)")
        if name != "ct":
            raise DescriptorError("not a CT descriptor: expected ct(<blinding key>,<descriptor>)")
        if len(args) != 2:
            raise DescriptorError(
                f"ct() takes 2 arguments (blinding key, descriptor), not {len(args)}"
            )
        script = parse_script(args[1])
        multipath = [key.multipath for key in script.keys]
        if any(multipath) and not all(multipath):
            raise DescriptorError("in a multipath descriptor every key must end with /<0;1>")
        self._script = script
        self._branches = 2 if any(multipath) else 1
        self._chains = (
            (Chain.EXTERNAL, Chain.INTERNAL) if any(multipath) else (self._single_chain(),)
        )
        if args[0] == "elip151":
            self._blinding: BlindingKey = self._elip151_key()
        else:
            self._blinding = parse_blinding_key(args[0])
        body = f"ct({self._blinding.text},{script.text})"
        self._text = f"{body}#{descriptor_checksum(body)}"
        self._wallet_id = sha256(self._text.encode()).hex()

    def _single_chain(self) -> Chain:
        """LWK: the chain of a single-path descriptor is the first key's last path step
        (before `/*`; one step earlier without a wildcard) if it is 0 or 1, else EXTERNAL."""
        path = self._script.keys[0].full_path
        pos = -1 if self.has_wildcard else -2
        step = path[pos] if len(path) >= -pos else None
        return Chain.INTERNAL if step == 1 else Chain.EXTERNAL

    def _elip151_key(self) -> ViewKey:
        if not self.has_wildcard:
            raise DescriptorError("elip151 needs a descriptor with a wildcard")
        data = b"".join(
            b"\x01\xff" + compact_size(len(spk)) + spk
            for spk in (self._spk(branch, _DWID_INDEX) for branch in range(self._branches))
        )
        secret = (
            int.from_bytes(tagged_hash(b"Deterministic-View-Key/1.0", data), "big") % CURVE_ORDER
        )
        if secret == 0:
            raise DescriptorError("elip151 view key out of range")
        return ViewKey(secret, secret.to_bytes(32, "big").hex())

    # -- derivation ------------------------------------------------------------------------

    def _spk(self, branch: int, index: int) -> bytes:
        return self._script.build([key.pubkey(branch, index) for key in self._script.keys])

    def _branch(self, chain: Chain) -> int:
        try:
            chain = Chain(chain)
        except ValueError:
            raise DescriptorError("chain must be Chain.EXTERNAL or Chain.INTERNAL") from None
        return int(chain) if self._branches == 2 else 0

    @staticmethod
    def _check_range(start: int, count: int) -> None:
        if start < 0 or count < 0 or start >= HARDENED or start + count > HARDENED:
            raise DescriptorError("derivation index out of range (0 .. 2^31-1)")

    def script_pubkey(self, chain: Chain, index: int) -> bytes:
        """The scriptPubKey at `index` of `chain` (single-path descriptors ignore `chain`)."""
        self._check_range(index, 1)
        return self._spk(self._branch(chain), index)

    def script_pubkeys(self, chain: Chain, start: int, count: int) -> list[bytes]:
        """The scriptPubKeys at indexes `start .. start+count-1` of `chain`."""
        self._check_range(start, count)
        branch = self._branch(chain)
        columns = [key.pubkeys(branch, start, count) for key in self._script.keys]
        return [self._script.build(list(keys)) for keys in zip(*columns, strict=True)]

    def blinding_private_key(self, script_pubkey: bytes) -> bytes:
        """The 32-byte blinding private key for a scriptPubKey (needs a private blinding key)."""
        return self._blinding.private_key(bytes(script_pubkey))

    def blinding_public_key(self, script_pubkey: bytes) -> bytes:
        """The 33-byte compressed blinding public key for a scriptPubKey."""
        return self._blinding.public_key(bytes(script_pubkey))

    def address(self, chain: Chain, index: int, network: Network) -> str:
        """The confidential address at `index` of `chain`."""
        spk = self.script_pubkey(chain, index)
        return script_to_address(spk, self.blinding_public_key(spk), network)

    def unconfidential_address(self, chain: Chain, index: int, network: Network) -> str:
        return script_to_address(self.script_pubkey(chain, index), None, network)

    def dwid(self, network: Network) -> str:
        """LWK's descriptor wallet id (ELIP-152): the first 16 bytes of the SHA-256 of the
        external confidential address at index 2^31-1, hex in dash-separated groups of 4."""
        digest = sha256(self.address(Chain.EXTERNAL, _DWID_INDEX, network).encode()).hex()
        return "-".join(digest[i : i + 4] for i in range(0, 32, 4))

    # -- properties ------------------------------------------------------------------------

    @property
    def chains(self) -> tuple[Chain, ...]:
        """The chains a sync scans: (EXTERNAL, INTERNAL) for `<0;1>`, else the one chain."""
        return self._chains

    @property
    def has_wildcard(self) -> bool:
        """False for a single-address descriptor: every index gives the same script."""
        return any(key.wildcard for key in self._script.keys)

    @property
    def wallet_id(self) -> str:
        """Stable internal id: hex SHA-256 of the canonical text (not reversible)."""
        return self._wallet_id

    @property
    def is_mainnet(self) -> bool:
        """True unless some extended key is a testnet one (tpub), as in LWK."""
        return all(key.mainnet is not False for key in self._script.keys)

    @property
    def can_unblind(self) -> bool:
        return not isinstance(self._blinding, BareKey)

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        paths = "multipath" if self._branches == 2 else "single-path"
        kind = f"{self._script.kind} {self._blinding.kind} {paths}"
        return f"<WolletDescriptor {kind} {self._wallet_id[:8]}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WolletDescriptor):
            return NotImplemented
        return self._text == other._text

    def __hash__(self) -> int:
        return hash(self._text)

    def __reduce__(self) -> tuple[type[WolletDescriptor], tuple[str]]:
        return (WolletDescriptor, (self._text,))
