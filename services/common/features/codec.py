"""Binary layout of the values stored in Redis.

A feature vector is a 16-byte header (as-of time float64, feature-set version
uint32, feature count uint32) followed by float32 values; an accumulator is
float64 values. Reading one customer is one GET and one ``np.frombuffer``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from services.common.features.definitions import ACC_SIZE, FEATURE_SET_VERSION, N_FEATURES

_HEADER = struct.Struct("<dII")


@dataclass(frozen=True)
class FeatureVector:
    """One customer's features, exact as of ``as_of`` (Unix seconds, UTC)."""

    values: np.ndarray
    as_of: float
    version: int


def encode_vector(values: np.ndarray, as_of: float) -> bytes:
    return (
        _HEADER.pack(as_of, FEATURE_SET_VERSION, N_FEATURES)
        + np.ascontiguousarray(values, dtype="<f4").tobytes()
    )


def encode_vectors(matrix: np.ndarray, as_of: np.ndarray | float) -> list[bytes]:
    """Encode many rows at once (bulk materialisation)."""
    matrix = np.ascontiguousarray(matrix, dtype="<f4")
    times = np.broadcast_to(np.asarray(as_of, dtype=np.float64), (matrix.shape[0],))
    rows = matrix.view(np.dtype((np.void, matrix.shape[1] * 4))).ravel()
    pack = _HEADER.pack
    return [
        pack(float(t), FEATURE_SET_VERSION, N_FEATURES) + r.tobytes()
        for t, r in zip(times, rows, strict=True)
    ]


def decode_vector(raw: bytes) -> FeatureVector:
    as_of, version, count = _HEADER.unpack_from(raw)
    values = np.frombuffer(raw, dtype="<f4", count=count, offset=_HEADER.size)
    return FeatureVector(values, as_of, version)


def encode_accs(acc: np.ndarray) -> list[bytes]:
    acc = np.ascontiguousarray(acc, dtype="<f8")
    return [row.tobytes() for row in acc]


def decode_accs(raws: list[bytes | None]) -> np.ndarray:
    """Stack stored accumulators; missing ones come back empty (no events)."""
    from services.common.features.definitions import empty_acc

    out = empty_acc(len(raws))
    for i, raw in enumerate(raws):
        if raw is not None:
            out[i] = np.frombuffer(raw, dtype="<f8", count=ACC_SIZE)
    return out
