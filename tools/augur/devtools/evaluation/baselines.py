"""The simple scorers Augur's churn model must beat, on the same customers and labels: each
reads only the orders before the cutoff."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from augur.training.churn import bgnbd

DAY = pd.Timedelta(days=1)
RFM_FEATURES = (
    "recency_days",
    "orders",
    "spend",
    "avg_order_value",
    "tenure_days",
    "orders_30d",
    "orders_90d",
    "spend_90d",
    "order_trend",
    "mean_gap_days",
)


def baskets(orders: pd.DataFrame) -> pd.DataFrame:
    """One row per order: customer, time of its first line, revenue."""
    frame = orders.assign(revenue=orders["quantity"].clip(lower=0) * orders["unit_price"])
    return (
        frame.groupby(["customer_id", "order_id"], sort=False)
        .agg(ts=("timestamp", "min"), revenue=("revenue", "sum"))
        .reset_index()
    )


def rfm(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Recency, frequency, monetary and trend features of every customer with an order
    before ``as_of`` (index: customer id)."""
    past = orders[orders["ts"] < as_of]
    days = (as_of - past["ts"]).dt.total_seconds() / 86400.0
    g = past.assign(
        days=days,
        recent30=(days <= 30).astype(float),
        recent90=(days <= 90).astype(float),
        spend90=past["revenue"].where(days <= 90, 0.0),
    ).groupby("customer_id")
    out = pd.DataFrame(
        {
            "recency_days": g["days"].min(),
            "orders": g.size().astype(float),
            "spend": g["revenue"].sum(),
            "tenure_days": g["days"].max(),
            "orders_30d": g["recent30"].sum(),
            "orders_90d": g["recent90"].sum(),
            "spend_90d": g["spend90"].sum(),
        }
    )
    out["avg_order_value"] = out["spend"] / out["orders"]
    yearly = out["orders"] / np.maximum(out["tenure_days"], 1.0) * 90
    out["order_trend"] = out["orders_90d"] / np.maximum(yearly, 1e-9)
    span = out["tenure_days"] - out["recency_days"]
    out["mean_gap_days"] = np.where(out["orders"] > 1, span / (out["orders"] - 1), np.nan)
    return out[list(RFM_FEATURES)]


def recency(features: pd.DataFrame) -> np.ndarray:
    return features["recency_days"].to_numpy(dtype=float)


def minus_frequency(features: pd.DataFrame) -> np.ndarray:
    return -features["orders"].to_numpy(dtype=float)


def bg_nbd(features: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """-E[purchases in the horizon] of a BG/NBD model fitted on the same customers' past."""
    x = features["orders"].to_numpy(dtype=float) - 1
    T = features["tenure_days"].to_numpy(dtype=float)
    t_x = T - features["recency_days"].to_numpy(dtype=float)
    model = bgnbd.fit(x, t_x, T)
    return -model.expected_purchases(horizon_days, x, t_x, T)


def lightgbm_rfm(
    orders: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int, customers: pd.Index
) -> tuple[np.ndarray, int]:
    """A plain LightGBM on the RFM features, trained on up to four earlier cutoffs whose
    label windows end by ``cutoff``; (probabilities for ``customers`` at the cutoff, trees)."""
    start = orders["ts"].min()
    X, y = [], []
    for k in range(4):
        c = cutoff - horizon_days * DAY - k * 30 * DAY
        if c < start + 30 * DAY:
            break
        f = rfm(orders, c)
        later = orders[(orders["ts"] >= c) & (orders["ts"] < c + horizon_days * DAY)]
        X.append(f.to_numpy(dtype=float))
        y.append(~f.index.isin(later["customer_id"].unique()))
    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": 40,
        "seed": 7,
        "deterministic": True,
        "num_threads": 2,
        "verbose": -1,
    }
    rounds = 200
    booster = lgb.train(params, lgb.Dataset(np.vstack(X), np.concatenate(y).astype(float)), rounds)
    now = rfm(orders, cutoff).reindex(customers)
    return np.asarray(booster.predict(now.to_numpy(dtype=float))), rounds
