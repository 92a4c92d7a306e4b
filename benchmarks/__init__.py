"""Benchmarks of lwk-core's sync against LWK 0.19 (the `lwk` wheel) on the embedded regtest chain.

Run `python -m benchmarks --help`. The chain and its servers run in a child process
(`lwk_regtest.Regtest(process=True)`) so that they never compete with the client being
timed; both clients are timed in the same run, on the same servers, and compared as ours/LWK
ratios.
"""

__all__: list[str] = []
