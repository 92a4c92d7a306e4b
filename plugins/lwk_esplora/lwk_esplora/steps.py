"""lwk-esplora's transport for plugins that speak another HTTP API over it (lwk-waterfalls).

Requests are steps without I/O (`Send` one request, `Each` several at once, a `Steps`
generator returning the answer; `EsploraSteps` holds Esplora's own); `EsploraBackend.run` and
`AsyncEsploraBackend.run` perform them with the client's retries, deadlines, proxy, TLS pins
and tokens (`Options`, the clients' keyword arguments). `stream()` opens a GET read as it
arrives (`Streamed`, `AsyncStreamed`: Server-Sent Events) over the same connections.
"""

from ._backend import AsyncEsploraBackend, EsploraBackend
from ._response import AsyncStreamed, Options, Streamed
from ._steps import Each, EsploraSteps, Send, Steps

__all__ = [
    "AsyncEsploraBackend",
    "AsyncStreamed",
    "Each",
    "EsploraBackend",
    "EsploraSteps",
    "Options",
    "Send",
    "Steps",
    "Streamed",
]
