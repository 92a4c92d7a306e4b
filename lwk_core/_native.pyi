# The C extension lwk_core/_native.c (optional: lwk_core/_rangeproof.py and _unblind.py fall back).

def prover_draws(seed: bytes, sizes: bytes, /) -> bytes: ...
def load(path: str, seed: bytes, /) -> None: ...
def unblind(
    nonce_commitment: bytes,
    key: bytes,
    value_commitment: bytes,
    asset_commitment: bytes,
    proof: bytes,
    extra: bytes,
    /,
) -> tuple[int, bytes, bytes] | int: ...
