"""Feature definitions: as-of correctness, order-free merging, known values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from augur.features.definitions import (
    A_N_ORDERS,
    DAY,
    FEATURE_NAMES,
    CanonicalEvents,
    EventKind,
    accumulate,
    feature_index,
    finalize,
    merge,
)
from augur.training.data.loader import Dataset, load_dataset
from augur.training.offline.batch import canonical_events
from augur.training.offline.stream import compute_features


def truncated(ds: Dataset, cutoff: pd.Timestamp) -> Dataset:
    """The data set as it was known at the cutoff (outcomes after it blanked)."""
    contacts = ds.contacts[ds.contacts["sent_at"] <= cutoff].copy()
    for col in ("opened_at", "clicked_at", "converted_at", "unsubscribed_at"):
        contacts.loc[contacts[col] > cutoff, col] = pd.NaT
    customers = ds.customers.copy()
    customers.loc[customers["signup_at"] > cutoff, "signup_at"] = pd.NaT
    return Dataset(
        orders=ds.orders[ds.orders["timestamp"] <= cutoff],
        interactions=ds.interactions[ds.interactions["timestamp"] <= cutoff],
        contacts=contacts,
        customers=customers,
        items=ds.items,
    )


def test_features_at_cutoff_ignore_every_later_event(small_data: Path) -> None:
    ds = load_dataset(small_data)
    cutoff = pd.Timestamp("2025-05-01T00:00:00Z")
    full = compute_features(ds, cutoff).to_frame()
    past_only = compute_features(truncated(ds, cutoff), cutoff).to_frame()
    assert list(full.index) == list(past_only.index)
    pd.testing.assert_frame_equal(full, past_only, rtol=1e-6)
    # and the later events do change the features at a later cutoff
    later = compute_features(ds, pd.Timestamp("2025-07-01T00:00:00Z")).to_frame()
    common = full.index.intersection(later.index)
    assert not np.allclose(full.loc[common, "orders_total"], later.loc[common, "orders_total"])


def test_merge_is_order_free(small_data: Path) -> None:
    events, ids = canonical_events(load_dataset(small_data))
    rng = np.random.default_rng(0)
    split = rng.random(len(events)) < 0.5
    whole = accumulate(events, len(ids))
    parts = merge(
        accumulate(events.select(split), len(ids)), accumulate(events.select(~split), len(ids))
    )
    t = float(events.ts.max())
    np.testing.assert_allclose(finalize(whole, t), finalize(parts, t), rtol=1e-5, atol=1e-6)


def _events(rows: list[tuple[float, EventKind, float, float, int]]) -> CanonicalEvents:
    return CanonicalEvents(
        np.zeros(len(rows), np.int64),
        np.array([r[0] for r in rows]),
        np.array([int(r[1]) for r in rows], np.int8),
        np.array([r[2] for r in rows]),
        np.array([r[3] for r in rows]),
        np.array([r[4] for r in rows], np.int16),
    )


def test_known_values_for_one_customer() -> None:
    t0 = pd.Timestamp("2025-01-01T00:00:00Z").timestamp()
    events = _events(
        [
            (t0, EventKind.ORDER, 10.0, 1.0, -1),
            (t0 + 10 * DAY, EventKind.ORDER, 30.0, 3.0, -1),
            (t0 + 30 * DAY, EventKind.ORDER, 20.0, 2.0, -1),
            (t0 + 31 * DAY, EventKind.VIEW, 0.0, 0.0, -1),
            (t0 + 31 * DAY, EventKind.CONTACT_SENT, 0.0, 0.0, 1),
        ]
    )
    acc = accumulate(events, 1)
    as_of = t0 + 40 * DAY
    f = dict(zip(FEATURE_NAMES, finalize(acc, as_of)[0], strict=True))
    assert acc[0, A_N_ORDERS] == 3
    assert f["orders_total"] == 3 and f["revenue_total"] == 60
    assert np.isclose(f["days_since_last_order"], 10)
    assert np.isclose(f["mean_days_between_orders"], 15)
    assert np.isclose(f["order_overdue_ratio"], 10 / 15)
    assert np.isclose(f["avg_order_value"], 20)
    expected = sum(2 ** (-(40 - d) / 30) for d in (0, 10, 30))
    assert np.isclose(f["orders_hl30"], expected, rtol=1e-6)
    assert np.isclose(f["days_since_last_view"], 9)
    sent = 2 ** (-9 / 90)  # one SMS sent 9 days before, 90-day half-life
    assert np.isclose(f["response_rate_sms"], 0.5 / (2 + sent), rtol=1e-6)
    assert np.isclose(f["response_rate_email"], 0.25)
    assert np.isnan(f["days_since_last_response"])
    assert feature_index("orders_total") == FEATURE_NAMES.index("orders_total")


def test_decayed_sums_are_exact_from_1970_to_2100_and_merge_online() -> None:
    """Feature set 2 stored decayed sums relative to 2020: 1997 data underflowed to NaN and
    2090 data overflowed. In the log domain any year gives the textbook value, and folding
    the events one at a time (as the ingestion consumer does) equals the batch fold."""
    for year in ("1971", "1997", "2039", "2090", "2099"):
        t0 = pd.Timestamp(f"{year}-03-01T00:00:00Z").timestamp()
        rows = [
            (t0, EventKind.ORDER, 10.0, 1.0, -1),
            (t0 + 3 * DAY, EventKind.ORDER, 0.0, 0.0, -1),  # a zero-value order still counts
            (t0 + 5 * DAY, EventKind.VIEW, 0.0, 0.0, -1),
            (t0 + 6 * DAY, EventKind.ORDER, 30.0, 3.0, -1),
        ]
        as_of = t0 + 8 * DAY
        batch = finalize(accumulate(_events(rows), 1), as_of)[0]
        online = accumulate(_events(rows[:1]), 1)
        for row in rows[1:]:
            online = merge(online, accumulate(_events([row]), 1))
        f = dict(zip(FEATURE_NAMES, batch, strict=True))
        assert np.isclose(f["orders_hl7"], sum(2 ** (-(8 - d) / 7) for d in (0, 3, 6)), rtol=1e-6)
        assert np.isclose(f["views_hl7"], 2 ** (-3 / 7), rtol=1e-6), year
        assert np.isclose(f["revenue_hl30"], 10 * 2 ** (-8 / 30) + 30 * 2 ** (-2 / 30), rtol=1e-6)
        assert np.isfinite(f["order_trend"]) and np.isfinite(f["browsing_trend"]), year
        np.testing.assert_allclose(finalize(online, as_of)[0], batch, rtol=1e-6, equal_nan=True)
        # far from the events the sums decay to zero, never to NaN
        late = finalize(accumulate(_events(rows), 1), as_of + 3650 * DAY)[0]
        assert late[feature_index("orders_hl7")] == 0.0
