"""Training the repeat ranker on validation windows cut from the training data: at each
window start t the repeat statistics are those of the purchases before t, and an item is
relevant when the customer buys it in [t, t + H)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from augur.recommend.ranker import RANKER_FEATURES, repeat_features
from augur.training.data.loader import Dataset
from augur.training.recommend.data import DAY, purchases
from augur.training.recommend.repeat import RepeatModel

WINDOWS = 3  # window starts H, H + 30 and H + 60 days before the cutoff
MIN_GROUPS = 50  # customers with a repeat purchase in the windows, or no ranker


def item_buyers(repeat: RepeatModel, items: pd.Index) -> np.ndarray:
    """Customers who bought each item of ``items`` (the ranker's popularity feature)."""
    counts = pd.Series(repeat.item).value_counts()
    return counts.reindex(items).fillna(0).to_numpy(dtype=np.float32)


def window_rows(
    ds: Dataset, start: float, horizon_days: float, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, relevance, group sizes) of the customers who buy again in the window, rows
    grouped by customer."""
    repeat = RepeatModel.fit(purchases(ds, -np.inf, start), sigma=sigma)
    later = purchases(ds, start, start + horizon_days * DAY)
    frame = repeat.frame()[["customer_id", "item_id"]]
    bought = later[["customer_id", "item_id"]].drop_duplicates().assign(relevant=1)
    frame = frame.merge(bought, on=["customer_id", "item_id"], how="left")
    relevant = frame["relevant"].fillna(0).to_numpy(dtype=int)
    keep = frame.groupby("customer_id", sort=False)["relevant"].transform("sum").to_numpy() > 0
    order = np.flatnonzero(keep)[np.argsort(frame["customer_id"].to_numpy()[keep], kind="stable")]
    if not len(order):
        return np.zeros((0, len(RANKER_FEATURES))), np.zeros(0, int), np.zeros(0, int)
    customers = frame["customer_id"].to_numpy()[order]
    _, starts, sizes = np.unique(customers, return_index=True, return_counts=True)
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


def fit_repeat_ranker(
    ds: Dataset, cutoff: float, horizon_days: float, sigma: float, seed: int
) -> str:
    """The ranker's LightGBM text, or "" when the windows hold too few repeat buyers."""
    parts = [
        window_rows(ds, cutoff - (horizon_days + 30 * k) * DAY, horizon_days, sigma)
        for k in range(WINDOWS)
    ]
    groups = np.concatenate([g for _, _, g in parts])
    if len(groups) < MIN_GROUPS:
        return ""
    params = {
        "objective": "lambdarank",
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": 50,
        "lambdarank_truncation_level": 20,
        "seed": seed,
        "deterministic": True,
        "num_threads": 2,
        "verbose": -1,
    }
    data = lgb.Dataset(
        np.vstack([x for x, _, _ in parts]), np.concatenate([y for _, y, _ in parts]), group=groups
    )
    return str(lgb.train(params, data, num_boost_round=200).model_to_string())
