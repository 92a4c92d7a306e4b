"""A payment monitor built on lwk-core's public API (an example service).

For each descriptor of a file it keeps a wallet synced through a failover chain of
backends, persisted in a datadir, and announces each new payment, confirmation, return to
the mempool and dropped transaction as one JSON object (printed, or POSTed to a URL).
"""

import logging

from ._changes import wallet_changes
from ._descriptors import read_descriptors
from ._monitor import Monitor
from ._sinks import PostSink, print_event

__all__ = ["Monitor", "PostSink", "print_event", "read_descriptors", "wallet_changes"]

# the application configures logging (`lwk-paymon` does): nothing on stderr until it does
logging.getLogger("lwk_paymon").addHandler(logging.NullHandler())
