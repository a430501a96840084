"""Churn training: labels without leakage, calibration, baselines, registry gate, drivers."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from augur.churn.model import META_FILE, ChurnModel
from augur.cli import main as cli
from augur.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from augur.training import registry
from augur.training.churn.labels import churn_labels, labelled_frame
from augur.training.churn.train import ChurnConfig, train_churn
from augur.training.data.loader import Dataset, load_dataset
from augur.training.offline.batch import FeatureFrame
from augur.training.offline.stream import compute_features, stream_features
from augur.training.registry import TrainReport


@pytest.fixture
def first(churn_trained: tuple[str, Path, TrainReport]) -> TrainReport:
    return churn_trained[2]


@pytest.fixture
def mlflow_store(churn_trained: tuple[str, Path, TrainReport]) -> tuple[str, Path]:
    return churn_trained[0], churn_trained[1]


def tiny() -> Dataset:
    def ts(day: int) -> pd.Timestamp:
        return pd.Timestamp("2025-01-01T12:00:00Z") + pd.Timedelta(days=day)

    orders = pd.DataFrame(
        {
            "customer_id": ["stays", "stays", "leaves", "late", "ended"],
            "order_id": ["o1", "o2", "o3", "o4", "o5"],
            "item_id": ["i"] * 5,
            "timestamp": [ts(10), ts(120), ts(20), ts(200), ts(30)],
            "quantity": [1] * 5,
            "unit_price": [1.0] * 5,
        }
    )
    customers = pd.DataFrame({"customer_id": ["ended"], "ended_at": [ts(140)]})
    empty = load_dataset.__globals__["empty_table"]
    tables = load_dataset.__globals__["TABLES"]
    cust = empty(tables["customers"]).iloc[:0]
    cust = pd.concat([cust, customers], ignore_index=True)
    cust["ended_at"] = cust["ended_at"].astype("datetime64[us, UTC]")
    return Dataset(
        orders=orders,
        interactions=empty(tables["interactions"]),
        contacts=empty(tables["contacts"]),
        customers=cust,
        items=empty(tables["items"]),
    )


def test_labels_follow_the_horizon_and_explicit_ends() -> None:
    ds = tiny()
    cutoff = pd.Timestamp("2025-04-01T00:00:00Z")  # day ~90
    later = pd.Timestamp("2025-07-01T00:00:00Z")
    streamed = stream_features(ds, lambda _, end: [cutoff.timestamp(), later.timestamp()])
    (at_cutoff, at_later), (next_order, next_later) = streamed.frames, streamed.next_order

    def labels(frame: FeatureFrame, after: np.ndarray, horizon: int) -> dict[str, bool]:
        return churn_labels(frame, after, ds.customers, horizon).to_dict()

    # "late" only ordered after the cutoff: not a customer at the cutoff
    assert labels(at_cutoff, next_order, 60) == {"ended": True, "leaves": True, "stays": False}
    longer = labels(at_cutoff, next_order, 30)
    assert longer["stays"] is True  # its next order (day 120) is outside 30 days
    after_end = labels(at_later, next_later, 90)
    assert "ended" not in after_end  # ended before that cutoff: not scored


def test_training_rows_see_nothing_after_their_cutoff(shop_data: Path) -> None:
    ds = load_dataset(shop_data)
    cutoff = pd.Timestamp("2025-06-01T00:00:00Z")
    # streamed from the files in small chunks (orders span chunks), as training does
    streamed = stream_features(shop_data, lambda _, end: [cutoff.timestamp()], rows=5000)
    frame = labelled_frame(streamed.frames[0], streamed.next_order[0], ds.customers, 90)
    past = Dataset(
        orders=ds.orders[ds.orders["timestamp"] <= cutoff],
        interactions=ds.interactions[ds.interactions["timestamp"] <= cutoff],
        contacts=ds.contacts[ds.contacts["sent_at"] > pd.Timestamp("2100-01-01", tz="UTC")],
        customers=ds.customers.assign(
            signup_at=ds.customers["signup_at"].where(ds.customers["signup_at"] <= cutoff)
        ),
        items=ds.items,
    )
    expected = compute_features(past, cutoff).to_frame()
    columns = [
        i
        for i, n in enumerate(FEATURE_NAMES)
        if "contact" not in n
        and "response" not in n
        and "unsubscribe" not in n
        and "conversion" not in n
    ]
    np.testing.assert_allclose(
        frame.X[:, columns],
        expected.loc[frame.customer_ids].to_numpy()[:, columns],
        rtol=1e-5,
        atol=1e-6,
    )


def test_model_beats_both_baselines_and_is_calibrated(first: TrainReport) -> None:
    m = first.metrics
    assert m["model_roc_auc"] >= 0.85
    assert m["model_roc_auc"] > m["recency_roc_auc"] and m["model_roc_auc"] > m["bgnbd_roc_auc"]
    assert m["active_model_roc_auc"] > m["active_recency_roc_auc"]
    assert m["model_brier"] < m["model_brier_uncalibrated"]  # calibration helps on held-out
    assert m["model_ece"] < 0.05
    assert m["reason_top3_agreement"] > 0.5
    assert first.promoted


def test_gate_refuses_a_worse_model_and_rollback_works(
    first: TrainReport,
    shop_data: Path,
    mlflow_store: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri, root = mlflow_store
    import augur.training.churn.train as trainer

    fitted = trainer.fit_prior

    def blind(X: np.ndarray, y: np.ndarray, strength: float) -> Any:
        prior = fitted(X, y, strength)
        prior.coef = np.zeros_like(prior.coef)  # a prior that knows nothing
        return prior

    monkeypatch.setattr(trainer, "fit_prior", blind)
    weak = ChurnConfig(
        max_rounds=1,
        num_leaves=2,
        early_stopping_rounds=1,
        min_data_in_leaf=500,
        min_probability_levels=1,
    )
    worse = train_churn(shop_data, uri, root, weak, progress=False)
    assert not worse.promoted
    assert "baseline" in worse.gate_reason or "champion" in worse.gate_reason
    assert worse.metrics["trees"] <= 1
    # the CLI marks both
    monkeypatch.setenv("AUGUR_MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("AUGUR_STATE_DIR", str(root))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["models", "list", "churn"]) == 0
    lines = {line.split()[1]: line for line in out.getvalue().splitlines()}
    assert lines[f"v{first.version}"].endswith("<- champion")
    assert "<- challenger" in lines[f"v{worse.version}"]
    name = registry.model_name("churn")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert str(client.get_model_version_by_alias(name, "champion").version) == first.version
    assert str(client.get_model_version_by_alias(name, "challenger").version) == worse.version
    # a manual promotion, then a rollback restores the previous champion
    registry.promote(name, worse.version)
    assert registry.rollback(name) == (worse.version, first.version)
    assert str(client.get_model_version_by_alias(name, "champion").version) == first.version


# The features of each planted driver: what a retention agent should be told about.
DRIVER_FEATURES = {
    "driver_service_problem": {"returns_hl90", "return_rate"},
    "driver_unanswered_contacts": {
        "unanswered_contacts_hl30",
        "contacts_hl30",
        "response_rate_hl90",
        "days_since_last_response",
    },
    "driver_price_increase": {"category_price_change", "unit_price_change"},
    "driver_abandoned_carts": {"carts_hl30", "cart_to_order_ratio", "removes_hl30"},
}


def test_planted_drivers_show_up_in_reasons(
    first: TrainReport, shop_data: Path, mlflow_store: tuple[str, Path]
) -> None:
    """Customers who start leaving because of a planted driver are told so by their reasons.

    Each customer is looked at when the driver acts: the end of the week in which they
    start to disengage (the generator decides from that week's signals), before their
    activity fades. Customers starting within eight weeks of the test cutoff; a reason
    counts when it names one of the driver's features and raises the risk.
    """
    uri, root = mlflow_store
    registry.configure(uri, root, "augur-churn")
    path = registry.download(registry.model_name("churn"), first.version, root / "models")
    model = ChurnModel.load(path / "artifacts" / "model")
    truth = pd.read_csv(shop_data / "truth" / "customers.csv", parse_dates=["disengage_at"])
    week = pd.Timedelta(days=7)
    streamed = stream_features(shop_data, lambda _, end: [end - 90 * 86400.0])
    cutoff = pd.Timestamp(streamed.frames[0].as_of, unit="s", tz="UTC")
    near = truth[(truth["disengage_at"] - cutoff).abs() <= 8 * week]
    seen = sorted(near["disengage_at"].unique())
    frames = stream_features(
        shop_data, lambda _, end: [float((t + week).timestamp()) for t in seen]
    ).frames
    rows: dict[str, np.ndarray] = {}
    for t, frame in zip(seen, frames, strict=True):
        values = frame.to_frame()
        for c in near.loc[near["disengage_at"] == t, "customer_id"]:
            if c in values.index:
                rows[c] = values.loc[c].to_numpy()
    near = near[near["customer_id"].isin(rows)]
    raising = {
        c: {r.feature for r in model.reasons(x, 5) if r.contribution > 0} for c, x in rows.items()
    }
    for driver, names in DRIVER_FEATURES.items():
        flagged = near[driver].to_numpy(dtype=bool)
        hits = np.array([bool(raising[c] & names) for c in near["customer_id"]])
        affected, others = hits[flagged], hits[~flagged]
        assert len(affected) >= 20 and len(others) >= 20, driver
        message = f"{driver}: {affected.mean():.0%} of {len(affected)} affected against "
        message += f"{others.mean():.0%} of {len(others)} others"
        assert affected.mean() > 0.3, message
        assert affected.mean() > others.mean() + 0.1, message


def test_a_model_of_another_feature_set_is_not_served(
    first: TrainReport, mlflow_store: tuple[str, Path], tmp_path: Path
) -> None:
    """A model trained on an older feature set is refused by the services (its vectors would
    not line up with the stored ones); the training gate can still read it."""
    uri, root = mlflow_store
    registry.configure(uri, root, "augur-churn")
    path = registry.download(registry.model_name("churn"), first.version, root / "models")
    old = tmp_path / "model"
    shutil.copytree(path / "artifacts" / "model", old)
    meta_file = old / META_FILE
    meta = json.loads(meta_file.read_text())
    meta["feature_set_version"] = FEATURE_SET_VERSION - 1
    meta["feature_names"] = meta["feature_names"][:-1]
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=f"feature set {FEATURE_SET_VERSION - 1} "):
        ChurnModel.load(old)
    assert ChurnModel.load(old, servable=False).feature_set_version == FEATURE_SET_VERSION - 1
