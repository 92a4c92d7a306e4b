"""Federation signatures of Liquid block headers: who may sign, and checking that they did.

What is checked follows Elements' `CheckProof` / `CheckProofGeneric` (`src/block_proof.cpp`)
and its `SimpleSignatureChecker` (`src/script/generic.hpp`), <https://github.com/ElementsProject/
elements>:

- The signed message is the block hash (`SerializeHash` of the header, which leaves out the
  legacy `solution` and the dynafed `signblock_witness`), in internal byte order.
- Legacy headers: the `solution` is a push-only scriptSig evaluated against the network's
  signblockscript (the header's `challenge` must be it); signatures carry no sighash byte; the
  solution may not exceed the chain's `max_block_signature_size`.
- Dynafed headers: the signblockscript of the header's current parameters is the scriptPubKey
  and `signblock_witness` its witness (P2WSH: signatures with a SIGHASH_ALL byte, then the
  witness script whose sha256 is the program); the witness's serialized size may not exceed the
  parameters' `signblock_witness_limit`.
- Flags: P2SH, STRICTENC, NULLDUMMY, CLEANSTACK, MINIMALDATA, SIGPUSHONLY, LOW_S, WITNESS.
  CHECKLOCKTIMEVERIFY and CHECKSEQUENCEVERIFY are not among them, so in a block proof they are
  the NOPs they were before BIP 65/112.

Only the script subset block signing uses is interpreted (pushes, OP_n, IF/NOTIF/ELSE/ENDIF,
VERIFY, DROP, CHECKSIG(VERIFY), CHECKMULTISIG(VERIFY), the two timelock NOPs); any other opcode
is refused with BadBlockSignature rather than guessed at.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Final

import attrs

from ._encoding import compact_size
from ._errors import BadBlockSignature, LwkError
from ._hashes import sha256
from ._header import BlockHeader
from ._network import Network
from ._secp import get_secp

__all__ = ["Federation", "p2wsh", "pinned_federation", "verify_header"]

_OP_0: Final = 0x00
_OP_PUSHDATA1: Final = 0x4C
_OP_PUSHDATA2: Final = 0x4D
_OP_PUSHDATA4: Final = 0x4E
_OP_1NEGATE: Final = 0x4F
_OP_1: Final = 0x51
_OP_16: Final = 0x60
_OP_NOP: Final = 0x61
_OP_IF: Final = 0x63
_OP_NOTIF: Final = 0x64
_OP_ELSE: Final = 0x67
_OP_ENDIF: Final = 0x68
_OP_VERIFY: Final = 0x69
_OP_DROP: Final = 0x75
_OP_CHECKSIG: Final = 0xAC
_OP_CHECKSIGVERIFY: Final = 0xAD
_OP_CHECKMULTISIG: Final = 0xAE
_OP_CHECKMULTISIGVERIFY: Final = 0xAF
_OP_CLTV: Final = 0xB1
_OP_CSV: Final = 0xB2

_SIGHASH_ALL: Final = 0x01
_MAX_ELEMENT: Final = 520  # MAX_SCRIPT_ELEMENT_SIZE (Bitcoin's src/script/script.h)
_MAX_OPS: Final = 201  # MAX_OPS_PER_SCRIPT
_MAX_PUBKEYS: Final = 20  # MAX_PUBKEYS_PER_MULTISIG
_MAX_STACK: Final = 1000  # MAX_STACK_SIZE
_MAX_WITNESS_SCRIPT: Final = 10_000  # MAX_SCRIPT_SIZE

_Stack = list[bytes]


def _fail(why: str) -> BadBlockSignature:
    return BadBlockSignature(f"block signature invalid: {why}")


def p2wsh(witness_script: bytes) -> bytes:
    """The P2WSH scriptPubKey (`OP_0 <sha256(script)>`) of a witness script."""
    return b"\x00\x20" + sha256(witness_script)


def _script_set(scripts: Iterable[bytes]) -> frozenset[bytes]:
    return frozenset(bytes(s) for s in scripts)


@attrs.frozen
class Federation:
    """Who may sign blocks: the signblockscripts trusted, and the legacy solution size limit.

    A signblockscript is a header's legacy `challenge`, or the scriptPubKey in its dynafed
    current parameters (for Liquid, the P2WSH of the federation's multisig script).
    `Federation.of(script)` trusts a script both ways. `follow(header)` adds the parameters a
    verified header proposes (see there).
    """

    signblockscripts: frozenset[bytes] = attrs.field(converter=_script_set)
    max_legacy_solution: int = 1416

    @classmethod
    def of(cls, script: bytes, *, max_legacy_solution: int = 1416) -> Federation:
        """Trust `script` as a legacy challenge and, wrapped in P2WSH, as dynafed params."""
        return cls(frozenset({bytes(script), p2wsh(script)}), max_legacy_solution)

    def trusts(self, signblockscript: bytes) -> bool:
        return signblockscript in self.signblockscripts

    def follow(self, header: BlockHeader) -> Federation:
        """Verify `header`, then trust the full parameters it proposes, if any.

        A dynafed transition is proposed in headers the current federation signs and takes
        effect at the next epoch start whose header carries the new parameters in full
        (Elements' `ComputeNextBlockFullCurrentParameters`, `src/dynafed.cpp`). A client that
        does not track whole epochs accepts the trusted federation's signed proposal as the
        proof of the transition: the proposed signers become trusted too.
        """
        verify_header(header, self)
        proposed = header.proposed_params
        if proposed is None or not proposed.is_full or self.trusts(proposed.signblockscript):
            return self
        return attrs.evolve(
            self, signblockscripts=self.signblockscripts | {proposed.signblockscript}
        )


# Liquid v1 (mainnet): the 11-of-15 block signers' script from Elements' chainparams
# (`CLiquidV1Params`, `consensus.signblockscript`, with `max_block_signature_size =
# 12*74+16*33` = 1416), the same script the dynafed headers since height 1517040 carry as the
# P2WSH `0020e51211e9...d91c` with signblock_witness_limit 1416 (e.g. block 1585319).
_LIQUID_SIGNERS: Final = bytes.fromhex(
    "5b21026a2a106ec32c8a1e8052e5d02a7b0a150423dbd9b116fc48d46630ff6e6a05b92102791646a8b49c2740"
    "352b4495c118d876347bf47d0551c01c4332fdc2df526f1a2102888bda53a424466b0451627df22090143bbf7c"
    "060e9eacb1e38426f6b07f2ae12102aee8967150dee220f613de3b239320355a498808084a93eaf39a34dcd620"
    "24852102d46e9259d0a0bb2bcbc461a3e68f34adca27b8d08fbe985853992b4b104e27412102e9944e35e5750a"
    "b621e098145b8e6cf373c273b7c04747d1aa020be0af40ccd62102f9a9d4b10a6d6c56d8c955c547330c589bb4"
    "5e774551d46d415e51cd9ad5116321033b421566c124dfde4db9defe4084b7aa4e7f36744758d92806b8f72c2e"
    "943309210353dcc6b4cf6ad28aceb7f7b2db92a4bf07ac42d357adf756f3eca790664314b621037f55980af045"
    "5e4fb55aad9b85a55068bb6dc4740ea87276dc693f4598db45fa210384001daa88dabd23db878dbb1ce5b4c2a5"
    "fa72c3113e3514bf602325d0c37b8e21039056d089f2fe72dbc0a14780b4635b0dc8a1b40b7a59106325dd1bc4"
    "5cc70493210397ab8ea7b0bf85bc7fc56bb27bf85e75502e94e76a6781c409f3f2ec3d1122192103b00e3b5b77"
    "884bf3cae204c4b4eac003601da75f96982ffcb3dcb29c5ee419b92103c1f3c0874cfe34b8131af34699589aac"
    "ec4093399739ae352e8a46f80a6f68375fae"
)
# Liquid testnet: a 1-of-1 multisig, the `signblockscript` and `con_max_block_sig_size=150` of
# the public liquidtestnet configuration (as rust-elements' `NetworkParams::liquidtestnet`
# and Blockstream's electrs docs give it); its dynafed headers carry the P2WSH with limit 150.
_TESTNET_SIGNERS: Final = bytes.fromhex(
    "51210217e403ddb181872c32a0cd468c710040b2f53d8cac69f18dad07985ee37e9a7151ae"
)
_PINNED: Final = {
    Network.LIQUID: Federation.of(_LIQUID_SIGNERS, max_legacy_solution=1416),
    Network.LIQUID_TESTNET: Federation.of(_TESTNET_SIGNERS, max_legacy_solution=150),
}


def pinned_federation(network: Network | None) -> Federation | None:
    """The block signers trusted for `network` by default: those pinned for Liquid and Liquid
    testnet, else None (a regtest or custom chain's signers are the caller's to give).

    `LWK_BLOCK_SIGNERS=network=script_hex[,network=script_hex...]` replaces them, e.g. for a
    future federation, a custom chain or a test chain posing as a network; `network=off`
    turns the check off for that network. Each script is trusted as a legacy challenge and
    as its P2WSH (`Federation.of`).
    """
    if network is None:
        return None
    override = _from_env(os.environ.get("LWK_BLOCK_SIGNERS", ""))
    if network in override:
        return override[network]
    return _PINNED.get(network)


def _from_env(text: str) -> dict[Network, Federation | None]:
    entries: dict[Network, Federation | None] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = entry.partition("=")
        try:
            network = Network.from_name(name)
            script = None if value.strip().lower() == "off" else bytes.fromhex(value)
        except ValueError as exc:
            raise LwkError(f"LWK_BLOCK_SIGNERS: {entry!r} is not network=script_hex") from exc
        if not sep or script == b"":
            raise LwkError(f"LWK_BLOCK_SIGNERS: {entry!r} is not network=script_hex")
        entries[network] = None if script is None else Federation.of(script)
    return entries


def verify_header(header: BlockHeader, federation: Federation) -> None:
    """Raise BadBlockSignature unless the federation signed `header`."""
    message = bytes.fromhex(header.block_hash)[::-1]
    params = header.current_params
    if header.is_dynafed:
        if params is None:
            raise _fail("a dynafed header without current parameters")
        if not federation.trusts(params.signblockscript):
            raise _fail("the header's signblockscript is not the trusted federation's")
        witness = header.signblock_witness
        size = _serialized_size(witness)
        if size > params.signblock_witness_limit:
            raise _fail(f"witness of {size} bytes over the limit {params.signblock_witness_limit}")
        _verify_witness(params.signblockscript, witness, message)
        return
    if not federation.trusts(header.challenge):
        raise _fail("the header's challenge is not the trusted federation's")
    if len(header.solution) > federation.max_legacy_solution:
        raise _fail(f"solution of {len(header.solution)} bytes over the limit")
    stack: _Stack = []
    _Interpreter(message, sighash_byte=False).run(header.solution, stack, push_only=True)
    _Interpreter(message, sighash_byte=False).run(header.challenge, stack)
    _clean_true(stack)


def _serialized_size(witness: Sequence[bytes]) -> int:
    """CScriptWitness::GetSerializedSize: the item count and each item, length-prefixed."""
    return len(compact_size(len(witness))) + sum(
        len(compact_size(len(w))) + len(w) for w in witness
    )


def _verify_witness(script_pubkey: bytes, witness: Sequence[bytes], message: bytes) -> None:
    """VerifyScript with an empty scriptSig and a witness (BIP 141 rules for version 0)."""
    if len(script_pubkey) == 34 and script_pubkey[:2] == b"\x00\x20":
        if not witness:
            raise _fail("empty witness for a P2WSH signblockscript")
        witness_script, stack = witness[-1], list(witness[:-1])
        if len(witness_script) > _MAX_WITNESS_SCRIPT:
            raise _fail("witness script too large")
        if sha256(witness_script) != script_pubkey[2:]:
            raise _fail("the witness script does not hash to the signblockscript")
        if any(len(item) > _MAX_ELEMENT for item in stack):
            raise _fail("witness item over 520 bytes")
        _Interpreter(message, sighash_byte=True).run(witness_script, stack)
        _clean_true(stack)
        return
    if _is_witness_program(script_pubkey):
        raise _fail("only P2WSH witness programs are supported as signblockscripts")
    if witness:
        raise _fail("a witness for a signblockscript that is not a witness program")
    stack = []
    _Interpreter(message, sighash_byte=True).run(script_pubkey, stack)
    _clean_true(stack)


def _is_witness_program(script: bytes) -> bool:
    """BIP 141: a version opcode (OP_0, OP_1..OP_16) and one direct push of 2 to 40 bytes."""
    return (
        4 <= len(script) <= 42
        and (script[0] == _OP_0 or _OP_1 <= script[0] <= _OP_16)
        and script[1] + 2 == len(script)
    )


def _clean_true(stack: _Stack) -> None:
    """CLEANSTACK: exactly one element left, and it is true."""
    if len(stack) != 1 or not _truthy(stack[0]):
        raise _fail("the script does not end with exactly one true element")


def _truthy(item: bytes) -> bool:
    """CastToBool: false is any encoding of zero, negative zero included."""
    return any(item[:-1]) or (len(item) > 0 and item[-1] not in (0, 0x80))


def _ops(script: bytes) -> Iterable[tuple[int, bytes | None]]:
    """(opcode, pushed data or None) for each operation; pushes must be minimal."""
    i = 0
    while i < len(script):
        op = script[i]
        i += 1
        if op > _OP_PUSHDATA4 or op == _OP_0:
            yield op, (b"" if op == _OP_0 else None)
            continue
        if op < _OP_PUSHDATA1:
            size, width = op, 0
        else:
            width = {_OP_PUSHDATA1: 1, _OP_PUSHDATA2: 2, _OP_PUSHDATA4: 4}[op]
            if i + width > len(script):
                raise _fail("truncated push")
            size = int.from_bytes(script[i : i + width], "little")
        i += width
        data = script[i : i + size]
        if len(data) != size:
            raise _fail("truncated push")
        i += size
        if not _minimal_push(op, data):
            raise _fail("a push that is not minimal (MINIMALDATA)")
        yield op, data


def _minimal_push(op: int, data: bytes) -> bool:
    """BIP 62's minimal push rule (Bitcoin's CheckMinimalPush)."""
    if len(data) == 0:
        return op == _OP_0
    if len(data) == 1 and (1 <= data[0] <= 16 or data[0] == 0x81):
        return False  # should have been OP_1..OP_16 / OP_1NEGATE
    if len(data) <= 75:
        return op == len(data)
    if len(data) <= 255:
        return op == _OP_PUSHDATA1
    if len(data) <= 65535:
        return op == _OP_PUSHDATA2
    return True


def _small_int(item: bytes, what: str) -> int:
    """A minimally encoded script number of up to 4 bytes (CScriptNum with MINIMALDATA)."""
    if len(item) > 4:
        raise _fail(f"{what} is not a small number")
    if item and (item[-1] & 0x7F) == 0 and (len(item) == 1 or not item[-2] & 0x80):
        raise _fail(f"{what} is not minimally encoded")
    value = int.from_bytes(item, "little")
    if item and item[-1] & 0x80:
        value = -(value & ~(0x80 << (8 * (len(item) - 1))))
    return value


def _strict_der(sig: bytes) -> bool:
    """BIP 66's strict DER rule for a signature followed by a one-byte sighash type."""
    n = len(sig)
    if not 9 <= n <= 73 or sig[0] != 0x30 or sig[1] != n - 3:
        return False
    len_r = sig[3]
    if 5 + len_r >= n:
        return False
    len_s = sig[5 + len_r]
    if len_r + len_s + 7 != n or sig[2] != 0x02 or len_r == 0 or sig[4] & 0x80:
        return False
    if len_r > 1 and sig[4] == 0 and not sig[5] & 0x80:
        return False
    if sig[len_r + 4] != 0x02 or len_s == 0 or sig[len_r + 6] & 0x80:
        return False
    return not (len_s > 1 and sig[len_r + 6] == 0 and not sig[len_r + 7] & 0x80)


class _Interpreter:
    """Runs one script of the supported subset over a stack, checking signatures of one
    message the way SimpleSignatureChecker does."""

    def __init__(self, message: bytes, *, sighash_byte: bool) -> None:
        self.message = message
        self.sighash_byte = sighash_byte

    def check_sig(self, sig: bytes, pubkey: bytes) -> bool:
        """STRICTENC and LOW_S encoding checks (a violation fails the whole proof), then the
        signature; an empty signature is just false."""
        if not sig:
            return False
        der, hashtype = (sig[:-1], sig[-1]) if self.sighash_byte else (sig, _SIGHASH_ALL)
        if not _strict_der(der + bytes([hashtype])):
            raise _fail("a signature that is not strict DER")
        if self.sighash_byte and not 1 <= (hashtype & 0x7F) <= 3:
            raise _fail("a signature with an undefined sighash type")
        if len(pubkey) not in (33, 65) or pubkey[0] not in ((2, 3) if len(pubkey) == 33 else (4,)):
            raise _fail("a public key that is neither compressed nor uncompressed")
        ok = get_secp().ecdsa_verify(der, self.message, pubkey)
        if ok is None:
            raise _fail("a high-S signature or an invalid public key")
        return ok and hashtype == _SIGHASH_ALL  # the checker accepts SIGHASH_ALL only

    def run(self, script: bytes, stack: _Stack, *, push_only: bool = False) -> None:
        executing: list[bool] = []
        op_count = 0
        for op, data in _ops(script):
            live = all(executing)
            if op > _OP_16:
                op_count += 1
                if op_count > _MAX_OPS:
                    raise _fail("too many operations")
            if push_only and op > _OP_16:
                raise _fail("the solution is not push-only (SIGPUSHONLY)")
            if data is not None:
                if len(data) > _MAX_ELEMENT:
                    raise _fail("push over 520 bytes")
                if live:
                    stack.append(data)
            elif op in (_OP_IF, _OP_NOTIF):
                value = False
                if live:
                    value = _truthy(self._pop(stack)) == (op == _OP_IF)
                executing.append(value)
            elif op == _OP_ELSE:
                if not executing:
                    raise _fail("ELSE without IF")
                executing[-1] = not executing[-1]
            elif op == _OP_ENDIF:
                if not executing:
                    raise _fail("ENDIF without IF")
                executing.pop()
            elif not live:
                continue
            elif op == _OP_1NEGATE or _OP_1 <= op <= _OP_16:
                stack.append(b"\x81" if op == _OP_1NEGATE else bytes([op - _OP_1 + 1]))
            elif op in (_OP_NOP, _OP_CLTV, _OP_CSV):
                pass
            elif op == _OP_VERIFY:
                if not _truthy(self._pop(stack)):
                    raise _fail("VERIFY failed")
            elif op == _OP_DROP:
                self._pop(stack)
            elif op in (_OP_CHECKSIG, _OP_CHECKSIGVERIFY):
                pubkey, sig = self._pop(stack), self._pop(stack)
                self._result(stack, self.check_sig(sig, pubkey), op == _OP_CHECKSIGVERIFY)
            elif op in (_OP_CHECKMULTISIG, _OP_CHECKMULTISIGVERIFY):
                ok, keys = self._multisig(stack)
                op_count += keys
                if op_count > _MAX_OPS:
                    raise _fail("too many operations")
                self._result(stack, ok, op == _OP_CHECKMULTISIGVERIFY)
            else:
                raise _fail(f"opcode 0x{op:02x} is outside the block-signing subset we check")
            if len(stack) > _MAX_STACK:
                raise _fail("stack overflow")
        if executing:
            raise _fail("IF without ENDIF")

    @staticmethod
    def _pop(stack: _Stack) -> bytes:
        if not stack:
            raise _fail("stack underflow")
        return stack.pop()

    @staticmethod
    def _result(stack: _Stack, ok: bool, verify: bool) -> None:
        if verify:
            if not ok:
                raise _fail("signature check failed")
        else:
            stack.append(b"\x01" if ok else b"")

    def _multisig(self, stack: _Stack) -> tuple[bool, int]:
        """OP_CHECKMULTISIG: signatures must match the keys in order (NULLDUMMY)."""
        n = _small_int(self._pop(stack), "the key count")
        if not 0 <= n <= _MAX_PUBKEYS:
            raise _fail("bad key count")
        # Popped top first, as Bitcoin's interpreter walks them: last key and last signature
        # first; in-order matching is the same from either end.
        keys = [self._pop(stack) for _ in range(n)]
        m = _small_int(self._pop(stack), "the signature count")
        if not 0 <= m <= n:
            raise _fail("bad signature count")
        sigs = [self._pop(stack) for _ in range(m)]
        if self._pop(stack):
            raise _fail("CHECKMULTISIG dummy is not empty (NULLDUMMY)")
        isig = ikey = 0
        while isig < m:
            if m - isig > n - ikey:
                return False, n
            if self.check_sig(sigs[isig], keys[ikey]):
                isig += 1
            ikey += 1
        return True, n
