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
    """Decayed, weighted interactions up to ``as_of`` (Unix seconds). Ids are handled as
    codes: the order lines' (read once per data set) and the interactions' are mapped onto
    one id space, so no id string is sorted or compared per event."""
    w = weights or Weights()
    lines = _lines(ds)
    n = int(np.searchsorted(lines.t, as_of, side="right"))
    user_ids, item_ids = [lines.customers], [lines.items]
    user_codes, item_codes = [lines.customer[:n]], [lines.item[:n]]
    strength, seconds = [w.purchase * np.minimum(lines.quantity[:n], 5)], [lines.t[:n]]
    kinds = {"add_to_cart": w.add_to_cart, "wishlist": w.wishlist, "view": w.view}
    inter = ds.interactions
    kind, kind_names = pd.factorize(inter["type"])
    kind_weight = np.array([kinds.get(k, np.nan) for k in kind_names] + [np.nan])
    t = utc_seconds(inter["timestamp"])
    keep = np.flatnonzero(
        ~np.isnan(kind_weight[kind]) & (t <= as_of) & (inter["item_id"].to_numpy() != "")
    )
    if len(keep):
        u, u_ids = pd.factorize(inter["customer_id"].to_numpy()[keep])
        i, i_ids = pd.factorize(inter["item_id"].to_numpy()[keep])
        user_codes.append(u + len(lines.customers))
        item_codes.append(i + len(lines.items))
        user_ids.append(pd.Index(u_ids))
        item_ids.append(pd.Index(i_ids))
        strength.append(kind_weight[kind[keep]])
        seconds.append(t[keep])
    all_users, all_items = user_ids[0].append(user_ids[1:]), item_ids[0].append(item_ids[1:])
    weight = np.concatenate(strength) * np.exp2(
        -(as_of - np.concatenate(seconds)) / (w.half_life_days * DAY)
    )
    present = weight > 0  # a kind weighted 0 is not an interaction at all
    user_code = np.concatenate(user_codes)[present]
    item_code = np.concatenate(item_codes)[present]
    weight = weight[present]
    seen_users = np.flatnonzero(np.bincount(user_code, minlength=len(all_users)))
    users = pd.Index(np.unique(all_users[seen_users].to_numpy(dtype=object)), name="customer_id")
    if items is None:
        seen_items = np.flatnonzero(np.bincount(item_code, minlength=len(all_items)))
        items = pd.Index(
            np.sort(ds.items["item_id"].unique())
            if len(ds.items)
            else np.unique(all_items[seen_items].to_numpy(dtype=object))
        )
    rows = users.get_indexer(all_users)[user_code]
    cols = items.get_indexer(all_items)[item_code]
    inside = cols >= 0
    csr = sp.csr_matrix(
        (weight[inside].astype(np.float32), (rows[inside], cols[inside])),
        shape=(len(users), len(items)),
    )
    csr.sum_duplicates()
    return Matrix(users, items, csr, {"events": float(inside.sum()), "nnz": float(csr.nnz)})


@dataclass
class _Lines:
    """A data set's order lines with a positive quantity, in time order, ids as codes: read
    once per data set, then every window of ``purchases`` is a slice of it."""

    orders: pd.DataFrame  # the frame they were read from (the cache is keyed by identity)
    t: np.ndarray  # Unix seconds, ascending
    day: np.ndarray  # int64 days since the epoch
    customer: np.ndarray  # int64 codes into customers
    item: np.ndarray  # int64 codes into items
    quantity: np.ndarray
    customers: pd.Index
    items: pd.Index
    by_key: np.ndarray  # the lines in (customer, item, time) order: ``purchases`` slices it


_LINES: list[_Lines] = []  # the latest data sets read (a training reads one, an eval two)


def _lines(ds: Dataset) -> _Lines:
    for lines in _LINES:
        if lines.orders is ds.orders:
            return lines
    orders = ds.orders[ds.orders["quantity"] > 0]
    t = utc_seconds(orders["timestamp"])
    order = np.argsort(t, kind="stable")
    customer, customers = pd.factorize(orders["customer_id"], sort=True)
    item, items = pd.factorize(orders["item_id"], sort=True)
    lines = _Lines(
        ds.orders,
        t[order],
        np.floor(t[order] / DAY).astype(np.int64),
        customer[order].astype(np.int64),
        item[order].astype(np.int64),
        orders["quantity"].to_numpy()[order],
        pd.Index(customers),
        pd.Index(items),
        np.lexsort((np.arange(len(order)), item[order], customer[order])),
    )
    _LINES[:] = [lines, *_LINES[:1]]
    return lines


def purchases(ds: Dataset, start: float, end: float) -> pd.DataFrame:
    """(customer_id, item_id, day) purchase days in (start, end], one row per day, sorted by
    customer, item and day; the ids are categorical."""
    lines = _lines(ds)
    rows = lines.by_key
    t = lines.t[rows]
    rows = rows[(t > start) & (t <= end)]  # still in (customer, item, time) order: no sort
    customer, item, day = lines.customer[rows], lines.item[rows], lines.day[rows]
    keep = np.ones(len(rows), dtype=bool)  # the first line of each customer x item x day
    keep[1:] = (customer[1:] != customer[:-1]) | (item[1:] != item[:-1]) | (day[1:] != day[:-1])
    return pd.DataFrame(
        {
            "customer_id": pd.Categorical.from_codes(customer[keep], categories=lines.customers),
            "item_id": pd.Categorical.from_codes(item[keep], categories=lines.items),
            "day": day[keep].astype(float),
        }
    )


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
    cosine.sort_indices()
    # each row's ``top`` largest entries, ties in column order: one sort for all the rows
    row = np.repeat(np.arange(cosine.shape[0]), np.diff(cosine.indptr))
    order = np.lexsort((-cosine.data, row))
    rank = np.arange(len(order)) - cosine.indptr[row[order]]
    keep = order[rank < top]
    counts = np.bincount(row[keep], minlength=cosine.shape[0])
    return sp.csr_matrix(
        (
            cosine.data[keep].astype(np.float32),
            cosine.indices[keep].astype(np.int32),
            np.concatenate([[0], np.cumsum(counts)]),
        ),
        shape=cosine.shape,
    )
