"""Fitting the churn model: the linear prior, the trees on top of it, the calibration and the
reason tables. Every choice is made on customers the fit never saw."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

from augur.churn.model import ChurnModel, ReasonTable
from augur.churn.prior import PRIOR_FEATURES, PRIOR_SIGNS, LinearPrior
from augur.features.definitions import FEATURE_NAMES, feature_index

CALIBRATION_GRID = np.linspace(-12.0, 12.0, 961)  # log-odds, every 0.025


def fit_prior(X: np.ndarray, y: np.ndarray, strength: float) -> LinearPrior:
    """L2-regularised logistic regression (inverse strength ``strength``, as scikit-learn's
    C) on the prior's log-scaled, standardised inputs, each coefficient kept to its sign in
    ``PRIOR_SIGNS``."""
    columns = [feature_index(f) for f in PRIOR_FEATURES]
    logs = np.log1p(np.maximum(np.asarray(X, dtype=np.float64)[:, columns], 0.0))
    mean = np.nanmean(logs, axis=0)
    scale = np.nanstd(logs, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    scale = np.where(np.isfinite(scale) & (scale > 1e-9), scale, 1.0)
    prior = LinearPrior(PRIOR_FEATURES, mean, scale, np.zeros(len(columns)), 0.0)
    z = prior.standardised(X)
    t = y.astype(float)
    n = len(t)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        logit = w[0] + z @ w[1:]
        p = 1.0 / (1.0 + np.exp(-logit))
        value = log_loss(t, logit) + float(w[1:] @ w[1:]) / (2 * strength * n)
        grad = np.concatenate([[np.mean(p - t)], z.T @ (p - t) / n + w[1:] / (strength * n)])
        return value, grad

    bounds = [(None, None)] + [
        (0.0, None) if s > 0 else (None, 0.0) if s < 0 else (None, None)
        for s in (PRIOR_SIGNS[f] for f in PRIOR_FEATURES)
    ]
    rate = min(max(float(t.mean()), 1e-6), 1 - 1e-6)
    start = np.concatenate([[np.log(rate / (1 - rate))], np.zeros(len(columns))])
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    prior.intercept = float(result.x[0])
    prior.coef = np.asarray(result.x[1:], dtype=float)
    return prior


def log_loss(y: np.ndarray, logit: np.ndarray) -> float:
    """Mean binary log-loss of log-odds (numerically safe)."""
    return float(np.mean(np.logaddexp(0.0, logit) - y * logit))


@dataclass
class Residual:
    booster: lgb.Booster | None
    trees: int
    prior_loss: float
    loss: float


def fit_residual(
    params: dict[str, Any],
    fit: tuple[np.ndarray, np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray, np.ndarray],
    max_rounds: int,
    stopping_rounds: int,
    dask: str = "",
) -> Residual:
    """Trees boosted from the prior's log-odds (``init``), as many as lower the log-loss of the
    validation customers; none when the first ones already do not."""
    (X, y, init), (Xv, yv, init_v) = fit, valid
    prior_loss = log_loss(yv, init_v)
    if dask:
        from augur.training.distributed import fit_booster

        booster = fit_booster(
            dask,
            params,
            X,
            y.astype(float),
            max_rounds,
            list(FEATURE_NAMES),
            stop=(Xv, yv.astype(float)),
            init=(init, init_v),
        )
    else:
        booster = lgb.train(
            params,
            lgb.Dataset(X, y.astype(float), init_score=init, feature_name=list(FEATURE_NAMES)),
            num_boost_round=max_rounds,
            valid_sets=[lgb.Dataset(Xv, yv.astype(float), init_score=init_v)],
            callbacks=[lgb.early_stopping(stopping_rounds, verbose=False)],
        )
        booster.free_dataset()
        booster = lgb.Booster(
            model_str=booster.model_to_string(num_iteration=booster.best_iteration)
        )
    loss = log_loss(yv, init_v + booster.predict(Xv, raw_score=True))
    if not loss < prior_loss:
        return Residual(None, 0, prior_loss, prior_loss)
    return Residual(booster, int(booster.current_iteration()), prior_loss, loss)


def platt(logit: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calibration as (raw probability, calibrated probability) points: a logistic fit of the
    outcome on the log-odds (monotone, so the ranking is kept exactly), on a dense grid."""
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(logit.reshape(-1, 1), y.astype(int))
    a, b = float(lr.coef_[0][0]), float(lr.intercept_[0])
    raw = 1.0 / (1.0 + np.exp(-CALIBRATION_GRID))
    calibrated = 1.0 / (1.0 + np.exp(-(a * CALIBRATION_GRID + b)))
    # never claim certainty
    return raw, np.clip(calibrated, 0.001, 0.999)


