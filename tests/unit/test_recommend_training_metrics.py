"""Training side of the recommender: ranking metrics and repeat timing on hand-made data
(the service's core, services/augur/recommend/core.py, is tested in
tests/integration/test_recommend_service.py and its filters in test_recommend_filters.py)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from augur.training.recommend.evaluate import coverage, ranking_metrics
from augur.training.recommend.repeat import RepeatModel


def test_ranking_metrics_by_hand() -> None:
    lists = {"u": ["a", "x", "b", "y"]}
    m = ranking_metrics(lists, {"u": {"a", "b", "c"}}, k=4)
    assert m["precision@4"] == pytest.approx(2 / 4)
    assert m["recall@4"] == pytest.approx(2 / 3)
    dcg = 1 / np.log2(2) + 1 / np.log2(4)
    idcg = 1 / np.log2(2) + 1 / np.log2(3) + 1 / np.log2(4)
    assert m["ndcg@4"] == pytest.approx(dcg / idcg)
    assert m["map@4"] == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert coverage(lists, 8, 4) == pytest.approx(0.5)


def test_repeat_model_learns_planted_cycles() -> None:
    rows = []
    for c, cycle in (("weekly", 7), ("monthly", 30)):
        rows += [(c, "milk", 100 + i * cycle) for i in range(20)]
    rows.append(("newbie", "milk", 300))  # one purchase: falls back to the item's cycle
    model = RepeatModel.fit(pd.DataFrame(rows, columns=["customer_id", "item_id", "day"]))
    frame = model.frame().set_index("customer_id")
    assert frame.loc["weekly", "interval_days"] == pytest.approx(7, rel=0.2)
    assert frame.loc["monthly", "interval_days"] == pytest.approx(30, rel=0.2)
    assert 7 <= frame.loc["newbie", "interval_days"] <= 30
    # 6 days after the weekly buyer's last purchase, they are due within 3 days;
    # the monthly buyer is not (their last purchase is later still)
    last = {"weekly": 100 + 19 * 7, "monthly": 100 + 19 * 30}
    p = model.due_probability(last["weekly"] + 6, 3)
    due = dict(zip(model.customer, p, strict=True))
    assert due["weekly"] > 0.5 > due["monthly"]


def test_anticipation_calibration_maps_the_clock_to_observed_rates(small_data: Path) -> None:
    from augur.recommend.timing import calibrated
    from augur.training.data.loader import load_dataset
    from augur.training.recommend.anticipation import HORIZONS, fit_due_calibration
    from augur.training.reliability import reliability_by_decile

    p = np.array([0.01, 0.2, 0.6, 0.9])
    count = np.array([1.0, 2.0, 5.0, 9.0])
    assert calibrated(p, count, 30, np.zeros((0, 4))) is p  # no table: the clock as is
    table = np.array([[7.0, 1.0, 0.0, -1.0], [30.0, 1.0, 0.0, -2.0]])
    at7, at30, at90 = (calibrated(p, count, h, table) for h in (7, 30, 90))
    assert np.all(np.diff(at30) > 0) and np.all(at30 < at7)  # the fitted shifts, in order
    assert np.allclose(at90, at30)  # beyond the last fitted horizon: the last fit

    ds = load_dataset(small_data, only=("orders", "interactions", "items"))
    cutoff = ds.orders["timestamp"].max().timestamp()
    fitted, metrics = fit_due_calibration(ds, cutoff, 0.35, 30.0)
    assert fitted.shape[1] == 4 and set(fitted[:, 0]) <= set(HORIZONS) and len(fitted)
    assert metrics["anticipate_ece"] <= metrics["anticipate_ece_clock"]
    y = np.array([0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1])
    bins = reliability_by_decile(y, np.linspace(0.05, 0.95, len(y)))
    assert len(bins) == 10 and sum(b.count for b in bins) == len(y)
    assert all(a.high <= b.low for a, b in itertools.pairwise(bins))


def test_a_regular_buyer_gets_a_narrower_window_than_an_irregular_one() -> None:
    regular = [0, 7, 14, 21, 28, 35, 42]
    irregular = [0, 2, 15, 17, 35, 36, 42]
    history = pd.DataFrame(
        {
            "customer_id": ["r"] * 7 + ["i"] * 7 + ["once"],
            "item_id": "milk",
            "day": [float(d) for d in regular + irregular + [5]],
        }
    )
    model = RepeatModel.fit(history, sigma=0.35)
    spread = dict(zip(model.customer, model.spreads(), strict=True))
    assert spread["r"] < 0.2 < 0.35 < spread["i"]
    assert spread["once"] == pytest.approx(0.35)  # no gap of its own: the shop's spread
    start, end = model.window()
    width = dict(zip(model.customer, end - start, strict=True))
    assert width["r"] < width["i"]
