"""Liquid networks and their constants (Elements' `src/kernel/chainparams.cpp`)."""

from __future__ import annotations

import enum

import attrs

from ._errors import InvalidArgument

__all__ = ["AddressParams", "Chain", "Network"]


@attrs.frozen
class AddressParams:
    """Address prefixes of one network."""

    p2pkh: int
    p2sh: int
    blinded: int
    hrp: str  # bech32 for unconfidential segwit addresses
    blech_hrp: str  # blech32 for confidential segwit addresses


class Chain(enum.IntEnum):
    """Which derivation chain of a wallet: receive (external) or change (internal)."""

    EXTERNAL = 0
    INTERNAL = 1


@attrs.frozen
class _NetworkParams:
    policy_asset: str
    genesis_hash: str
    address: AddressParams
    embit_name: str
    mainnet: bool


_PARAMS = {
    "liquid": _NetworkParams(
        policy_asset="6f0279e9ed041c3d710a9f57d0c02928416460c4b722ae3457a11eec381c526d",
        genesis_hash="1466275836220db2944ca059a3a10ef6fd2ea684b0688d2c379296888a206003",
        address=AddressParams(p2pkh=57, p2sh=39, blinded=12, hrp="ex", blech_hrp="lq"),
        embit_name="liquidv1",
        mainnet=True,
    ),
    "liquidtestnet": _NetworkParams(
        policy_asset="144c654344aa716d6f3abcc1ca90e5641e4e2a7f633bc09fe3baf64585819a49",
        genesis_hash="a771da8e52ee6ad581ed1e9a99825e5b3b7992225534eaa2ae23244fe26ab1c1",
        address=AddressParams(p2pkh=36, p2sh=19, blinded=23, hrp="tex", blech_hrp="tlq"),
        embit_name="liquidtestnet",
        mainnet=False,
    ),
    "elementsregtest": _NetworkParams(
        # LWK's `regtest_default`: the liquidregtest chain with default scripts.
        policy_asset="5ac9f65c0efcc4775e0baec4ec03abdde22473cd3cf33c0419ca290e0751b225",
        genesis_hash="00902a6b70c2ca83b5d9c815d96a0e2f4202179316970d14ea1847dae5b1ca21",
        address=AddressParams(p2pkh=235, p2sh=75, blinded=4, hrp="ert", blech_hrp="el"),
        embit_name="elementsregtest",
        mainnet=False,
    ),
}


class Network(enum.Enum):
    """A Liquid network. `Network.from_name` also accepts LWK's and Elements' spellings."""

    LIQUID = "liquid"
    LIQUID_TESTNET = "liquidtestnet"
    ELEMENTS_REGTEST = "elementsregtest"

    @property
    def _params(self) -> _NetworkParams:
        return _PARAMS[self.value]

    @property
    def policy_asset(self) -> str:
        """The L-BTC asset id (display hex)."""
        return self._params.policy_asset

    @property
    def genesis_hash(self) -> str:
        """The genesis block hash (display hex)."""
        return self._params.genesis_hash

    @property
    def address_params(self) -> AddressParams:
        return self._params.address

    @property
    def is_mainnet(self) -> bool:
        return self._params.mainnet

    @property
    def embit_name(self) -> str:
        """The key of this network in `embit.liquid.networks.NETWORKS`."""
        return self._params.embit_name

    @classmethod
    def from_genesis_hash(cls, genesis_hash: str) -> Network | None:
        """The network whose genesis block hashes to `genesis_hash`; None for another chain
        (a regtest chain of other parameters, or no Liquid network at all)."""
        return next((n for n in cls if n.genesis_hash == genesis_hash.lower()), None)

    @classmethod
    def from_name(cls, name: str) -> Network:
        """Parse a network name: liquid/mainnet, liquidtestnet/testnet, elementsregtest/regtest."""
        key = name.strip().lower().replace("-", "").replace("_", "")
        aliases = {
            "liquid": cls.LIQUID,
            "mainnet": cls.LIQUID,
            "liquidv1": cls.LIQUID,
            "liquidtestnet": cls.LIQUID_TESTNET,
            "testnet": cls.LIQUID_TESTNET,
            "elementsregtest": cls.ELEMENTS_REGTEST,
            "liquidregtest": cls.ELEMENTS_REGTEST,
            "regtest": cls.ELEMENTS_REGTEST,
            "regtestdefault": cls.ELEMENTS_REGTEST,
        }
        try:
            return aliases[key]
        except KeyError:
            known = ", ".join(n.value for n in cls)
            raise InvalidArgument(f"unknown network {name!r} (known: {known})") from None
