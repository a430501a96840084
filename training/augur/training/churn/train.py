"""`augur train churn`: rolling-cutoff training, calibration, evaluation, registry, gate."""

from __future__ import annotations

import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from augur.churn.model import ChurnModel, ReasonTable
from augur.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION, feature_index
from augur.training import registry
from augur.training.churn import bgnbd
from augur.training.churn.evaluate import churn_metrics, plot_all
from augur.training.churn.labels import Frame, labelled_frame, plan_cutoffs
from augur.training.data.loader import DataError, load_dataset
from augur.training.offline.stream import stream_features

KIND = "churn"


@dataclass
class ChurnConfig:
    """Training settings (all logged as MLflow params)."""

    horizon_days: int = 90
    train_cutoffs: int = 4
    cutoff_step_days: int = 30
    num_leaves: int = 31
    learning_rate: float = 0.1
    max_rounds: int = 400
    early_stopping_rounds: int = 50
    min_data_in_leaf: int = 40
    feature_fraction: float = 0.9
    reason_bins: int = 16
    risk_medium: float = 0.3
    risk_high: float = 0.6
    gate_tolerance_auc: float = 0.01
    seed: int = 7
    dask: str = ""  # "" single machine; "local:N" or a scheduler address: LightGBM on Dask


def _split_by_customer(frame: Frame, salt: str) -> tuple[Frame, Frame]:
    """Deterministic half/half split of a frame by customer id."""
    h = np.array([zlib.crc32(f"{salt}:{c}".encode()) % 2 for c in frame.customer_ids])
    return frame.select(h == 0), frame.select(h == 1)


def _reason_tables(booster: lgb.Booster, X: np.ndarray, bins: int) -> dict[str, ReasonTable]:
    """Mean exact SHAP contribution per quantile bin of each feature."""
    contrib = np.asarray(booster.predict(X, pred_contrib=True, num_threads=1))[:, : X.shape[1]]
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


def _top3_agreement(model: ChurnModel, X: np.ndarray) -> float:
    """Share of the exact-SHAP top-3 reasons (ranked as served: risk-raising first) that the
    lookup's top-3 also names."""
    exact = np.asarray(model.booster.predict(X, pred_contrib=True, num_threads=1))
    exact = exact[:, : X.shape[1]]
    hits = 0
    for i in range(len(X)):
        a = set(np.lexsort((-np.abs(exact[i]), exact[i] <= 0))[:3])
        b = {model.feature_names.index(r.feature) for r in model.reasons(X[i], 3)}
        hits += len(a & b)
    return hits / (3 * len(X))


def _flat(planned: tuple[list[pd.Timestamp], pd.Timestamp]) -> list[pd.Timestamp]:
    return [*planned[0], planned[1]]


