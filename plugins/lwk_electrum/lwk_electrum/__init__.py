"""lwk-electrum: the Electrum backend of lwk-core (schemes tcp:// and ssl://)."""

import logging

from ._async_client import AsyncElectrumClient
from ._client import ElectrumClient
from ._errors import ElectrumError

__version__ = "0.1.0"

# the application configures logging: nothing on stderr until it does
logging.getLogger("lwk_electrum").addHandler(logging.NullHandler())

__all__ = ["AsyncElectrumClient", "ElectrumClient", "ElectrumError"]

ElectrumError.__module__ = __name__  # shown as lwk_electrum.ElectrumError
