"""Wiring of the recommendation service."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from grpc import aio
from prometheus_client import CollectorRegistry

from augur.common.errors import Unavailable
from augur.common.models import ModelWatcher
from augur.common.server import ServiceSpec, run
from augur.common.settings import RecommendSettings, ServerSettings, load_settings
from augur.features.store import RedisFeatureStore
from augur.recommend.additions import REFRESH_SECONDS
from augur.recommend.core import RecommendCore
from augur.recommend.index import RecommendIndex
from augur.recommend.model import RecommendModel
from augur.recommend.servicer import RecommendServicer
from augur.recommend.v1 import recommend_pb2_grpc

MODEL_NAME = "augur-recommend"


def load_index(path: Path, compile_ranker: bool = False) -> RecommendIndex:
    """A registered model's artefact, ready to query; with ``compile_ranker`` its rankers
    compiled to native code before it serves (in the watcher's worker: the model serving until
    then goes on serving; the compiled library is cached beside the artefact, so a restart
    loads it in a fraction of a second)."""
    index = RecommendIndex(RecommendModel.load(path))
    if compile_ranker:
        index.compile_ranker(path)
    return index


async def build_spec(
    settings: ServerSettings, registry: CollectorRegistry | None = None
) -> ServiceSpec:
    assert isinstance(settings, RecommendSettings)
    store = RedisFeatureStore.from_settings(settings)
    watcher = ModelWatcher.for_service(
        MODEL_NAME,
        lambda path: load_index(path, settings.recommend_compile_ranker),
        settings,
        "recommend",
        registry,
    )
    await watcher.refresh()
    core = RecommendCore(store, watcher, settings)
    servicer = RecommendServicer(core, watcher)

    async def additions() -> None:
        """The catalogue's additions, read in the background (nothing per request)."""
        while settings.recommend_new_item_slots:
            with contextlib.suppress(Unavailable):  # Redis away: the copy so far serves
                await asyncio.to_thread(core.additions.refresh, store)
            await asyncio.sleep(REFRESH_SECONDS)

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
        background=[watcher.watch, additions],
    )


def serve() -> None:
    """Entry point of `augur serve recommend`."""
    run(load_settings(RecommendSettings), build_spec, "recommend")
