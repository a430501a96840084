"""Churn training on real shops' data spans: cutoffs from the data, clear refusals, and a
gate that will not serve a degenerate model."""

from __future__ import annotations

import pandas as pd
import pytest

from augur.training.churn.labels import plan_cutoffs
from augur.training.churn.train import ChurnConfig, _degenerate

START = pd.Timestamp("2017-01-01T11:53:26Z")  # a real log starts mid-day


def test_cutoffs_are_derived_from_the_span_and_leave_history_before_the_first() -> None:
    plan = plan_cutoffs(START, pd.Timestamp("2017-09-30T23:00Z"), 91)
    assert not plan.by_customer
    assert plan.train[0] >= START + pd.Timedelta(days=30)  # customers exist at every cutoff
    assert plan.train[-1] + pd.Timedelta(days=91) <= plan.test
    assert plan.test + pd.Timedelta(days=91) <= pd.Timestamp("2017-09-30T23:00Z")
    gaps = {b - a for a, b in zip(plan.train, plan.train[1:], strict=False)}
    assert len(gaps) == 1 and len(plan.train) >= 4  # closer than 30 days to have four


def test_a_long_horizon_on_a_short_log_tests_on_held_out_customers() -> None:
    plan = plan_cutoffs(pd.Timestamp("1997-01-01T00:00Z"), pd.Timestamp("1997-12-31T00:00Z"), 180)
    assert plan.by_customer and plan.test == plan.train[-1]
    assert plan.test + pd.Timedelta(days=180) <= pd.Timestamp("1997-12-31T00:00Z")


def test_an_impossible_horizon_says_how_much_history_it_needs() -> None:
    with pytest.raises(ValueError, match=r"needs at least \d+ days of orders.*spans 120 days"):
        plan_cutoffs(START, START + pd.Timedelta(days=120), 180)


def test_the_gate_refuses_a_degenerate_model() -> None:
    cfg = ChurnConfig()
    assert "5 distinct probabilities" in str(_degenerate(5, cfg))
    assert _degenerate(400, cfg) is None
