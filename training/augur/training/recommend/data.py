"""Interaction matrix and purchase history for the recommender, as of a cutoff.

Every signal of intent counts, weighted by strength (purchase > cart >
wishlist > view, configurable) and by recency (exponential decay), so the
collaborative model sees what a customer is into now, not years ago.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from augur.training.data.loader import Dataset
from augur.training.offline.batch import utc_seconds

DAY = 86400.0


@dataclass(frozen=True)
class Weights:
    """Confidence of each kind of event (a purchase of one unit = ``purchase``)."""

    purchase: float = 4.0
    add_to_cart: float = 2.0
    wishlist: float = 1.5
    view: float = 0.5
    half_life_days: float = 90.0


@dataclass
class Matrix:
    """users x items confidence matrix with its id maps."""

    users: pd.Index
    items: pd.Index
    csr: sp.csr_matrix
    stats: dict[str, float] = field(default_factory=dict)


def interaction_matrix(
    ds: Dataset, as_of: float, weights: Weights | None = None, items: pd.Index | None = None
) -> Matrix:
    """Decayed, weighted interactions up to ``as_of`` (Unix seconds)."""
    w = weights or Weights()
    frames = []
    orders = ds.orders[(ds.orders["quantity"] > 0)]
    t = utc_seconds(orders["timestamp"])
    keep = t <= as_of
    frames.append(
        pd.DataFrame(
            {
                "user": orders["customer_id"].to_numpy()[keep],
                "item": orders["item_id"].to_numpy()[keep],
                "w": w.purchase * np.minimum(orders["quantity"].to_numpy()[keep], 5),
                "t": t[keep],
            }
        )
    )
    inter = ds.interactions[ds.interactions["item_id"] != ""]
    kinds = {"add_to_cart": w.add_to_cart, "wishlist": w.wishlist, "view": w.view}
    inter = inter[inter["type"].isin(list(kinds))]
    t = utc_seconds(inter["timestamp"])
    keep = t <= as_of
    frames.append(
        pd.DataFrame(
            {
                "user": inter["customer_id"].to_numpy()[keep],
                "item": inter["item_id"].to_numpy()[keep],
                "w": inter["type"].map(kinds).to_numpy()[keep],
                "t": t[keep],
            }
        )
    )
    events = pd.concat(frames, ignore_index=True)
    events["w"] = events["w"] * np.exp2(-(as_of - events["t"]) / (w.half_life_days * DAY))
    events = events[events["w"] > 0]  # a kind weighted 0 is not an interaction at all
    users = pd.Index(np.sort(events["user"].unique()), name="customer_id")
    item_index = (
        items
        if items is not None
        else pd.Index(
            np.sort(ds.items["item_id"].unique())
            if len(ds.items)
            else np.sort(events["item"].unique())
        )
    )
    events = events[events["item"].isin(item_index)]
    rows = users.get_indexer(pd.Index(events["user"]))
    cols = item_index.get_indexer(pd.Index(events["item"]))
    csr = sp.csr_matrix(
        (events["w"].to_numpy(dtype=np.float32), (rows, cols)), shape=(len(users), len(item_index))
    )
    csr.sum_duplicates()
    return Matrix(users, item_index, csr, {"events": float(len(events)), "nnz": float(csr.nnz)})


def purchases(ds: Dataset, start: float, end: float) -> pd.DataFrame:
    """(customer_id, item_id, day) purchase days in (start, end], one row per day."""
    orders = ds.orders[ds.orders["quantity"] > 0]
    t = utc_seconds(orders["timestamp"])
    keep = (t > start) & (t <= end)
    out = pd.DataFrame(
        {
            "customer_id": orders["customer_id"].to_numpy()[keep],
            "item_id": orders["item_id"].to_numpy()[keep],
            "day": np.floor(t[keep] / DAY),
        }
    )
    return out.drop_duplicates()


def copurchase(
    ds: Dataset, as_of: float, items: pd.Index, top: int = 20, min_count: int = 2
) -> sp.csr_matrix:
    """items x items: for each item its ``top`` most co-purchased items (same order),
    weighted by cosine similarity of their order incidence; pairs seen fewer than
    ``min_count`` times are noise and dropped."""
    orders = ds.orders[(ds.orders["quantity"] > 0)]
    t = utc_seconds(orders["timestamp"])
    lines = orders[t <= as_of][["order_id", "item_id"]].drop_duplicates()
    cols = items.get_indexer(pd.Index(lines["item_id"]))
    keep = cols >= 0
    baskets = pd.factorize(lines["order_id"].to_numpy()[keep])[0]
    incidence = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (baskets, cols[keep])),
        shape=(int(baskets.max()) + 1 if len(baskets) else 0, len(items)),
    )
    counts = (incidence.T @ incidence).tocsr()
    counts.setdiag(0)
    counts.eliminate_zeros()
    counts.data[counts.data < min_count] = 0
    counts.eliminate_zeros()
    degree = np.sqrt(np.asarray(incidence.sum(axis=0)).ravel())
    cosine = sp.diags(1 / np.maximum(degree, 1)) @ counts @ sp.diags(1 / np.maximum(degree, 1))
    cosine = cosine.tocsr()
    rows, indices, data = [0], [], []
    for i in range(cosine.shape[0]):
        lo, hi = cosine.indptr[i], cosine.indptr[i + 1]
        order = np.argsort(-cosine.data[lo:hi], kind="stable")[:top]
        indices.append(cosine.indices[lo:hi][order])
        data.append(cosine.data[lo:hi][order])
        rows.append(rows[-1] + len(order))
    return sp.csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0, np.float32),
            np.concatenate(indices) if indices else np.zeros(0, np.int32),
            np.array(rows),
        ),
        shape=cosine.shape,
    )
