"""Drift between what a model was trained on and what it serves now.

Population stability index per feature and for the churn score: the reference is the batch
feature matrix as of the data's last day (what training saw last), the current one the online
vectors in Redis (what the services score). PSI = sum((c - r) * ln(c / r)) over ten
quantile bins of the reference (proportions floored at 1e-4); the usual reading is < 0.1
stable, 0.1-0.25 moderate, > 0.25 large. The report goes to MLflow (experiment
``augur-drift``) and to Redis, where the churn service exports it as
``augur_prediction_drift_psi{feature}``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import mlflow
import numpy as np

from augur.churn.model import ChurnModel
from augur.common.keys import Keys

BINS = 10
FLOOR = 1e-4
LARGE = 0.25


def psi(reference: np.ndarray, current: np.ndarray, bins: int = BINS) -> float:
    """Population stability index of one variable (NaN kept as its own bin)."""
    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    finite = ref[np.isfinite(ref)]
    cuts = np.linspace(0, 1, bins + 1)[1:-1]
    edges: np.ndarray = np.unique(np.quantile(finite, cuts)) if len(finite) else np.zeros(0)

    def shares(x: np.ndarray) -> np.ndarray:
        ok = np.isfinite(x)
        counts = np.bincount(np.searchsorted(edges, x[ok], side="right"), minlength=len(edges) + 1)
        out = np.append(counts, (~ok).sum()).astype(float)
        return np.maximum(out / len(x), FLOOR)

    r, c = shares(ref), shares(cur)
    return float(np.sum((c - r) * np.log(c / r)))


@dataclass
class DriftReport:
    customers_reference: int
    customers_current: int
    score: float
    features: dict[str, float] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    @property
    def large(self) -> list[str]:
        return sorted(
            (f for f, v in self.features.items() if v > LARGE), key=lambda f: -self.features[f]
        )


def drift_report(
    reference: np.ndarray, current: np.ndarray, names: list[str], model: ChurnModel
) -> DriftReport:
    features = {name: psi(reference[:, i], current[:, i]) for i, name in enumerate(names)}
    score = psi(model.probability(reference), model.probability(current))
    return DriftReport(len(reference), len(current), score, features)


def log_drift(report: DriftReport, model_version: str) -> str:
    """One MLflow run in the ``augur-drift`` experiment; returns its id."""
    mlflow.set_experiment("augur-drift")
    with mlflow.start_run(run_name=f"drift-churn-v{model_version}") as run:
        mlflow.log_param("churn_model_version", model_version)
        mlflow.log_metric("psi_score", report.score)
        mlflow.log_metrics({f"psi_{k}": v for k, v in report.features.items() if np.isfinite(v)})
        mlflow.log_dict(asdict(report), "drift.json")
        return str(run.info.run_id)


def publish(client: Any, keys: Keys, report: DriftReport) -> None:
    """For the churn service's ``augur_prediction_drift_psi`` gauge."""
    values = {"score": report.score, **report.features}
    client.hset(
        keys.drift(),
        mapping={"_at": repr(report.at), **{k: repr(v) for k, v in values.items()}},
    )
