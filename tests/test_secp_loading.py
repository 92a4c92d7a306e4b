"""Finding embit's libsecp256k1-zkp does not depend on embit's private attributes alone."""

from __future__ import annotations

import os
import platform

import pytest
from embit.util import ctypes_secp256k1 as embit_secp

from lwk_core import LwkError, _secp

# secp256k1's generator, compressed (SEC 2, section 2.4.1)
G = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"


def test_without_embits_private_handle_the_shipped_library_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded = embit_secp._secp._name
    monkeypatch.setattr(embit_secp, "_secp", object())  # a release that renamed it
    assert os.path.samefile(_secp._embit_library(), loaded)
    monkeypatch.setattr(_secp, "_secp", None)
    secp = _secp.get_secp()
    assert secp.serialize(secp.times_g(1)).hex() == G  # the binding works


def test_a_missing_library_is_one_clear_lwk_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embit_secp, "_secp", object())
    monkeypatch.setattr(platform, "machine", lambda: "z80")
    monkeypatch.setattr(_secp, "_secp", None)
    with pytest.raises(LwkError, match=r"unavailable: .*prebuilt/libsecp256k1_\w+_z80") as info:
        _secp.get_secp()
    assert "embit installed, in a version lwk-core supports" in str(info.value)
