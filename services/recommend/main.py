"""Wiring of the recommendation service."""

from __future__ import annotations

from pathlib import Path

from grpc import aio
from prometheus_client import CollectorRegistry

from augur.recommend.v1 import recommend_pb2_grpc
from services.common.features.store import RedisFeatureStore
from services.common.models import ModelWatcher
from services.common.server import ServiceSpec, run
from services.common.settings import RecommendSettings, ServerSettings, load_settings
from services.recommend.core import RecommendCore
from services.recommend.index import RecommendIndex
from services.recommend.model import RecommendModel
from services.recommend.servicer import RecommendServicer

MODEL_NAME = "augur-recommend"


def load_index(path: Path) -> RecommendIndex:
    """A registered model's artefact, ready to query."""
    return RecommendIndex(RecommendModel.load(path))


async def build_spec(
    settings: ServerSettings, registry: CollectorRegistry | None = None
) -> ServiceSpec:
    assert isinstance(settings, RecommendSettings)
    store = RedisFeatureStore.from_settings(settings)
    watcher = ModelWatcher.for_service(MODEL_NAME, load_index, settings, "recommend", registry)
    await watcher.refresh()
    servicer = RecommendServicer(RecommendCore(store, watcher, settings), watcher)

    def register(server: aio.Server) -> None:
        recommend_pb2_grpc.add_RecommendServiceServicer_to_server(servicer, server)

    async def ready() -> bool:
        return watcher.current is not None

    async def close() -> None:
        store.close()

    return ServiceSpec(
        "recommend",
        ["augur.recommend.v1.RecommendService"],
        register,
        ready,
        close,
        background=[watcher.watch],
    )


def serve() -> None:
    """Entry point of `augur serve recommend`."""
    run(load_settings(RecommendSettings), build_spec, "recommend")
