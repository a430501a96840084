"""Reasons a retention agent can read: clean numbers, no missing values as drivers, robust
ratios, and a direction consistent with how the feature moves risk."""

from __future__ import annotations

import numpy as np
import pytest

from augur.churn.model import ChurnModel, ReasonTable
from augur.churn.reasons import reason_text
from augur.features.definitions import (
    DAY,
    FEATURE_NAMES,
    CanonicalEvents,
    EventKind,
    accumulate,
    feature_index,
    finalize,
)


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("category_entropy", -0.0, "Buys in one category only"),
        ("category_entropy", 2.0, "Spend spread over about 4 categories"),
        (
            "order_overdue_ratio",
            205787.4,
            "Next order is late: more than 10x the customer's usual gap",
        ),
        ("order_overdue_ratio", 2.0, "Next order is late: 2x the customer's usual gap"),
        ("orders_hl90", 21.74, "About 21.7 orders in recent months"),
        ("days_since_last_order", 364.2, "Last order 364 days ago"),
        ("contacts_hl30", -0.001, "Contacts received in recent weeks: 0"),
    ],
)
def test_numbers_read_cleanly(feature: str, value: float, text: str) -> None:
    assert reason_text(feature, value) == text


def test_same_day_baskets_do_not_make_the_usual_gap_vanish() -> None:
    t0 = 1_500_000_000.0
    kinds = [EventKind.ORDER] * 3
    events = CanonicalEvents(
        np.zeros(3, np.int64),
        np.array([t0, t0 + 600, t0 + 1200]),
        np.array([int(k) for k in kinds], np.int8),
        np.full(3, 10.0),
        np.ones(3),
        np.full(3, -1, np.int16),
    )
    f = finalize(accumulate(events, 1), t0 + 30 * DAY)[0]
    assert f[feature_index("mean_days_between_orders")] == pytest.approx(1.0)
    assert f[feature_index("order_overdue_ratio")] == pytest.approx(30.0, rel=1e-3)


def _model(direction: dict[str, float]) -> ChurnModel:
    tables = {
        name: ReasonTable(np.array([5.0]), np.array([0.2, -0.2]), 0.9) for name in FEATURE_NAMES
    }
    grid = np.linspace(0, 1, 3)
    return ChurnModel(
        None,
        grid,
        grid,
        tables,
        {"r": 1.0, "alpha": 30.0},
        50.0,
        1.0,
        horizon_days=30,
        reason_direction=direction,
        reason_median=dict.fromkeys(FEATURE_NAMES, 5.0),
    )


def test_a_missing_value_is_never_a_reason() -> None:
    x = np.full(len(FEATURE_NAMES), np.nan)
    x[feature_index("orders_total")] = 1.0
    reasons = _model({}).reasons(x, 5)
    assert [r.feature for r in reasons] == ["orders_total"]
    assert not any(r.text.startswith("No data") for r in reasons)


def test_a_reason_reads_the_way_the_feature_moves_risk() -> None:
    orders = feature_index("orders_total")
    x = np.full(len(FEATURE_NAMES), np.nan)
    x[orders] = 1.0  # few orders; the table says the low bin raises risk
    assert _model({"orders_total": -1.0}).reasons(x, 3)[0].contribution > 0
    # a feature known to raise risk with higher values cannot raise it from a low value
    assert _model({"orders_total": 1.0}).reasons(x, 3) == []