def train_churn(
    data: Path,
    tracking_uri: str,
    state_dir: Path,
    cfg: ChurnConfig | None = None,
    progress: bool = True,
) -> registry.TrainReport:
    """Train, evaluate against baselines, log and register; promote when the gate passes."""
    cfg = cfg or ChurnConfig()
    started = time.perf_counter()

    def plan(end: pd.Timestamp) -> tuple[list[pd.Timestamp], pd.Timestamp]:
        return plan_cutoffs(end, cfg.horizon_days, cfg.train_cutoffs, cfg.cutoff_step_days)

    # one streamed pass over the event log gives the features at every cutoff
    streamed = stream_features(
        data,
        lambda end: [c.timestamp() for c in _flat(plan(pd.Timestamp(end, unit="s", tz="UTC")))],
        progress=progress,
    )
    data_end = pd.Timestamp(streamed.data_end, unit="s", tz="UTC")
    train_cutoffs, test_cutoff = plan(data_end)
    customers = load_dataset(data, only=("customers",)).customers
    frames = [
        labelled_frame(features, after, customers, cfg.horizon_days)
        for features, after in zip(streamed.frames, streamed.next_order, strict=True)
    ]
    *train_frames, test = frames
    fit = Frame.concat(train_frames[:-1])
    stop_set, calib_set = _split_by_customer(train_frames[-1], "calibration")
    if min(len(fit), len(stop_set), len(calib_set), len(test)) < 50:
        raise DataError(
            data,
            "not enough customers at the cutoffs to train a churn model "
            f"(data ends {data_end.date()}, horizon {cfg.horizon_days} days; each of the fit, "
            "early-stopping, calibration and test sets needs at least 50)",
        )
    pos = max(float(fit.y.mean()), 1e-6)
    params = {
        "objective": "binary",
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_data_in_leaf": cfg.min_data_in_leaf,
        "feature_fraction": cfg.feature_fraction,
        "scale_pos_weight": (1 - pos) / pos,
        "seed": cfg.seed,
        "deterministic": True,
        "num_threads": 2,
        "verbose": -1,
    }
    if cfg.dask:
        from augur.training.distributed import fit_booster

        booster = fit_booster(
            cfg.dask,
            params,
            fit.X,
            fit.y.astype(float),
            cfg.max_rounds,
            list(FEATURE_NAMES),
            stop=(stop_set.X, stop_set.y.astype(float)),
        )
    else:
        booster = lgb.train(
            params,
            lgb.Dataset(fit.X, fit.y.astype(float), feature_name=list(FEATURE_NAMES)),
            num_boost_round=cfg.max_rounds,
            valid_sets=[lgb.Dataset(stop_set.X, stop_set.y.astype(float))],
            callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
        )
        booster.free_dataset()
    raw_calib = booster.predict(calib_set.X, num_threads=2)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw_calib, calib_set.y)
    rfm = bgnbd.rfm_from_features(train_frames[-1].X)
    bg = bgnbd.fit(*rfm)
    aov = train_frames[-1].X[:, feature_index("avg_order_value")]
    model = ChurnModel(
        booster=booster,
        calibration_x=np.asarray(iso.X_thresholds_, dtype=float),
        # never claim certainty: a calibration bin of all-churners still maps below 1
        calibration_y=np.clip(np.asarray(iso.y_thresholds_, dtype=float), 0.001, 0.999),
        reason_tables=_reason_tables(booster, fit.X[:4000], cfg.reason_bins),
        bgnbd=bg.to_dict(),
        aov_prior=float(np.nanmedian(aov)),
        aov_prior_weight=2.0,
        horizon_days=cfg.horizon_days,
        risk_thresholds=(cfg.risk_medium, cfg.risk_high),
    )
    # evaluation on the test cutoff, same customers for every scorer
    p_test = model.probability(test.X)
    raw_test = model.raw_probability(test.X)
    recency = np.nan_to_num(test.X[:, feature_index("days_since_last_order")], nan=1e6)
    p_alive = bg.p_alive(*bgnbd.rfm_from_features(test.X))
    scores = {"model": p_test, "recency": recency, "bg/nbd": 1 - p_alive}
    metrics = {f"model_{k}": v for k, v in churn_metrics(test.y, p_test).items()}
    metrics["model_brier_uncalibrated"] = churn_metrics(test.y, raw_test)["brier"]
    metrics.update({f"recency_{k}": v for k, v in churn_metrics(test.y, recency, False).items()})
    metrics.update({f"bgnbd_{k}": v for k, v in churn_metrics(test.y, 1 - p_alive).items()})
    active = np.nan_to_num(test.X[:, feature_index("days_since_last_order")], nan=1e6) <= 30
    if active.sum() > 20 and 0 < test.y[active].mean() < 1:
        metrics["active_model_roc_auc"] = churn_metrics(test.y[active], p_test[active])["roc_auc"]
        metrics["active_recency_roc_auc"] = churn_metrics(test.y[active], recency[active], False)[
            "roc_auc"
        ]
        metrics["active_bgnbd_roc_auc"] = churn_metrics(test.y[active], 1 - p_alive[active])[
            "roc_auc"
        ]
        metrics["active_customers"] = float(active.sum())
    metrics["reason_top3_agreement"] = _top3_agreement(model, test.X[:500])
    best = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
    metrics["best_iteration"] = float(best)
    metrics["test_churn_rate"] = float(test.y.mean())
    metrics["feature_stream_seconds"] = streamed.seconds
    rows = {
        "events": streamed.events,
        "train": len(fit),
        "early_stopping": len(stop_set),
        "calibration": len(calib_set),
        "test": len(test),
    }

    registry.configure(tracking_uri, state_dir, "augur-churn")
    champion = registry.champion_artefact(KIND, state_dir)
    champion_auc = None
    if champion is not None:
        old = ChurnModel.load(champion[1], servable=False)
        if old.feature_set_version == FEATURE_SET_VERSION:  # else: not comparable, replaced
            champion_auc = churn_metrics(test.y, old.probability(test.X))["roc_auc"]
            metrics["champion_roc_auc_same_test"] = champion_auc
    return registry.publish(
        registry.Candidate(
            kind=KIND,
            gate_metric="roc_auc",
            value=metrics["model_roc_auc"],
            baseline=metrics["recency_roc_auc"],
            champion=champion_auc,
            tolerance=cfg.gate_tolerance_auc,
            params={
                **asdict(cfg),
                "test_cutoff": str(test_cutoff.date()),
                "train_cutoffs": ",".join(str(c.date()) for c in train_cutoffs),
            },
            metrics=metrics,
            tags={"feature_set_version": str(FEATURE_SET_VERSION), **registry.data_tags(data)},
            rows=rows,
            pyfunc=Path(__file__).with_name("pyfunc.py"),
            save=model.save,
            plots=lambda directory: plot_all(test.y.astype(float), scores, p_test, directory),
            example=pd.DataFrame(test.X[:2].astype(np.float64), columns=list(FEATURE_NAMES)),
            output=pd.DataFrame(
                {"probability": [0.5], "expected_value": [1.0], "value_at_risk": [0.5]}
            ),
        ),
        started,
    )
