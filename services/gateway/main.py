"""Wiring of the gateway (gRPC pass-through with API keys and rate limits)."""

from __future__ import annotations

from grpc import aio
from prometheus_client import CollectorRegistry

from services.common.features.store import RedisFeatureStore
from services.common.server import ServiceSpec, run
from services.common.settings import GatewaySettings, ServerSettings, load_settings
from services.gateway.keys import KeyStore
from services.gateway.proxy import Gateway


async def build_spec(
    settings: ServerSettings, registry: CollectorRegistry | None = None
) -> ServiceSpec:
    assert isinstance(settings, GatewaySettings)
    store = RedisFeatureStore.from_settings(settings)
    gateway = Gateway(settings, KeyStore(store))

    def register(server: aio.Server) -> None:
        server.add_generic_rpc_handlers((gateway,))

    async def ready() -> bool:
        return store.ping()

    async def close() -> None:
        await gateway.close()
        store.close()

    return ServiceSpec(
        "gateway",
        [
            "augur.churn.v1.ChurnService",
            "augur.recommend.v1.RecommendService",
            "augur.contact.v1.ContactService",
            "augur.features.v1.FeatureService",
        ],
        register,
        ready,
        close,
    )


def serve() -> None:
    """Entry point of `augur serve gateway`."""
    run(load_settings(GatewaySettings), build_spec, "gateway")
