"""lwk-waterfalls: a Waterfalls backend for lwk-core (waterfalls+https:// URLs).

from lwk_core import Network
from lwk_waterfalls import WaterfallsClient

client = WaterfallsClient("waterfalls+https://waterfalls.liquidwebwallet.org/liquid/api",
                          Network.LIQUID, send_descriptor=True)
update = client.full_scan(wollet)   # one request for the whole wallet's histories
"""

from ._client import WaterfallsClient

__version__ = "0.1.0"

__all__ = ["WaterfallsClient"]
