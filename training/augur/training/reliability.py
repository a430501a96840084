"""Calibration of predicted probabilities: expected calibration error and the reliability
table (mean prediction against observed rate, by bin), for every model that states one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Weighted mean |observed rate - mean prediction| over equal-width probability bins."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(total)


@dataclass(frozen=True)
class Bin:
    low: float  # smallest prediction in the bin
    high: float  # largest
    count: int
    predicted: float  # mean prediction
    observed: float  # share that happened


def reliability_by_decile(y: np.ndarray, p: np.ndarray) -> list[Bin]:
    """Ten bins of (about) equal count, by ascending prediction."""
    if not len(p):
        return []
    order = np.argsort(p, kind="stable")
    out = []
    for part in np.array_split(order, min(10, len(p))):
        out.append(
            Bin(
                float(p[part].min()),
                float(p[part].max()),
                len(part),
                float(p[part].mean()),
                float(y[part].mean()),
            )
        )
    return out
