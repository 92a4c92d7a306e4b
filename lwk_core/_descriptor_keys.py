"""Key expressions of a descriptor: `[fingerprint/path]KEY/path/<0;1>/*`.

Derivation is cached per key and branch: the chain-level node (everything before `/*`) is
derived once at parse time, so each index costs one BIP-32 child step per key.
"""

from __future__ import annotations

from typing import NamedTuple, NoReturn

from ._bip32 import HARDENED, Node, child_keys, ckd_pub, parse_xkey, pubkey_point
from ._descriptor_text import is_hex
from ._errors import DescriptorError

__all__ = ["MULTIPATH", "Key", "KeyText", "parse_key_text", "reject_bad_single_key"]

MULTIPATH = -1  # marker for <0;1> in a parsed derivation path


class KeyText(NamedTuple):
    origin: str  # canonical "[fingerprint/path]" or ""
    origin_path: tuple[int, ...]
    body: str  # hex or base58 as given (hex lower-cased)
    steps: tuple[int, ...]  # MULTIPATH marks <0;1>; hardened steps have bit 31 set
    wildcard: bool

    def canonical(self) -> str:
        path = "".join("/" + _step_text(s) for s in self.steps)
        return self.origin + self.body + path + ("/*" if self.wildcard else "")


def _step_text(step: int) -> str:
    if step == MULTIPATH:
        return "<0;1>"
    if step >= HARDENED:
        return f"{step - HARDENED}'"
    return str(step)


def _parse_index(text: str) -> int:
    hardened = text[-1:] in ("h", "'")
    digits = text[:-1] if hardened else text
    if not digits or len(digits) > 10 or any(c not in "0123456789" for c in digits):
        raise DescriptorError("invalid derivation step")
    value = int(digits)
    if value >= HARDENED:
        raise DescriptorError("derivation index out of range")
    return value + HARDENED if hardened else value


def parse_key_text(text: str) -> KeyText:
    origin, origin_path = "", tuple[int, ...]()
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise DescriptorError("key origin is missing ']'")
        fingerprint, *origin_steps = text[1:close].split("/")
        if not is_hex(fingerprint, 8):
            raise DescriptorError("key origin fingerprint must be 8 hex characters")
        origin_path = tuple(_parse_index(s) for s in origin_steps)
        origin = "[" + "".join([fingerprint.lower(), *("/" + _step_text(s) for s in origin_path)])
        origin += "]"
        text = text[close + 1 :]
    body, *path = text.split("/")
    wildcard = False
    if path and path[-1] in ("*", "*h", "*'"):
        if path[-1] != "*":
            raise DescriptorError("hardened wildcards are not supported")
        wildcard = True
        path = path[:-1]
    steps = []
    for step in path:
        if step.startswith("<"):
            if step != "<0;1>":
                raise DescriptorError("only the multipath step <0;1> is supported")
            steps.append(MULTIPATH)
        elif "*" in step:
            raise DescriptorError("a wildcard must be the last derivation step")
        else:
            steps.append(_parse_index(step))
    if MULTIPATH in steps[:-1]:
        raise DescriptorError("the multipath step <0;1> must be the last one (before /*)")
    if is_hex(body, len(body)):
        body = body.lower()
    return KeyText(origin, origin_path, body, tuple(steps), wildcard)


def reject_bad_single_key(body: str) -> NoReturn:
    if is_hex(body, 130) and body.startswith("04"):
        raise DescriptorError("uncompressed public keys are not allowed")
    raise DescriptorError("unknown key form")


class Key:
    """One public key of the descriptor, with per-branch derivation cached."""

    __slots__ = ("branches", "full_path", "mainnet", "multipath", "text", "wildcard")

    def __init__(self, text: str) -> None:
        parsed = parse_key_text(text)
        self.text = parsed.canonical()
        self.wildcard = parsed.wildcard
        self.multipath = MULTIPATH in parsed.steps
        self.mainnet: bool | None = None
        xkey = parse_xkey(parsed.body)
        # branches: one entry per multipath branch (0, 1), else one; a Node to derive
        # children from when the key has a wildcard, else the fixed compressed key.
        self.branches: tuple[Node | bytes, ...]
        if xkey is None:
            if is_hex(parsed.body, 66) and parsed.body[:2] in ("02", "03"):
                sec = bytes.fromhex(parsed.body)
            elif is_hex(parsed.body, 64):  # x-only: the even-y point, as in miniscript
                sec = b"\x02" + bytes.fromhex(parsed.body)
            else:
                reject_bad_single_key(parsed.body)
            if parsed.steps or parsed.wildcard:
                raise DescriptorError("derivation steps after a single public key")
            pubkey_point(sec)
            self.branches = (sec,)
            self.full_path = parsed.origin_path
            return
        if xkey.private:
            raise DescriptorError("private keys are not allowed in a watch-only descriptor")
        if any(s >= HARDENED for s in parsed.steps):
            raise DescriptorError("hardened derivation after an xpub is impossible")
        self.mainnet = xkey.mainnet
        root = Node(pubkey_point(xkey.key), xkey.key, xkey.chain_code)
        branches = []
        for branch in (0, 1) if self.multipath else (0,):
            node = root
            for step in parsed.steps:
                node = ckd_pub(node, branch if step == MULTIPATH else step)
            branches.append(node if self.wildcard else node.sec)
        self.branches = tuple(branches)
        self.full_path = parsed.origin_path + tuple(s for s in parsed.steps if s != MULTIPATH)

    def pubkey(self, branch: int, index: int) -> bytes:
        return self.pubkeys(branch, index, 1)[0]

    def pubkeys(self, branch: int, start: int, count: int) -> list[bytes]:
        """The keys at indexes `start .. start+count-1` of `branch`."""
        entry = self.branches[branch if len(self.branches) > 1 else 0]
        if isinstance(entry, bytes):
            return [entry] * count
        return child_keys(entry, start, count)
