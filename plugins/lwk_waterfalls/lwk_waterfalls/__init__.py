"""lwk-waterfalls: a Waterfalls backend for lwk-core (waterfalls+https:// URLs).

from lwk_core import Network
from lwk_waterfalls import WaterfallsClient

client = WaterfallsClient("waterfalls+https://waterfalls.liquidwebwallet.org/liquid/api",
                          Network.LIQUID, send_descriptor=True)
update = client.full_scan(wollet)   # one request for the whole wallet's histories

async with AsyncWaterfallsClient(url, Network.LIQUID, send_descriptor=True) as client:
    update = await client.full_scan(wollet)
"""

import logging

from ._client import AsyncWaterfallsClient, WaterfallsClient

__version__ = "0.1.0"

# the application configures logging: nothing on stderr until it does
logging.getLogger("lwk_waterfalls").addHandler(logging.NullHandler())

__all__ = ["AsyncWaterfallsClient", "WaterfallsClient"]
