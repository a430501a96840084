"""Wiring of the churn service."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis
from grpc import aio
from prometheus_client import CollectorRegistry, Gauge

from augur.churn.core import ChurnCore
from augur.churn.model import ChurnModel
from augur.churn.servicer import ChurnServicer
from augur.churn.snapshot import RedisSnapshots
from augur.churn.v1 import churn_pb2_grpc
from augur.common.models import ModelWatcher
from augur.common.server import ServiceSpec, run
from augur.common.settings import ChurnSettings, ServerSettings, load_settings
from augur.features.store import RedisFeatureStore

MODEL_NAME = "augur-churn"
DRIFT_SECONDS = 30.0


async def build_spec(
    settings: ServerSettings, registry: CollectorRegistry | None = None
) -> ServiceSpec:
    assert isinstance(settings, ChurnSettings)
    store = RedisFeatureStore.from_settings(settings)
    watcher = ModelWatcher.for_service(MODEL_NAME, ChurnModel.load, settings, "churn", registry)
    await watcher.refresh()
    snapshots = RedisSnapshots(store.client, store.keys)
    servicer = ChurnServicer(ChurnCore(store, snapshots, watcher, settings), watcher)

    def register(server: aio.Server) -> None:
        churn_pb2_grpc.add_ChurnServiceServicer_to_server(servicer, server)

    async def ready() -> bool:
        return watcher.current is not None and store.ping()

    async def close() -> None:
        store.close()

    drift = Gauge(
        "augur_prediction_drift_psi",
        "Population stability index, training vs serving, of the last drift report "
        "(augur retrain), per feature and for the score.",
        ["feature"],
        registry=registry,
    )

    async def export_drift() -> None:
        while True:
            with contextlib.suppress(redis.exceptions.RedisError):
                raw: Any = await asyncio.to_thread(store.client.hgetall, store.keys.drift())
                for name, value in raw.items():
                    if not name.startswith(b"_"):
                        drift.labels(name.decode()).set(float(value))
            await asyncio.sleep(DRIFT_SECONDS)

    return ServiceSpec(
        "churn",
        ["augur.churn.v1.ChurnService"],
        register,
        ready,
        close,
        background=[watcher.watch, export_drift],
    )


def serve() -> None:
    """Entry point of `augur serve churn`."""
    run(load_settings(ChurnSettings), build_spec, "churn")
