"""Our side of the comparison: lwk-core with the lwk-electrum, lwk-esplora and lwk-waterfalls
plugins. It never imports the `lwk` wheel, so a memory child measuring it holds only ours."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lwk_core import Client, Network, Wollet

if TYPE_CHECKING:  # at run time _server would import lwk_regtest into the memory child
    from ._server import Backend

__all__ = ["Ours"]


class Ours:
    """lwk-core with the lwk-electrum, lwk-esplora and lwk-waterfalls plugins (the latter
    sending the descriptor, as LWK's Waterfalls client does)."""

    name = "ours"

    def new_wollet(self, descriptor: str) -> Wollet:
        return Wollet(Network.ELEMENTS_REGTEST, descriptor)

    def new_client(self, backend: Backend, url: str) -> Client:
        # Each plugin imported when its backend is asked for, as a user who installed only
        # that one would: a memory child then holds no other plugin's modules.
        if backend == "electrum":
            from lwk_electrum import ElectrumClient

            # LWK proves no confirmation: SPV (on by default) is compared like with like
            # off here, and its own cost measured by `python -m benchmarks._spv`.
            return ElectrumClient.from_url(url, verify_merkle=False)
        if backend == "waterfalls":
            from lwk_waterfalls import WaterfallsClient

            return WaterfallsClient(url, Network.ELEMENTS_REGTEST, send_descriptor=True)
        from lwk_esplora import EsploraClient

        return EsploraClient(url, Network.ELEMENTS_REGTEST)

    def scan(self, client: Client, wollet: Wollet) -> None:
        update = client.full_scan(wollet)
        if update is not None:
            wollet.apply_update(update)

    def tx_count(self, wollet: Wollet) -> int:
        return len(wollet.transactions())

    def close(self, client: Client) -> None:
        client.close()
