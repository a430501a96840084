"""Conversions shared by every servicer (timestamps, model info)."""

from __future__ import annotations

import math

from google.protobuf.timestamp_pb2 import Timestamp

from augur.common.v1 import common_pb2
from services.common.models import Loaded


def timestamp(seconds: float) -> Timestamp:
    """A protobuf Timestamp from Unix seconds."""
    ts = Timestamp()
    whole = math.floor(seconds)
    ts.seconds, ts.nanos = int(whole), round((seconds - whole) * 1e9) % 1_000_000_000
    return ts


def model_info(loaded: Loaded[object], feature_set_version: int) -> common_pb2.ModelInfo:
    return common_pb2.ModelInfo(
        name=loaded.name,
        version=loaded.version,
        alias=loaded.alias,
        feature_set_version=feature_set_version,
        loaded_at=timestamp(loaded.loaded_at),
    )
