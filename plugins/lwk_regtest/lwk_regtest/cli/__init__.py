"""`lwk regtest serve|faucet|mine|tip` and `lwk demo`, added to the `lwk` command line
through the entry-point group `lwk.commands` (each module's `register`)."""
