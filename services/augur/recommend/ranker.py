"""The learnt order of a customer's repeat items.

A fixed rule (the repeat clock's "due" probability) lost to plain "buy again" (the customer's
most often bought items) on a real grocer's baskets. The ranker, a LightGBM lambdarank model
trained on validation windows cut from the training data, orders the customer's past items by
what the same statistics say together: how often and how lately they were bought, the
customer's own cycle for each, how due it is, its share of the customer's trips and how many
customers buy it. The features are computed here, once, for training and for serving.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from augur.common.trees import Trees
from augur.recommend.timing import due_probability

RANKER_FEATURES = (
    "purchase_days",
    "days_since_last",
    "interval_days",
    "overdue",
    "due_probability",
    "customer_purchase_days",
    "share_of_customer",
    "item_buyers_log",
)
# how the repeat list is ordered: the learnt ranker, "buy again" (purchase days, then recency)
# or the repeat clock (most due first); training chooses on a validation window
REPEAT_ORDERS = ("ranker", "frequency", "clock")


def repeat_features(
    count: np.ndarray,
    elapsed: np.ndarray,
    interval: np.ndarray,
    sigma: float,
    horizon_days: float,
    item_buyers: np.ndarray,
    customer_totals: np.ndarray | None = None,
    due: np.ndarray | None = None,
) -> np.ndarray:
    """One row per past item. Without ``customer_totals`` the rows are ONE customer's (the
    customer columns sum over them); with it, any customers' rows, each with its customer's
    total purchase days. ``due``: the rows' due probability when the caller has it."""
    total = (
        customer_totals
        if customer_totals is not None
        else np.full(len(count), float(count.sum()) if len(count) else 0.0)
    )
    p = due if due is not None else due_probability(elapsed, interval, count, sigma, horizon_days)
    return np.column_stack(
        [
            count,
            elapsed,
            interval,
            elapsed / np.maximum(interval, 1.0),
            p,
            total,
            count / np.maximum(total, 1.0),
            np.log1p(item_buyers),
        ]
    ).astype(np.float64)


def frequency_score(count: np.ndarray, elapsed: np.ndarray) -> np.ndarray:
    """Buy-again's order: most purchase days first, the latest bought first among equals."""
    return count + 1.0 / (2.0 + np.maximum(elapsed, 0.0))


class RepeatRanker:
    """A lambdarank booster over ``RANKER_FEATURES``; higher scores rank first."""

    def __init__(self, model_string: str) -> None:
        self.trees = Trees(lgb.Booster(model_str=model_string))

    def score(self, features: np.ndarray) -> np.ndarray:
        if not len(features):
            return np.zeros(0)
        return self.trees.predict(features)  # both cores from BULK_ROWS rows (a block)


# the learnt blend's features: one row per candidate of a customer (an item bought before, a
# stored ALS candidate, a popular item of a favourite category), computed here for training
# and serving alike (``augur.recommend.learnt``)
CANDIDATE_FEATURES = (
    "bought_before",
    "purchase_days",
    "days_since_last",
    "interval_days",
    "overdue",
    "due_probability",
    "customer_purchase_days",
    "share_of_customer",
    "item_buyers_log",
    "item_buyers_30_log",
    "item_buyers_90_log",
    "item_trend",
    "als_score",
    "category_share",
    "customer_items",
    "item_repeat_rate",
    "days_since_last_visit",
    "recent_purchase_days_30",
    "recent_purchase_days_90",
    "recent_visits_30",
    "recent_visits_90",
)
HALF_LIVES = (30.0, 90.0)  # days: the decayed counts of purchase days and visits


def decay(days: np.ndarray | float, half_life: np.ndarray | float) -> np.ndarray:
    """The weight of a purchase ``days`` ago in a count decayed with this half-life."""
    return np.exp2(-np.asarray(days, dtype=np.float64) / half_life)


def candidate_features(
    bought: np.ndarray,
    count: np.ndarray,
    elapsed: np.ndarray,
    interval: np.ndarray,
    due: np.ndarray,
    customer_days: np.ndarray,
    customer_items: np.ndarray,
    category_share: np.ndarray,
    item_stats: np.ndarray,
    als: np.ndarray,
    since_visit: np.ndarray,
    recent: np.ndarray,
    visits: np.ndarray,
) -> np.ndarray:
    """One row per candidate (``CANDIDATE_FEATURES``). Rows of items not bought before carry
    NaN for their clock (LightGBM's missing value) and 0 for counts and due-ness; ``item_stats``
    holds the candidates' rows of ``item_stats``'s columns; ``recent`` and ``visits`` the
    customer's purchase days of the item and visit days, decayed to now (rows x HALF_LIVES)."""
    old = bought.astype(bool)
    elapsed = np.where(old, elapsed, np.nan)
    interval = np.where(old, interval, np.nan)
    buyers, b30, b90, repeat_rate = item_stats.T
    return np.column_stack(
        [
            old.astype(np.float64),
            np.where(old, count, 0.0),
            elapsed,
            interval,
            elapsed / np.maximum(interval, 1.0),
            np.where(old, due, 0.0),
            customer_days,
            np.where(old, count, 0.0) / np.maximum(customer_days, 1.0),
            np.log1p(buyers),
            np.log1p(b30),
            np.log1p(b90),
            np.log((b30 + 1.0) / (b90 / 3.0 + 1.0)),
            als,
            category_share,
            customer_items,
            repeat_rate,
            since_visit,
            np.where(old[:, None], recent, 0.0),
            visits,
        ]
    ).astype(np.float64)


def item_stats(
    buyers: np.ndarray, buyers_30: np.ndarray, buyers_90: np.ndarray, again: np.ndarray
) -> np.ndarray:
    """items x 4: buyers ever, buyers in the last 30 and 90 days before the cutoff, and the
    share of buyers who bought it on two days or more (shrunk: (again + 1) / (buyers + 3))."""
    return np.column_stack([buyers, buyers_30, buyers_90, (again + 1.0) / (buyers + 3.0)]).astype(
        np.float64
    )
