"""Conversions and RPC helpers shared by every servicer (timestamps, model info, batch chunks
off the event loop, model reload)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from augur.common.models import Loaded, ModelWatcher
from augur.common.v1 import common_pb2

T = TypeVar("T")


def timestamp(seconds: float) -> Timestamp:
    """A protobuf Timestamp from Unix seconds."""
    ts = Timestamp()
    whole = math.floor(seconds)
    ts.seconds, ts.nanos = int(whole), round((seconds - whole) * 1e9) % 1_000_000_000
    return ts


class ModelInfoCache:
    """The ModelInfo message of the served model, built once per loaded model."""

    def __init__(self, feature_set_version: Callable[[Any], int] = lambda model: 0) -> None:
        self.feature_set_version = feature_set_version
        self._cached: tuple[Loaded[Any], common_pb2.ModelInfo] | None = None

    def __call__(self, loaded: Loaded[Any]) -> common_pb2.ModelInfo:
        cached = self._cached
        if cached is None or cached[0] is not loaded:
            info = model_info(loaded, self.feature_set_version(loaded.model))
            self._cached = cached = (loaded, info)
        return cached[1]


def model_info(loaded: Loaded[Any], feature_set_version: int) -> common_pb2.ModelInfo:
    return common_pb2.ModelInfo(
        name=loaded.name,
        version=loaded.version,
        alias=loaded.alias,
        feature_set_version=feature_set_version,
        loaded_at=timestamp(loaded.loaded_at),
    )


async def chunks_in_thread(chunks: Iterator[T]) -> AsyncIterator[T]:
    """The chunks of a batch RPC, each computed in a worker thread: the blocking work (Redis,
    the model) never holds the event loop, so single calls keep being served meanwhile. The
    next chunk is computed while the current one is sent."""
    done = object()
    pending = asyncio.ensure_future(asyncio.to_thread(next, chunks, done))
    try:
        while True:
            chunk = await pending
            if chunk is done:
                return
            pending = asyncio.ensure_future(asyncio.to_thread(next, chunks, done))
            yield chunk  # type: ignore[misc]
    finally:
        pending.cancel()  # a call ended early: its next chunk is not waited for


async def reload_model(
    watcher: ModelWatcher[Any], info: ModelInfoCache
) -> tuple[common_pb2.ModelInfo, bool]:
    """ReloadModel of every model service: look the alias up now; (served model, changed)."""
    changed = await watcher.refresh()
    return info(watcher.require()), changed