def exact_contributions(model: ChurnModel, X: np.ndarray) -> np.ndarray:
    """Exact log-odds contribution of every feature: the prior's linear terms plus the trees'
    TreeSHAP."""
    out = np.zeros((len(X), len(FEATURE_NAMES)))
    if model.prior is not None:
        columns = [feature_index(f) for f in model.prior.features]
        out[:, columns] += model.prior.contributions(X)
    if model.booster is not None:
        shap = np.asarray(model.booster.predict(X, pred_contrib=True, num_threads=1))
        out += shap[:, : X.shape[1]]
    return out


def reason_tables(model: ChurnModel, X: np.ndarray, bins: int) -> dict[str, ReasonTable]:
    """Mean exact contribution per quantile bin of each feature."""
    contrib = exact_contributions(model, X)
    tables = {}
    for j, name in enumerate(FEATURE_NAMES):
        values = X[:, j].astype(float)
        finite = ~np.isnan(values)
        edges = (
            np.unique(np.quantile(values[finite], np.linspace(0, 1, bins + 1)[1:-1]))
            if finite.any()
            else np.array([])
        )
        idx = np.searchsorted(edges, values, side="right")
        means = np.zeros(len(edges) + 1)
        for b in range(len(edges) + 1):
            mask = finite & (idx == b)
            means[b] = contrib[mask, j].mean() if mask.any() else 0.0
        nan_mean = float(contrib[~finite, j].mean()) if (~finite).any() else 0.0
        tables[name] = ReasonTable(edges, means, nan_mean)
    return tables


def reason_directions(
    model: ChurnModel, X: np.ndarray
) -> tuple[dict[str, float], dict[str, float]]:
    """Per feature, whether higher values raise (+1) or lower (-1) the risk over these
    customers (rank correlation of value and exact contribution beyond ±0.1; else 0), and the
    median value."""
    from scipy.stats import spearmanr

    contrib = exact_contributions(model, X)
    direction, median = {}, {}
    for j, name in enumerate(FEATURE_NAMES):
        values = X[:, j].astype(float)
        finite = np.isfinite(values)
        if finite.sum() < 10 or np.ptp(values[finite]) == 0 or np.ptp(contrib[finite, j]) == 0:
            direction[name], median[name] = 0.0, 0.0
            continue
        rho = float(spearmanr(values[finite], contrib[finite, j]).statistic)
        direction[name] = float(np.sign(rho)) if abs(rho) > 0.1 else 0.0
        median[name] = float(np.median(values[finite]))
    return direction, median


def top3_agreement(model: ChurnModel, X: np.ndarray) -> float:
    """Share of the exact top-3 reasons (ranked as served: risk-raising first, among the
    features with a known value) that the lookup's top-3 also names."""
    exact = exact_contributions(model, X)
    hits = 0
    for i in range(len(X)):
        known = np.flatnonzero(~np.isnan(X[i]))
        e = exact[i, known]
        a = set(known[np.lexsort((-np.abs(e), e <= 0))][:3])
        b = {model.feature_names.index(r.feature) for r in model.reasons(X[i], 3)}
        hits += len(a & b)
    return hits / (3 * max(len(X), 1))


def distinct_levels(p: np.ndarray) -> int:
    return len(np.unique(np.round(p, 6)))
