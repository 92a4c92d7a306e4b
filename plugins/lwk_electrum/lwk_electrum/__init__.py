"""lwk-electrum: the Electrum backend of lwk-core (schemes tcp:// and ssl://)."""

from ._async_client import AsyncElectrumClient
from ._client import ElectrumClient
from ._errors import ElectrumError

__version__ = "0.1.0"

__all__ = ["AsyncElectrumClient", "ElectrumClient", "ElectrumError"]
