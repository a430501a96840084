"""What every protocol shares: a data directory of the orders before the cutoff with its own
MLflow store, the trained model promoted (measured even when the gate refused it), and the
model's service running on features materialised as of the cutoff under a Redis key prefix
of its own, removed afterwards."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pandas as pd
import redis

from augur.common.server import AugurServer, ServiceSpec
from augur.common.settings import ModelServiceSettings, load_settings
from augur.devtools.evaluation.datasets import Shop
from augur.features.store import RedisFeatureStore
from augur.training import registry
from augur.training.offline.materialise import load_online
from augur.training.registry import TrainReport

S = TypeVar("S", bound=ModelServiceSettings)


@dataclass(frozen=True)
class Workspace:
    data: Path
    tracking_uri: str
    state: Path


def workspace(shop: Shop, folder: Path, cutoff: pd.Timestamp) -> Workspace:
    """A fresh folder: the orders before the cutoff, an empty MLflow store beside them."""
    shutil.rmtree(folder, ignore_errors=True)
    data = shop.write(folder / "data", before=cutoff)
    return Workspace(data, f"sqlite:///{folder / 'mlflow.db'}", folder / "state")


def serve_anyway(kind: str, report: TrainReport) -> None:
    """Promote a refused model: it is measured all the same; the table says what the gate
    decided."""
    if not report.promoted:
        registry.promote(registry.model_name(kind), report.version)


def forget_prefix(client: redis.Redis, prefix: str) -> None:
    """Delete every key under the prefix (the evaluation's own)."""
    keys = list(client.scan_iter(match=f"{prefix}*", count=10_000))
    for start in range(0, len(keys), 10_000):
        client.delete(*keys[start : start + 10_000])


@contextlib.asynccontextmanager
async def running(
    kind: type[S],
    build_spec: Callable[[S], Awaitable[ServiceSpec]],
    ws: Workspace,
    redis_url: str,
    cutoff: pd.Timestamp,
    **extra: Any,
) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to the model's service (real gRPC over a socket), on the features of the
    workspace's data as of the cutoff."""
    prefix = f"augur-eval-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        kind,
        redis_url=redis_url,
        redis_prefix=prefix,
        grpc_port=0,
        metrics_port=0,
        mlflow_tracking_uri=ws.tracking_uri,
        state_dir=ws.state,
        **extra,
    )
    client = redis.Redis.from_url(redis_url)
    try:
        store = RedisFeatureStore.from_settings(settings)
        load_online(ws.data, store, as_of=cutoff)
        store.close()
        server = AugurServer(settings, await build_spec(settings))
        port = await server.start(serve_metrics_endpoint=False)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield channel
        finally:
            await server.stop(0)
    finally:
        forget_prefix(client, prefix)
        client.close()
