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
from augur.training.churn.labels import CutoffPlan, Frame, labelled_frame, plan_cutoffs
from augur.training.data.loader import DataError, load_dataset
from augur.training.offline.stream import stream_features

KIND = "churn"


@dataclass
class ChurnConfig:
    """Training settings (all logged as MLflow params)."""

    horizon_days: int = 90
    train_cutoffs: int = 0  # 0: every cutoff the data's span allows (at most 12)
    cutoff_step_days: int = 0  # 0: a third of the horizon, 7 to 30 days
    num_leaves: int = 15
    learning_rate: float = 0.05
    max_rounds: int = 1000
    min_rounds: int = 50
    early_stopping_rounds: int = 100
    min_data_in_leaf: int = 40
    min_trees: int = 10  # the gate refuses a model with fewer trees ...
    min_probability_levels: int = 20  # ... or fewer distinct probabilities on the test
    feature_fraction: float = 0.9
    reason_bins: int = 16
    risk_medium: float = 0.3
    risk_high: float = 0.6
    gate_tolerance_auc: float = 0.01
    seed: int = 7
    dask: str = ""  # "" single machine; "local:N" or a scheduler address: LightGBM on Dask


TEST_SHARE = 0.25  # customers held out for the test when the data has no test horizon


def _held_out(frame: Frame, salt: str, share: float) -> np.ndarray:
    """A deterministic share of the frame's customers (by a hash of their id)."""
    h = np.array([zlib.crc32(f"{salt}:{c}".encode()) % 1000 for c in frame.customer_ids])
    return h < share * 1000


def _split_by_customer(frame: Frame, salt: str) -> tuple[Frame, Frame]:
    """Deterministic half/half split of a frame by customer id."""
    half = _held_out(frame, salt, 0.5)
    return frame.select(~half), frame.select(half)


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


def _degenerate(trees: int, levels: int, cfg: ChurnConfig) -> str | None:
    """Why the model is too coarse to serve, or None."""
    if trees < cfg.min_trees:
        return (
            f"degenerate model: {trees} trees kept (at least {cfg.min_trees} needed); early "
            "stopping found nothing to learn beyond the first rounds"
        )
    if levels < cfg.min_probability_levels:
        return (
            f"degenerate model: {levels} distinct probabilities on the test customers (at "
            f"least {cfg.min_probability_levels} needed); the list cannot be ranked"
        )
    return None


def _flat(planned: CutoffPlan) -> list[pd.Timestamp]:
    return sorted({*planned.train, planned.test})


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

    def plan(start: float, end: float) -> CutoffPlan:
        try:
            return plan_cutoffs(
                pd.Timestamp(start, unit="s", tz="UTC"),
                pd.Timestamp(end, unit="s", tz="UTC"),
                cfg.horizon_days,
                cfg.train_cutoffs,
                cfg.cutoff_step_days,
            )
        except ValueError as exc:
            raise DataError(data, str(exc)) from None

    # one streamed pass over the event log gives the features at every cutoff
    streamed = stream_features(
        data, lambda start, end: [c.timestamp() for c in _flat(plan(start, end))], progress=progress
    )
    data_end = pd.Timestamp(streamed.data_end, unit="s", tz="UTC")
    planned = plan(streamed.data_start, streamed.data_end)
    train_cutoffs, test_cutoff = planned.train, planned.test
    customers = load_dataset(data, only=("customers",)).customers
    frames = [
        labelled_frame(features, after, customers, cfg.horizon_days)
        for features, after in zip(streamed.frames, streamed.next_order, strict=True)
    ]
    if planned.by_customer:  # the test cutoff is the last training one: hold customers out
        held = _held_out(frames[-1], "test", TEST_SHARE)
        test = frames[-1].select(held)
        train_frames = [f.select(~np.isin(f.customer_ids, test.customer_ids)) for f in frames]
    else:
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
    # The plain log-loss: training and early stopping optimise the same objective (with a
    # positive-class weight the unweighted stopping log-loss stopped a real shop's model at
    # round 1), and the probabilities need no re-weighting before calibration.
    params = {
        "objective": "binary",
        "metric": "binary_logloss",
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_data_in_leaf": cfg.min_data_in_leaf,
        "feature_fraction": cfg.feature_fraction,
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
        # never fewer than min_rounds trees (the rounds after the best one were grown anyway)
        booster.best_iteration = min(
            max(booster.best_iteration, cfg.min_rounds), booster.current_iteration()
        )
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
    frequency = -np.nan_to_num(test.X[:, feature_index("orders_total")])
    test_rfm = bgnbd.rfm_from_features(test.X)
    p_alive = bg.p_alive(*test_rfm)
    bg_expected = -bg.expected_purchases(cfg.horizon_days, *test_rfm)
    scores = {"model": p_test, "recency": recency, "bg/nbd": bg_expected}
    metrics = {f"model_{k}": v for k, v in churn_metrics(test.y, p_test).items()}
    metrics["model_brier_uncalibrated"] = churn_metrics(test.y, raw_test)["brier"]
    metrics.update({f"recency_{k}": v for k, v in churn_metrics(test.y, recency, False).items()})
    metrics.update(
        {f"frequency_{k}": v for k, v in churn_metrics(test.y, frequency, False).items()}
    )
    # BG/NBD ranks by fewest expected purchases in the horizon; 1 - P(alive) (reported too)
    # ranks one-time buyers as the safest
    metrics.update({f"bgnbd_{k}": v for k, v in churn_metrics(test.y, bg_expected, False).items()})
    metrics.update(
        {f"bgnbd_palive_{k}": v for k, v in churn_metrics(test.y, 1 - p_alive, False).items()}
    )
    active = np.nan_to_num(test.X[:, feature_index("days_since_last_order")], nan=1e6) <= 30
    if active.sum() > 20 and 0 < test.y[active].mean() < 1:
        metrics["active_model_roc_auc"] = churn_metrics(test.y[active], p_test[active])["roc_auc"]
        metrics["active_recency_roc_auc"] = churn_metrics(test.y[active], recency[active], False)[
            "roc_auc"
        ]
        metrics["active_bgnbd_roc_auc"] = churn_metrics(test.y[active], bg_expected[active], False)[
            "roc_auc"
        ]
        metrics["active_customers"] = float(active.sum())
    metrics["reason_top3_agreement"] = _top3_agreement(model, test.X[:500])
    best = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
    metrics["best_iteration"] = float(best)
    levels = len(np.unique(np.round(p_test, 6)))
    metrics["probability_levels"] = float(levels)
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
        # a champion on another feature set or horizon answers another question: not
        # comparable, replaced
        if old.feature_set_version == FEATURE_SET_VERSION and old.horizon_days == cfg.horizon_days:
            champion_auc = churn_metrics(test.y, old.probability(test.X))["roc_auc"]
            metrics["champion_roc_auc_same_test"] = champion_auc
    return registry.publish(
        registry.Candidate(
            kind=KIND,
            gate_metric="roc_auc",
            value=metrics["model_roc_auc"],
            baseline=max(
                metrics["recency_roc_auc"], metrics["frequency_roc_auc"], metrics["bgnbd_roc_auc"]
            ),
            refusal=_degenerate(best, levels, cfg),
            champion=champion_auc,
            tolerance=cfg.gate_tolerance_auc,
            params={
                **asdict(cfg),
                "test_cutoff": str(test_cutoff.date()),
                "train_cutoffs": ",".join(str(c.date()) for c in train_cutoffs),
                "test_on": "held-out customers" if planned.by_customer else "later cutoff",
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
