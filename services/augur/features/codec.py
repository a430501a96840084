"""Binary layout of a customer's online record in Redis.

One value per customer holds both what serving reads and what the ingestion
consumer updates, so a write is atomic by construction:

    header (24 bytes): as-of time float64 (Unix s), feature-set version uint32,
                       feature count uint32, accumulator size uint32, reserved uint32
    features:          float32 x feature count   (serving decodes only this)
    accumulator:       float64 x accumulator size (the consumer's state)

Reading the features of one customer is one GET and one ``np.frombuffer``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from augur.features.definitions import (
    ACC_SIZE,
    FEATURE_SET_VERSION,
    N_FEATURES,
    empty_acc,
)

_HEADER = struct.Struct("<dIIII")
HEADER_SIZE = _HEADER.size


@dataclass(frozen=True)
class FeatureVector:
    """One customer's features, exact as of ``as_of`` (Unix seconds, UTC)."""

    values: np.ndarray
    as_of: float
    version: int


RECORD = np.dtype(
    [
        ("as_of", "<f8"),
        ("version", "<u4"),
        ("n_features", "<u4"),
        ("n_acc", "<u4"),
        ("reserved", "<u4"),
        ("features", "<f4", (N_FEATURES,)),
        ("acc", "<f8", (ACC_SIZE,)),
    ]
)


def encode_records(features: np.ndarray, acc: np.ndarray, as_of: np.ndarray | float) -> list[bytes]:
    """Encode many customers' records at once (vectorised)."""
    n = features.shape[0]
    dtype = RECORD
    rec = np.empty(n, dtype=dtype)
    rec["as_of"] = np.broadcast_to(np.asarray(as_of, dtype=np.float64), (n,))
    rec["version"] = FEATURE_SET_VERSION
    rec["n_features"] = N_FEATURES
    rec["n_acc"] = ACC_SIZE
    rec["reserved"] = 0
    rec["features"] = features
    rec["acc"] = acc
    raw = rec.tobytes()
    size = dtype.itemsize
    return [raw[i * size : (i + 1) * size] for i in range(n)]


def decode_vector(raw: bytes) -> FeatureVector:
    as_of, version, count, _, _ = _HEADER.unpack_from(raw)
    values = np.frombuffer(raw, dtype="<f4", count=count, offset=HEADER_SIZE)
    return FeatureVector(values, as_of, version)


def decode_matrix(raws: list[bytes | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(found mask, float32 feature matrix of the found rows, their as-of times) in one pass."""
    found = np.array([r is not None for r in raws], dtype=bool)
    present = [r for r in raws if r is not None]
    if present and all(len(r) == RECORD.itemsize for r in present):
        rec = np.frombuffer(b"".join(present), dtype=RECORD)
        return found, rec["features"], rec["as_of"]
    vectors = [decode_vector(r) for r in present]  # another layout: decode one by one
    values = np.stack([v.values for v in vectors]) if vectors else np.zeros((0, N_FEATURES))
    return found, values, np.array([v.as_of for v in vectors])


def decode_accs(raws: list[bytes | None]) -> np.ndarray:
    """Stack the stored accumulators; missing records come back empty (no events)."""
    out = empty_acc(len(raws))
    for i, raw in enumerate(raws):
        if raw is not None:
            _, _, count, n_acc, _ = _HEADER.unpack_from(raw)
            out[i] = np.frombuffer(raw, dtype="<f8", count=n_acc, offset=HEADER_SIZE + 4 * count)
    return out
