"""The risk band rule, written once: LOW below ``medium``, MEDIUM up to ``high``, HIGH above.

Every place that names a band (Score, ScoreBatch, ListAtRisk's filter and its rows) asks a
``RiskBands``; the thresholds come from the model (chosen at training), overridden by
settings, or, for the at-risk list, from the snapshot they were scored with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOW, MEDIUM, HIGH = 1, 2, 3
BANDS = (LOW, MEDIUM, HIGH)


@dataclass(frozen=True)
class RiskBands:
    """Two probability thresholds, ``0 <= medium <= high <= 1``."""

    medium: float
    high: float

    def of(self, probability: float) -> int:
        """The band of one probability."""
        return HIGH if probability >= self.high else MEDIUM if probability >= self.medium else LOW

    def of_array(self, probability: np.ndarray) -> np.ndarray:
        """The band of each probability."""
        return np.where(
            probability >= self.high, HIGH, np.where(probability >= self.medium, MEDIUM, LOW)
        )

    def intervals(
        self, bands: tuple[int, ...] | list[int], floor: float = 0.0
    ) -> list[tuple[float, float]]:
        """Half-open probability intervals [lo, hi) of the given bands (all when empty), above
        ``floor``, in increasing order; empty intervals are left out."""
        limits = {
            LOW: (0.0, self.medium),
            MEDIUM: (self.medium, self.high),
            HIGH: (self.high, 1.0 + 1e-9),
        }
        out = [
            (max(lo, floor), hi)
            for b, (lo, hi) in sorted(limits.items())
            if not bands or b in bands
        ]
        return [(lo, hi) for lo, hi in out if lo < hi]
