"""The error contract a user relies on: typed errors, under the module they import them from,
for bad arguments as for failures."""

from __future__ import annotations

import importlib
import math
from importlib.metadata import version

import pytest
from lwk_regtest.testing import new_wallet_descriptor

import lwk_core
from lwk_core import (
    AllBackendsFailed,
    BackendChain,
    BackendConnectError,
    Chain,
    DescriptorError,
    InvalidArgument,
    LwkError,
    Network,
    UpdateError,
    Wollet,
    WolletDescriptor,
)
from lwk_core.cli import main

PUBLIC_MODULES = [
    "lwk_core",
    "lwk_core.plugin",
    "lwk_core.regtest",
    "lwk_electrum",
    "lwk_esplora",
    "lwk_regtest",
]
NET = Network.ELEMENTS_REGTEST
DESCRIPTOR = WolletDescriptor(new_wallet_descriptor(b"error contract"))


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_exception_shows_under_a_public_module(module_name: str) -> None:
    module = importlib.import_module(module_name)
    errors = [
        value
        for value in (getattr(module, name) for name in module.__all__)
        if isinstance(value, type) and issubclass(value, BaseException)
    ]
    private = {e.__qualname__: e.__module__ for e in errors if "._" in f".{e.__module__}"}
    assert private == {}


def test_lwk_core_errors_show_as_lwk_core() -> None:
    assert repr(AllBackendsFailed([])).startswith("AllBackendsFailed(")
    assert f"{LwkError.__module__}.{LwkError.__qualname__}" == "lwk_core.LwkError"


def test_the_version_has_one_source() -> None:
    assert version("lwk-core") == lwk_core.__version__


def test_lwk_version_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"lwk-core {lwk_core.__version__}\n"


def test_apply_update_none_is_a_typed_error_that_says_why() -> None:
    wollet = Wollet(NET, DESCRIPTOR)
    before = wollet.state
    with pytest.raises(UpdateError, match=r"takes an Update, not NoneType .*if update:"):
        wollet.apply_update(None)  # type: ignore[arg-type]
    assert wollet.state is before


@pytest.mark.parametrize("cooldown", [-1.0, -0.001, math.nan])
def test_a_cooldown_must_be_a_non_negative_number(cooldown: float) -> None:
    with pytest.raises(InvalidArgument, match="cooldown"):
        BackendChain(["tcp://127.0.0.1:9"], network=NET, cooldown=cooldown)


@pytest.mark.parametrize(
    "backends, private, match",
    [
        ([], 0, "at least one backend"),
        (["tcp://127.0.0.1:9"], 2, "private"),
        (["tcp://127.0.0.1:9"], -1, "private"),
    ],
)
def test_a_chain_checks_its_shape(backends: list[str], private: int, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        BackendChain(backends, network=NET, private=private)


def test_an_unknown_network_name_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match="unknown network 'liquidv2'"):
        Network.from_name("liquidv2")


@pytest.mark.parametrize("index", [-1, 2**31, 2**64])
def test_an_index_out_of_range_is_a_descriptor_error_wherever_it_is_given(index: int) -> None:
    with pytest.raises(DescriptorError, match="out of range"):
        Wollet(NET, DESCRIPTOR).address(index)
    with pytest.raises(DescriptorError, match="out of range"):
        DESCRIPTOR.address(Chain.EXTERNAL, index, NET)
    with pytest.raises(DescriptorError, match="out of range"):
        DESCRIPTOR.script_pubkey(Chain.INTERNAL, index)


def test_invalid_arguments_are_lwk_errors_and_value_errors() -> None:
    assert issubclass(InvalidArgument, LwkError) and issubclass(InvalidArgument, ValueError)


def test_all_backends_failed_holds_typed_causes() -> None:
    cause = BackendConnectError("refused", backend="tcp://a:1")
    error = AllBackendsFailed([("tcp://a:1", cause)])
    assert error.causes == [("tcp://a:1", cause)]
    assert str(error) == "all 1 backends failed (tcp://a:1: BackendConnectError: refused)"
