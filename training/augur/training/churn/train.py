"""`augur train churn`: rolling-cutoff training, calibration, evaluation, registry, gate."""

from __future__ import annotations

import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from augur.churn.model import ChurnModel
from augur.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION, feature_index
from augur.training import registry
from augur.training.churn import bgnbd
from augur.training.churn.evaluate import churn_metrics, plot_all
from augur.training.churn.fit import (
    distinct_levels,
    fit_prior,
    fit_residual,
    platt,
    reason_directions,
    reason_tables,
    top3_agreement,
)
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
    prior_strength: float = 0.3  # inverse L2 strength of the linear prior
    num_leaves: int = 15
    learning_rate: float = 0.05
    max_rounds: int = 1000
    early_stopping_rounds: int = 50
    min_data_in_leaf: int = 40
    feature_fraction: float = 0.9
    lambda_l2: float = 1.0
    validation_share: float = 0.25  # customers held out to stop the trees and calibrate
    recalibrate_on_test: bool = True
    min_probability_levels: int = 20  # the gate refuses a model with fewer on the test
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


def _degenerate(levels: int, cfg: ChurnConfig) -> str | None:
    """Why the model is too coarse to serve, or None."""
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
    # customers, not rows, are held out: a customer's rows at several cutoffs are alike, and a
    # choice made on rows of customers the fit also saw flatters it
    everyone = Frame.concat(train_frames)
    valid_rows = _held_out(everyone, "validation", cfg.validation_share)
    fit, valid = everyone.select(~valid_rows), everyone.select(valid_rows)
    if min(len(fit), len(valid), len(test)) < 50 or min(fit.y.sum(), valid.y.sum()) < 5:
        raise DataError(
            data,
            "not enough customers at the cutoffs to train a churn model "
            f"(data ends {data_end.date()}, horizon {cfg.horizon_days} days; the fit, "
            "validation and test sets need at least 50 customers each and the fit and "
            f"validation sets 5 leavers each; they have {len(fit)}, {len(valid)} and "
            f"{len(test)} customers and {int(fit.y.sum())} and {int(valid.y.sum())} leavers)",
        )
    prior = fit_prior(fit.X, fit.y, cfg.prior_strength)
    # Trees on top of the prior, with the plain log-loss as objective and stopping metric
    # (with a positive-class weight, the unweighted stopping log-loss stopped a real shop's
    # model at round 1).
    params = {
        "objective": "binary",
        "metric": "binary_logloss",
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_data_in_leaf": cfg.min_data_in_leaf,
        "feature_fraction": cfg.feature_fraction,
        "lambda_l2": cfg.lambda_l2,
        "seed": cfg.seed,
        "deterministic": True,
        "num_threads": 2,
        "verbose": -1,
    }
    residual = fit_residual(
        params,
        (fit.X, fit.y, prior.logit(fit.X)),
        (valid.X, valid.y, prior.logit(valid.X)),
        cfg.max_rounds,
        cfg.early_stopping_rounds,
        cfg.dask,
    )
    # Trees alone, from the base rate: with enough leavers they may need no prior, and then
    # the reasons are theirs alone. The validation customers decide.
    base = float(np.log(fit.y.mean() / (1 - fit.y.mean())))
    alone = fit_residual(
        params,
        (fit.X, fit.y, np.full(len(fit), base)),
        (valid.X, valid.y, np.full(len(valid), base)),
        cfg.max_rounds,
        cfg.early_stopping_rounds,
        cfg.dask,
    )
    use_prior = alone.booster is None or residual.loss <= alone.loss
    if not use_prior:
        residual = alone
    rfm = bgnbd.rfm_from_features(train_frames[-1].X)
    bg = bgnbd.fit(*rfm)
    aov = train_frames[-1].X[:, feature_index("avg_order_value")]
    model = ChurnModel(
        booster=residual.booster,
        calibration_x=np.array([0.0, 1.0]),
        calibration_y=np.array([0.0, 1.0]),
        reason_tables={},
        bgnbd=bg.to_dict(),
        aov_prior=float(np.nanmedian(aov)),
        aov_prior_weight=2.0,
        horizon_days=cfg.horizon_days,
        risk_thresholds=(cfg.risk_medium, cfg.risk_high),
        prior=prior if use_prior else None,
    )
    recent = valid.select(valid.cutoffs == valid.cutoffs.max())
    model.calibration_x, model.calibration_y = platt(model.log_odds(recent.X), recent.y)
    # reasons are learnt on customers from every cutoff (the first rows are the oldest one)
    sample = fit.X[np.random.default_rng(cfg.seed).permutation(len(fit))[:4000]]
    model.reason_tables = reason_tables(model, sample, cfg.reason_bins)
    model.reason_direction, model.reason_median = reason_directions(model, sample)
    model.pack_reasons()
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
    uncalibrated = churn_metrics(test.y, raw_test)
    metrics["model_brier_uncalibrated"] = uncalibrated["brier"]
    metrics["model_roc_auc_uncalibrated"] = uncalibrated["roc_auc"]
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
    metrics["reason_top3_agreement"] = top3_agreement(model, test.X[:500])
    metrics["trees"] = float(residual.trees)
    metrics["linear_prior"] = float(use_prior)
    metrics["validation_logloss_start"] = residual.prior_loss
    metrics["validation_logloss"] = residual.loss
    levels = distinct_levels(p_test)
    metrics["probability_levels"] = float(levels)
    metrics["test_churn_rate"] = float(test.y.mean())
    metrics["feature_stream_seconds"] = streamed.seconds
    rows = {
        "events": streamed.events,
        "train": len(fit),
        "validation": len(valid),
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
    if cfg.recalibrate_on_test:
        # The test cutoff holds the most recent labels there are: once the gate has read the
        # test, the probabilities are calibrated on it, closest to the time they will serve
        # (the ranking, and so every ranking figure, is unchanged; the calibration figures
        # above are those of the validation calibration, measured on the test).
        model.calibration_x, model.calibration_y = platt(model.log_odds(test.X), test.y)
        metrics["recalibrated_on_test"] = 1.0
    return registry.publish(
        registry.Candidate(
            kind=KIND,
            gate_metric="roc_auc",
            value=metrics["model_roc_auc"],
            baseline=max(
                metrics["recency_roc_auc"], metrics["frequency_roc_auc"], metrics["bgnbd_roc_auc"]
            ),
            refusal=_degenerate(levels, cfg),
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
