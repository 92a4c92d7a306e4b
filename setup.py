"""The optional C extension of lwk-core (everything else is in pyproject.toml).

`lwk_core._native` replays range-proof random streams with OpenSSL's SHA-256 and unblinds
outputs through embit's libsecp256k1-zkp (loaded at run time); when it cannot be built (no
compiler, no OpenSSL headers), lwk-core installs without it and computes the same in Python
(lwk_core/_rangeproof.py, lwk_core/_unblind.py), about three times slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "lwk_core._native",
            sources=["lwk_core/_native.c"],
            libraries=["crypto", "dl"],
            optional=True,
        )
    ]
)
