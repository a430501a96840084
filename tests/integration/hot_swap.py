"""Shared by the model services' tests: move the champion alias back and forth while
clients call, and report what they saw."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import mlflow
from mlflow import MlflowClient


async def swap_under_load(
    uri: str, name: str, version: str, call: Callable[[int], Awaitable[Any]]
) -> tuple[set[str], list[BaseException], str]:
    """Register a copy of ``version``, make it champion for 1.5 s and back, with 8 callers
    running ``call(i)`` for 4 s: (versions answered, failures, the copy's version).
    The copy is deleted afterwards."""
    # MLflow's registry looks the source model up through the *global* tracking URI, which
    # an earlier test may have pointed at another store
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    source = client.get_model_version(name, version)
    model_id = getattr(source, "model_id", None)
    if not model_id and source.source.startswith("models:/m-"):
        model_id = source.source.removeprefix("models:/")  # a tracking server asks for it
    copy = str(
        client.create_model_version(name, source.source, source.run_id, model_id=model_id).version
    )
    versions: set[str] = set()
    failures: list[BaseException] = []
    stop = time.monotonic() + 4

    async def caller(i: int) -> None:
        while time.monotonic() < stop:
            try:
                versions.add((await call(i)).model.version)
            except grpc.aio.AioRpcError as exc:
                failures.append(exc)

    async def operator() -> None:
        await asyncio.sleep(1)
        client.set_registered_model_alias(name, "champion", copy)
        await asyncio.sleep(1.5)
        client.set_registered_model_alias(name, "champion", version)

    await asyncio.gather(operator(), *(caller(i) for i in range(8)))
    client.delete_model_version(name, copy)
    return versions, failures, copy
