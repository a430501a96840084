"""ChurnCore on in-memory features and snapshot: scoring, bands, validation, paging.

A small LightGBM model trained here on a planted rule (risk grows with days since the last
order), so the core is exercised with a real booster and no Redis or MLflow.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from augur.churn.bands import HIGH, LOW, MEDIUM, RiskBands
from augur.churn.core import ChurnCore
from augur.churn.model import ChurnModel
from augur.churn.snapshot import MemorySnapshots
from augur.common.errors import FailedPrecondition, InvalidArgument, NotFound
from augur.common.models import FixedModel, Loaded
from augur.common.settings import ChurnSettings, load_settings
from augur.features.definitions import FEATURE_NAMES, feature_index
from augur.features.store import InMemoryFeatureStore
from augur.training.churn.fit import reason_tables

RECENCY = feature_index("days_since_last_order")


@pytest.fixture(scope="module")
def model() -> ChurnModel:
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 10, (2000, len(FEATURE_NAMES)))
    X[:, RECENCY] = rng.uniform(0, 200, 2000)
    y = (rng.uniform(0, 200, 2000) < X[:, RECENCY]).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1, "seed": 3},
        lgb.Dataset(X, y),
        num_boost_round=30,
    )
    grid = np.linspace(0, 1, 11)
    model = ChurnModel(
        booster, grid, grid, {}, {"r": 1.0, "alpha": 30.0}, 50.0, 1.0, horizon_days=60
    )
    model.reason_tables = reason_tables(model, X[:500], 8)
    model.pack_reasons()
    return model


def _core(model: ChurnModel, **overrides: float) -> tuple[ChurnCore, InMemoryFeatureStore]:
    store = InMemoryFeatureStore()
    rows = np.zeros((3, len(FEATURE_NAMES)), np.float32)
    rows[:, RECENCY] = (2, 100, 199)
    store.write(["fresh", "middling", "gone"], np.zeros((3, 1)), rows, 1_700_000_000.0)
    snapshots = MemorySnapshots("augur-churn", "7")
    loaded = Loaded(model, "augur-churn", "7", "champion", 0.0, "registry")
    settings = load_settings(ChurnSettings, **overrides)
    return ChurnCore(store, snapshots, FixedModel(loaded), settings), store


def test_score_ranks_by_the_planted_rule_and_bands_by_the_models_thresholds(
    model: ChurnModel,
) -> None:
    core, _ = _core(model)
    scores = {c: core.score(c, True, 2)[0] for c in ("fresh", "middling", "gone")}
    assert scores["fresh"].probability < scores["middling"].probability
    assert scores["middling"].probability < scores["gone"].probability
    bands = RiskBands(*model.risk_thresholds)
    for s in scores.values():
        assert s.risk_band == bands.of(s.probability)
        assert s.value_at_risk == pytest.approx(s.probability * s.expected_value)
        assert s.features_as_of == 1_700_000_000.0 and s.horizon_days == 60
        assert len(s.reasons) == 2


def test_settings_override_the_thresholds_everywhere(model: ChurnModel) -> None:
    core, _ = _core(model, churn_risk_medium=0.0, churn_risk_high=1.0)
    assert core.score("gone", False, 0)[0].risk_band == MEDIUM
    _, chunks = core.score_batch(["fresh", "gone"], False, 0)
    assert list(next(chunks).band) == [MEDIUM, MEDIUM]


def test_batch_keeps_the_order_and_marks_the_unknown(model: ChurnModel) -> None:
    core, _ = _core(model)
    _, chunks = core.score_batch(["gone", "nobody", "fresh"], False, 0, chunk=2)
    first, second = list(chunks)
    assert first.customer_ids == ["gone", "nobody"] and list(first.found) == [True, False]
    assert second.customer_ids == ["fresh"] and len(second.probability) == 1
    single = core.score("gone", False, 0)[0].probability
    assert first.probability[0] == pytest.approx(single)


def test_bad_requests_say_what_is_wrong(model: ChurnModel) -> None:
    core, _ = _core(model)
    with pytest.raises(NotFound):
        core.score("nobody", False, 0)
    with pytest.raises(InvalidArgument, match="customer_id is required"):
        core.score("", False, 0)
    with pytest.raises(InvalidArgument, match="max_reasons"):
        core.score("gone", True, 99)
    with pytest.raises(InvalidArgument, match=r"customer_ids\[1\]"):
        core.score_batch(["gone", "bad\x00id"], False, 0)
    with pytest.raises(InvalidArgument, match="risk_bands"):
        core.list_at_risk(0, 10, "", [7])
    with pytest.raises(FailedPrecondition, match="no at-risk snapshot"):
        core.list_at_risk(0, 10, "", [])


def test_at_risk_pages_by_value_and_bands_rows_by_the_snapshots_thresholds(
    model: ChurnModel,
) -> None:
    core, _ = _core(model, churn_risk_medium=0.9, churn_risk_high=0.95)
    snapshots = core.snapshots
    assert isinstance(snapshots, MemorySnapshots)
    rows = [(f"c{i}", p, 100 * p) for i, p in enumerate((0.1, 0.4, 0.5, 0.7, 0.8, 0.2))]
    snapshots.replace(rows, RiskBands(0.3, 0.6))
    first = core.list_at_risk(0, 2, "", [])
    assert [c.customer_id for c in first.customers] == ["c4", "c3"] and first.total == 6
    second = core.list_at_risk(0, 2, first.next_token, [])
    assert [c.customer_id for c in second.customers] == ["c2", "c1"]
    assert [c.rank for c in second.customers] == [3, 4]
    # the snapshot's own thresholds (0.3, 0.6) decide, not the service's settings
    high = core.list_at_risk(0, 10, "", [HIGH])
    assert [c.customer_id for c in high.customers] == ["c4", "c3"] and high.total == 2
    assert {high.bands.of(c.probability) for c in high.customers} == {HIGH}
    low = core.list_at_risk(0.15, 10, "", [LOW])
    assert [c.customer_id for c in low.customers] == ["c5"]
    snapshots.replace(rows, RiskBands(0.3, 0.6))
    with pytest.raises(FailedPrecondition, match="older snapshot"):
        core.list_at_risk(0, 2, first.next_token, [])
