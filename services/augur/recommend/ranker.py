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
        return self.trees.predict(features, threads=1)
