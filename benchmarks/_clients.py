"""The two implementations under test behind one interface: ours (lwk-core) and LWK's wheel."""

from __future__ import annotations

from typing import Any, Protocol

import lwk
from lwk_electrum import ElectrumClient
from lwk_esplora import EsploraClient
from lwk_waterfalls import WaterfallsClient

from lwk_core import Client, Network, Wollet

from ._server import Backend

__all__ = ["Impl", "Lwk", "Ours"]


class Impl(Protocol):
    """How a benchmark drives one implementation (client and wallet objects are opaque)."""

    name: str

    def new_wollet(self, descriptor: str) -> Any: ...
    def new_client(self, backend: Backend, url: str) -> Any: ...
    def scan(self, client: Any, wollet: Any) -> None: ...
    def tx_count(self, wollet: Any) -> int: ...
    def close(self, client: Any) -> None: ...


class Ours:
    """lwk-core with the lwk-electrum, lwk-esplora and lwk-waterfalls plugins (the latter
    sending the descriptor, as LWK's Waterfalls client does)."""

    name = "ours"

    def new_wollet(self, descriptor: str) -> Wollet:
        return Wollet(Network.ELEMENTS_REGTEST, descriptor)

    def new_client(self, backend: Backend, url: str) -> Client:
        if backend == "electrum":
            # LWK proves no confirmation: SPV (on by default) is compared like with like
            # off here, and its own cost measured by `python -m benchmarks._spv`.
            return ElectrumClient.from_url(url, verify_merkle=False)
        if backend == "waterfalls":
            return WaterfallsClient(url, Network.ELEMENTS_REGTEST, send_descriptor=True)
        return EsploraClient(url, Network.ELEMENTS_REGTEST)

    def scan(self, client: Client, wollet: Wollet) -> None:
        update = client.full_scan(wollet)
        if update is not None:
            wollet.apply_update(update)

    def tx_count(self, wollet: Wollet) -> int:
        return len(wollet.transactions())

    def close(self, client: Client) -> None:
        client.close()


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
