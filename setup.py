"""The optional C extension of lwk-core (everything else is in pyproject.toml).

`lwk_core._prover_stream` replays range-proof random streams with OpenSSL's SHA-256; when it
cannot be built (no compiler, no OpenSSL headers), lwk-core installs without it and computes
the same streams in Python (lwk_core/_rangeproof.py), about five times slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "lwk_core._prover_stream",
            sources=["lwk_core/_prover_stream.c"],
            libraries=["crypto"],
            optional=True,
        )
    ]
)
