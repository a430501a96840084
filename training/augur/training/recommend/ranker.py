"""Training the repeat ranker on validation windows cut from the training data: at each
window start t the repeat statistics are those of the purchases before t, and an item is
relevant when the customer buys it in [t, t + H).

The ranker learns on the older windows and is judged on the latest one against the two fixed
orders it must beat, "buy again" (the customer's most often bought items) and the repeat clock
(most due first). The best of the three orders the repeat list, so the learnt order is never
served where it is worse than buy-again on the shop's own validation window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from augur.recommend.ranker import (
    RANKER_FEATURES,
    RepeatRanker,
    frequency_score,
    repeat_features,
)
from augur.training.data.loader import Dataset
from augur.training.recommend.data import DAY, purchases
from augur.training.recommend.repeat import RepeatModel, repeat_as_of

WINDOWS = 3  # window starts H, H + 30 and H + 60 days before the cutoff; the first judges
MIN_GROUPS = 50  # customers with a repeat purchase in the windows, or no ranker
K = 10  # the list length the orders are judged at
ROUNDS = 100  # boosting rounds: each is a tree that every candidate of every request walks


@dataclass
class RepeatOrder:
    """How the repeat list is ordered, and the precision of each order on the judging
    window (same customers, same rows)."""

    order: str  # one of REPEAT_ORDERS
    ranker: str = ""  # LightGBM text when order == "ranker"
    metrics: dict[str, float] = field(default_factory=dict)


def item_buyers(repeat: RepeatModel, items: pd.Index) -> np.ndarray:
    """Customers who bought each item of ``items`` (the ranker's popularity feature)."""
    counts = pd.Series(repeat.item).value_counts()
    return counts.reindex(items).fillna(0).to_numpy(dtype=np.float32)


def window_rows(
    ds: Dataset, start: float, horizon_days: float, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, relevance, group sizes) of the customers who buy again in the window, rows
    grouped by customer."""
    repeat = repeat_as_of(ds, start, sigma)
    later = purchases(ds, start, start + horizon_days * DAY)
    frame = repeat.frame()[["customer_id", "item_id"]]
    bought = later[["customer_id", "item_id"]].drop_duplicates().assign(relevant=1)
    frame = frame.merge(bought, on=["customer_id", "item_id"], how="left")
    relevant = frame["relevant"].fillna(0).to_numpy(dtype=int)
    keep = frame.groupby("customer_id", sort=False)["relevant"].transform("sum").to_numpy() > 0
    order = np.flatnonzero(keep)  # the repeat rows come grouped by customer
    if not len(order):
        return np.zeros((0, len(RANKER_FEATURES))), np.zeros(0, int), np.zeros(0, int)
    customers = frame["customer_id"].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, customers[1:] != customers[:-1]])
    sizes = np.diff(np.r_[starts, len(customers)])
    count = repeat.count[order]
    totals = np.repeat(np.add.reduceat(count, starts), sizes)
    buyers = pd.Series(repeat.item).value_counts()
    X = repeat_features(
        count,
        start / DAY - repeat.last_day[order],
        repeat.interval_days[order],
        sigma,
        horizon_days,
        buyers.reindex(repeat.item[order]).fillna(0).to_numpy(dtype=np.float64),
        customer_totals=totals,
    )
    return X, relevant[order], sizes


def precision_at(score: np.ndarray, relevant: np.ndarray, sizes: np.ndarray, k: int) -> float:
    """Mean over groups (rows grouped by customer, in order) of the relevant share of the
    ``k`` best-scored rows of the group."""
    if not len(sizes):
        return 0.0
    group = np.repeat(np.arange(len(sizes)), sizes)
    order = np.lexsort((-score, group))  # by group, best first; groups stay in row order
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    rank = np.arange(len(order)) - starts  # position of each sorted row within its group
    hits = np.bincount(group[order], weights=relevant[order] * (rank < k), minlength=len(sizes))
    return float(np.mean(hits / k))


def fit_repeat_order(
    ds: Dataset, cutoff: float, horizon_days: float, sigma: float, seed: int, learn: bool = True
) -> RepeatOrder:
    """The order of the repeat list judged on the latest window: the ranker (learnt on the
    older windows) when it beats buy-again there, else the better of buy-again and the clock."""
    parts = [
        window_rows(ds, cutoff - (horizon_days + 30 * k) * DAY, horizon_days, sigma)
        for k in range(WINDOWS)
    ]
    (X, y, sizes), older = parts[0], parts[1:]
    if len(sizes) < MIN_GROUPS // 2:
        return RepeatOrder("clock", metrics={"repeat_validation_customers": float(len(sizes))})
    columns = {name: i for i, name in enumerate(RANKER_FEATURES)}
    count, elapsed = X[:, columns["purchase_days"]], X[:, columns["days_since_last"]]
    scores = {
        "frequency": frequency_score(count, elapsed),
        "clock": X[:, columns["due_probability"]],
    }
    groups = np.concatenate([g for _, _, g in older])
    ranker = ""
    if learn and len(groups) >= MIN_GROUPS:
        ranker = train_lambdarank(
            np.vstack([x for x, _, _ in older]),
            np.concatenate([r for _, r, _ in older]),
            groups,
            seed,
        )
        scores["ranker"] = RepeatRanker(ranker).score(X)
    precision = {name: precision_at(s, y, sizes, K) for name, s in scores.items()}
    # the best order; buy-again wins every tie (the ranker must beat it outright)
    best = max(precision, key=lambda o: (precision[o], o == "frequency"))
    metrics = {f"repeat_validation_p{K}_{name}": value for name, value in precision.items()}
    metrics["repeat_validation_customers"] = float(len(sizes))
    return RepeatOrder(best, ranker if best == "ranker" else "", metrics)


def train_lambdarank(X: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int) -> str:
    """A lambdarank booster (LightGBM text) on rows grouped by customer: the repeat ranker's
    and the learnt blend's one recipe."""
    params = {
        "objective": "lambdarank",
        "learning_rate": 0.1,
        "num_leaves": 31,
        "min_data_in_leaf": 50,
        "lambdarank_truncation_level": 20,
        "seed": seed,
        "deterministic": True,
        "num_threads": 2,
        "verbose": -1,
    }
    data = lgb.Dataset(X, y, group=groups)
    # 100 rounds at 0.1 scored as well as 200 at 0.05 on Complete Journey's development half
    # (P@10 0.3825 against 0.3840, new items 0.0372 against 0.0364): half the serving cost
    return str(lgb.train(params, data, num_boost_round=ROUNDS).model_to_string())
