"""LWK's side of the comparison: the `lwk` 0.19 wheel. It never imports lwk-core, so a memory
child measuring it holds only LWK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import lwk

if TYPE_CHECKING:  # at run time _server would import lwk_regtest into the memory child
    from ._server import Backend

__all__ = ["Lwk"]


class Lwk:
    """LWK 0.19 through its Python bindings; `esplora_concurrency` None is its default client."""

    name = "lwk"

    def __init__(self, esplora_concurrency: int | None = None) -> None:
        self.network = lwk.Network.regtest_default()
        self.esplora_concurrency = esplora_concurrency

    def new_wollet(self, descriptor: str) -> Any:
        return lwk.Wollet(self.network, lwk.WolletDescriptor(descriptor), None)

    def new_client(self, backend: Backend, url: str) -> Any:
        if backend == "electrum":
            return lwk.ElectrumClient.from_url(url)
        if backend == "waterfalls":
            return lwk.WaterfallsClient(url.removeprefix("waterfalls+"), self.network)
        if self.esplora_concurrency is None:
            return lwk.EsploraClient(url, self.network)
        builder = lwk.EsploraClientBuilder(
            base_url=url, network=self.network, concurrency=self.esplora_concurrency
        )
        return lwk.EsploraClient.from_builder(builder)

    def scan(self, client: Any, wollet: Any) -> None:
        update = client.full_scan(wollet)
        if update is not None:
            wollet.apply_update(update)

    def tx_count(self, wollet: Any) -> int:
        return len(wollet.transactions())

    def close(self, client: Any) -> None:
        """Nothing to do: LWK's clients close their connections when dropped."""
