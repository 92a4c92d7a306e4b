"""lwk-esplora: an Esplora REST backend for lwk-core (http:// and https:// URLs).

from lwk_core import Network
from lwk_esplora import EsploraClient

client = EsploraClient("https://blockstream.info/liquidtestnet/api", Network.LIQUID_TESTNET)
update = client.full_scan(wollet)

async with AsyncEsploraClient("https://blockstream.info/liquidtestnet/api", network) as client:
    update = await client.full_scan(wollet)
"""

from ._client import AsyncEsploraClient, EsploraClient

__version__ = "0.1.0"

__all__ = ["AsyncEsploraClient", "EsploraClient"]
