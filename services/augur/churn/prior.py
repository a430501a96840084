"""The churn model's linear prior: a regularised logistic regression on a few log-scaled
purchase features (recency, frequency, recent order rates, spend).

On a real shop's data a few hundred leavers is common, and there a boosted tree model alone
loses to a one-line recency ranking: it overfits what little it sees. The prior carries what
every shop shares (customers who stopped ordering and ordered little leave), and the boosted
trees only add, on top of it, what the shop's own data shows on held-out customers (possibly
nothing). Each input is one served feature, so its share of the log-odds is an exact reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from augur.features.definitions import feature_index

PRIOR_SIGNS = {
    # +1: can only raise the risk as it grows; -1: can only lower it; 0: either. The signs are
    # what every shop shares; without them correlated inputs trade places (a real shop's
    # prior had risk falling with the days since the last order, and spend carrying it).
    "days_since_last_order": 1,
    "orders_total": -1,
    "orders_hl7": -1,
    "orders_hl30": -1,
    "orders_hl90": -1,
    "orders_hl365": -1,
    "days_since_first_order": 0,
    "order_overdue_ratio": 1,
    "revenue_hl90": -1,
    "avg_order_value": 0,
    "revenue_trend": -1,
}
PRIOR_FEATURES = tuple(PRIOR_SIGNS)
Z_LIMIT = 5.0  # standardised inputs are clipped: one extreme ratio cannot dominate


@dataclass
class LinearPrior:
    """logit = intercept + sum_j coef_j * z_j, z_j = clip((log1p(max(x_j, 0)) - mean_j) /
    scale_j, ±5); a missing x_j has z_j = 0 (no contribution)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def __post_init__(self) -> None:
        self._columns = np.array([feature_index(f) for f in self.features], dtype=np.int64)

    def standardised(self, X: np.ndarray) -> np.ndarray:
        raw = np.atleast_2d(np.asarray(X, dtype=np.float64))[:, self._columns]
        with np.errstate(invalid="ignore"):
            z = (np.log1p(np.maximum(raw, 0.0)) - self.mean) / self.scale
        return np.clip(np.nan_to_num(z, nan=0.0), -Z_LIMIT, Z_LIMIT)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Log-odds contribution of each prior feature, one row per customer."""
        return self.standardised(X) * self.coef

    def logit(self, X: np.ndarray) -> np.ndarray:
        return self.intercept + self.contributions(X).sum(axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearPrior:
        return cls(
            tuple(d["features"]),
            np.array(d["mean"], dtype=float),
            np.array(d["scale"], dtype=float),
            np.array(d["coef"], dtype=float),
            float(d["intercept"]),
        )
