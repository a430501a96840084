"""The served churn model: native LightGBM booster, calibration, reasons, value.

Saved as plain files (``booster.txt`` + ``churn.json``), never pickled:

* log-odds = the linear prior (``augur.churn.prior``) + the boosted trees
  trained on top of it (none when held-out customers showed they add nothing);
* probability = calibration (piecewise linear, from held-out customers) of
  the sigmoid of the log-odds;
* reasons = a per-feature lookup of the mean exact contribution (the prior's
  linear terms plus TreeSHAP of the trees) of the bin the customer's value
  falls in, learnt at training time. Exact SHAP per request costs ~7-10 ms here; the lookup costs
  microseconds, and its agreement with exact SHAP is measured and logged at
  training time (``reason_top3_agreement``);
* expected value over 12 months for a retained customer = 365 x BG/NBD
  posterior purchase rate x shrunk average order value; value at risk =
  probability x expected value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from augur.churn.prior import LinearPrior
from augur.churn.reasons import reason_text
from augur.common.trees import Trees
from augur.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION, feature_index

BOOSTER_FILE = "booster.txt"
_VALUE_COLUMNS = [
    feature_index("orders_total"),
    feature_index("days_since_first_order"),
    feature_index("revenue_total"),
]
META_FILE = "churn.json"


@dataclass
class ReasonTable:
    """Mean SHAP contribution per value bin of one feature (NaN values: own bin)."""

    edges: np.ndarray  # inner bin edges, ascending
    contributions: np.ndarray  # len(edges) + 1 values
    nan_contribution: float

    def lookup(self, values: np.ndarray) -> np.ndarray:
        out = self.contributions[np.searchsorted(self.edges, values, side="right")]
        return np.where(np.isnan(values), self.nan_contribution, out)


@dataclass
class Reason:
    feature: str
    value: float
    contribution: float  # log-odds; > 0 increases risk
    text: str


@dataclass
class ChurnModel:
    """Everything serving needs to score, explain and value one customer."""

    booster: lgb.Booster | None
    """Trees on top of the prior; None when they added nothing on held-out customers."""
    calibration_x: np.ndarray
    calibration_y: np.ndarray
    reason_tables: dict[str, ReasonTable]
    bgnbd: dict[str, float]
    aov_prior: float
    aov_prior_weight: float
    horizon_days: int
    risk_thresholds: tuple[float, float] = (0.3, 0.6)
    feature_names: tuple[str, ...] = FEATURE_NAMES
    feature_set_version: int = FEATURE_SET_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    prior: LinearPrior | None = None
    reason_direction: dict[str, float] = field(default_factory=dict)
    """Per feature: +1 when higher values raise the risk (over the training customers), -1
    when they lower it, 0 when neither; with ``reason_median`` it keeps a reason's direction
    consistent with how the feature moves risk."""
    reason_median: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Pack the reason tables into matrices so a lookup is a few numpy operations, and
        keep the booster's predictors (``augur.common.trees``)."""
        self._trees = Trees(self.booster) if self.booster is not None else None
        self.pack_reasons()

    @property
    def trees(self) -> int:
        return 0 if self.booster is None else int(self.booster.current_iteration())

    def pack_reasons(self) -> None:
        self._direction = np.array([self.reason_direction.get(f, 0.0) for f in self.feature_names])
        self._median = np.array([self.reason_median.get(f, 0.0) for f in self.feature_names])
        width = max((len(t.edges) for t in self.reason_tables.values()), default=0)
        n = len(self.feature_names)
        self._edges = np.full((n, width), np.inf)
        self._contrib = np.zeros((n, width + 1))
        self._nan = np.zeros(n)
        for i, name in enumerate(self.feature_names):
            table = self.reason_tables.get(name)
            if table is None:
                continue
            self._edges[i, : len(table.edges)] = table.edges
            self._contrib[i, : len(table.contributions)] = table.contributions
            self._contrib[i, len(table.contributions) :] = table.contributions[-1]
            self._nan[i] = table.nan_contribution

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Approximate SHAP contribution (log-odds) of every feature for one customer."""
        x = np.asarray(x, dtype=float).ravel()
        bins = (x[:, None] >= self._edges).sum(axis=1)
        out = self._contrib[np.arange(len(x)), bins]
        return np.where(np.isnan(x), self._nan, out)

    # ------------------------------------------------------------ predictions
    def log_odds(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated log-odds: the prior plus the trees' raw score."""
        X = np.atleast_2d(X)
        out = self.prior.logit(X) if self.prior is not None else np.zeros(len(X))
        if self._trees is None:
            return out
        return out + self._trees.predict(X, raw_score=True)

    def raw_probability(self, X: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.log_odds(X)))

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        return np.interp(raw, self.calibration_x, self.calibration_y)

    def probability(self, X: np.ndarray) -> np.ndarray:
        """Calibrated churn probability per row."""
        return self.calibrate(self.raw_probability(X))

    def expected_value(self, X: np.ndarray) -> np.ndarray:
        """Expected spend over the next 12 months if the customer stays (>= 0)."""
        X = np.atleast_2d(X)
        if X.shape[0] == 1:  # the per-request path: plain floats beat ten numpy calls
            return np.array([self._value_one(*(float(X[0, c]) for c in _VALUE_COLUMNS))])
        cols = X[:, _VALUE_COLUMNS]
        cols = np.where(np.isnan(cols), 0.0, cols)
        orders, T, revenue = cols[:, 0], cols[:, 1], cols[:, 2]
        r, alpha = self.bgnbd["r"], self.bgnbd["alpha"]
        rate = (r + np.maximum(orders - 1, 0)) / (alpha + T)
        aov = (revenue + self.aov_prior * self.aov_prior_weight) / (orders + self.aov_prior_weight)
        return np.maximum(365.0 * rate * aov, 0.0)

    def _value_one(self, orders: float, T: float, revenue: float) -> float:
        orders, T, revenue = (0.0 if math.isnan(v) else v for v in (orders, T, revenue))
        rate = (self.bgnbd["r"] + max(orders - 1, 0.0)) / (self.bgnbd["alpha"] + T)
        aov = (revenue + self.aov_prior * self.aov_prior_weight) / (orders + self.aov_prior_weight)
        return max(365.0 * rate * aov, 0.0)

    def reasons(self, x: np.ndarray, k: int = 3) -> list[Reason]:
        """Top-k reasons (lookup, no per-request SHAP): what raises the risk first, strongest
        first, then what lowers it, so an agent reads why the customer may leave."""
        x = np.asarray(x, dtype=float).ravel()
        contrib = self.contributions(x)
        # a missing value explains nothing to an agent, and a reason must read the way the
        # feature moves risk ("few orders" raises it, "many orders" does not)
        side = (x - self._median) * self._direction
        usable = ~np.isnan(x) & ((self._direction == 0) | (np.sign(side) == np.sign(contrib)))
        usable &= contrib != 0
        candidates = np.flatnonzero(usable)
        order = candidates[np.lexsort((-np.abs(contrib[candidates]), contrib[candidates] <= 0))][:k]
        return [
            Reason(
                self.feature_names[i],
                float(x[i]),
                float(contrib[i]),
                reason_text(self.feature_names[i], float(x[i])),
            )
            for i in order
        ]

    # ------------------------------------------------------------ files
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self.booster is not None:
            self.booster.save_model(str(directory / BOOSTER_FILE))
        meta = {
            "format": 2,
            "prior": None if self.prior is None else self.prior.to_dict(),
            "reason_direction": self.reason_direction,
            "reason_median": self.reason_median,
            "calibration_x": self.calibration_x.tolist(),
            "calibration_y": self.calibration_y.tolist(),
            "reason_tables": {
                n: {
                    "edges": _floats(t.edges),
                    "contributions": _floats(t.contributions),
                    "nan_contribution": t.nan_contribution,
                }
                for n, t in self.reason_tables.items()
            },
            "bgnbd": self.bgnbd,
            "aov_prior": self.aov_prior,
            "aov_prior_weight": self.aov_prior_weight,
            "horizon_days": self.horizon_days,
            "risk_thresholds": list(self.risk_thresholds),
            "feature_names": list(self.feature_names),
            "feature_set_version": self.feature_set_version,
            "extra": self.extra,
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: Path, servable: bool = True) -> ChurnModel:
        """Load a saved model; ``servable`` refuses one trained on another feature set
        (its vectors would not line up with the stored ones)."""
        meta = json.loads((directory / META_FILE).read_text())
        trees = directory / BOOSTER_FILE
        booster = lgb.Booster(model_file=str(trees)) if trees.exists() else None
        tables = {
            n: ReasonTable(
                np.array(t["edges"], dtype=float),
                np.array(t["contributions"], dtype=float),
                float(t["nan_contribution"]),
            )
            for n, t in meta["reason_tables"].items()
        }
        version, names = int(meta["feature_set_version"]), tuple(meta["feature_names"])
        if servable and (version != FEATURE_SET_VERSION or names != FEATURE_NAMES):
            raise ValueError(
                f"churn model was trained on feature set {version} ({len(names)} features); "
                f"this service serves feature set {FEATURE_SET_VERSION} ({len(FEATURE_NAMES)}): "
                "materialise the features again and retrain"
            )
        return cls(
            booster=booster,
            calibration_x=np.array(meta["calibration_x"], dtype=float),
            calibration_y=np.array(meta["calibration_y"], dtype=float),
            reason_tables=tables,
            bgnbd=meta["bgnbd"],
            aov_prior=float(meta["aov_prior"]),
            aov_prior_weight=float(meta["aov_prior_weight"]),
            horizon_days=int(meta["horizon_days"]),
            risk_thresholds=tuple(meta["risk_thresholds"]),  # type: ignore[arg-type]
            feature_names=names,
            feature_set_version=version,
            extra=meta.get("extra", {}),
            prior=LinearPrior.from_dict(meta["prior"]) if meta.get("prior") else None,
            reason_direction=meta.get("reason_direction", {}),
            reason_median=meta.get("reason_median", {}),
        )


def _floats(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in values]
