"""Training the learnt blend (``augur.recommend.learnt``) on validation windows.

At each window start t the recommender is fitted on the purchases before t alone (its own
ALS, repeat statistics and popularity: a score from the final fit would have seen the
window), the served code lists every customer's candidates with their features, and a
candidate is relevant when the customer buys it in [t, t + H). The ranker learns on the older
window and is judged on the latest one, with the served list (score order under the diversity
cap), against buy-again (the customer's most often bought items) on the same customers. Only
when it wins is it served, refitted on both windows; otherwise the fixed blend serves and the
training report says so.

Each customer's rows form one ranking group, and their rows of items not bought before form a
second one, so the ranker also learns to order the new items among themselves (what a list
without repeat items shows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from augur.recommend.index import Query, RecommendIndex
from augur.recommend.learnt import Candidates, candidates, ordered
from augur.recommend.ranker import RepeatRanker, frequency_score
from augur.training.data.loader import Dataset
from augur.training.recommend.data import DAY, purchases
from augur.training.recommend.ranker import train_lambdarank

WINDOWS = 2  # window starts H and H + 30 days before the cutoff; the first judges
MIN_CUSTOMERS = 50  # customers who buy in the judging window, or no learnt blend
K = 10  # the list length the blend is judged at
BLOCK = 1000  # customers whose candidates are listed at once
MAX_CUSTOMERS = 2000  # customers of a window the ranker learns from (a seeded sample beyond)


@dataclass
class Window:
    """The candidates of one validation window, their relevance, and the query of each
    group."""

    index: RecommendIndex
    rows: Candidates
    relevant: np.ndarray


CAPS = (2, 3, 4, 5, 6, K)  # most items of one category in a list (K: no cap), tried


@dataclass
class Blend:
    ranker: str = ""  # LightGBM text; empty: the fixed blend serves
    metrics: dict[str, float] = field(default_factory=dict)
    cap: int = 0  # the diversity cap chosen with it (0: the configured one)


def fit_blend(
    ds: Dataset,
    cutoff: float,
    horizon_days: float,
    window_index: Callable[[float], tuple[RecommendIndex, list[str]]],
    seed: int,
) -> Blend:
    """The learnt blend's ranker when it beats buy-again on the latest window, else none.
    ``window_index(t)``: the recommender fitted on the purchases before t, ready to query,
    and the customers to list (``train.window_sample``)."""
    windows = [
        _window(ds, *window_index(cutoff - (horizon_days + 30 * k) * DAY), horizon_days)
        for k in range(WINDOWS)
    ]
    judge, older = windows[0], windows[1:]
    customers = _buyers(judge)
    metrics = {"blend_validation_customers": float(customers)}
    if customers < MIN_CUSTOMERS or sum(_buyers(w) for w in older) < MIN_CUSTOMERS:
        return Blend("", metrics)
    score = RepeatRanker(_train(older, seed)).score(judge.rows.features)
    # the diversity cap that lists best with it (the configured one on ties)
    by_cap = {cap: precision(judge, score, cap) for cap in CAPS}
    configured = judge.index.model.max_per_category
    by_cap.setdefault(configured, precision(judge, score, configured))
    cap = max(by_cap, key=lambda c: (by_cap[c], c == configured))
    rows = judge.rows
    again = np.where(rows.rep_row >= 0, frequency_score(*_count_elapsed(rows)), -np.inf)
    learnt, buy_again = by_cap[cap], precision(judge, again, cap=K)
    metrics.update(
        {f"blend_validation_p{K}_learnt": learnt, f"blend_validation_p{K}_buy_again": buy_again}
    )
    metrics.update({f"blend_validation_p{K}_cap_{c}": v for c, v in by_cap.items()})
    metrics["blend_cap"] = float(cap)
    if learnt <= buy_again:
        return Blend("", metrics)
    return Blend(_train(windows, seed), metrics, cap)


def _count_elapsed(rows: Candidates) -> tuple[np.ndarray, np.ndarray]:
    elapsed, _, count = rows.clock
    at = np.maximum(rows.rep_row, 0)
    return count[at], elapsed[at]


def _window(
    ds: Dataset, index: RecommendIndex, customers: list[str], horizon_days: float
) -> Window:
    t = index.model.trained_until
    parts = []
    for start in range(0, len(customers), BLOCK):
        block = customers[start : start + BLOCK]
        parts.append(candidates(index, [Query(c, K, t) for c in block]))
    rows = _joined(parts, BLOCK)
    later = purchases(ds, t, t + horizon_days * DAY)
    pos = {c: k for k, c in enumerate(customers)}
    who = pd.Series(later["customer_id"].astype(str)).map(pos).to_numpy()
    what = index.indices(later["item_id"].astype(str).tolist()) if len(later) else np.zeros(0)
    known = np.array([i in index.item_pos for i in later["item_id"].astype(str)], dtype=bool)
    who = who[known]
    ok = ~pd.isna(who)
    n_items = len(index.item_ids)
    truth = np.unique(who[ok].astype(np.int64) * n_items + np.asarray(what, np.int64)[ok])
    keys = rows.seg * n_items + rows.item
    at = np.minimum(np.searchsorted(truth, keys), max(len(truth) - 1, 0))
    relevant = (truth[at] == keys) if len(truth) else np.zeros(len(keys), dtype=bool)
    return Window(index, rows, relevant)


def _joined(parts: list[Candidates], block: int) -> Candidates:
    """Blocks of candidates as one, ``seg`` numbered across the blocks."""
    offsets = np.arange(len(parts)) * block
    clock_offsets = np.cumsum([0] + [len(p.clock[0]) for p in parts])[:-1]
    return Candidates(
        np.concatenate([p.seg + o for p, o in zip(parts, offsets, strict=True)]),
        np.concatenate([p.item for p in parts]),
        np.concatenate([p.source for p in parts]),
        np.concatenate(
            [
                np.where(p.rep_row >= 0, p.rep_row + o, -1)
                for p, o in zip(parts, clock_offsets, strict=True)
            ]
        ),
        np.vstack([p.features for p in parts]),
        tuple(np.concatenate([p.clock[i] for p in parts]) for i in range(3)),  # type: ignore[arg-type]
        np.zeros(0, np.int64),
        np.zeros(0, np.int64),
    )


def _buyers(w: Window) -> int:
    """Customers with a relevant candidate."""
    return len(np.unique(w.rows.seg[w.relevant]))


def precision(w: Window, score: np.ndarray, cap: int) -> float:
    """Mean P@K of the lists served with this diversity cap, over the customers with a
    relevant candidate."""
    rows = ordered(w.index, w.rows, score, K, cap)
    rows = rows[np.isfinite(score[rows])]
    hits = np.bincount(w.rows.seg[rows], weights=w.relevant[rows], minlength=_groups(w))
    buyers = np.bincount(w.rows.seg, weights=w.relevant, minlength=_groups(w)) > 0
    return float(np.mean(hits[buyers] / K)) if buyers.any() else 0.0


def _groups(w: Window) -> int:
    return int(w.rows.seg.max()) + 1 if len(w.rows.seg) else 0


def _train(windows: list[Window], seed: int) -> str:
    X, y, sizes = [], [], []
    for w in windows:
        seg, relevant = w.rows.seg, w.relevant
        new = w.rows.rep_row < 0
        for rows in (np.ones(len(seg), dtype=bool), new):
            hit = np.bincount(seg[rows & relevant], minlength=_groups(w)) > 0
            keep = np.flatnonzero(rows & hit[seg])  # grouped by customer already
            X.append(w.rows.features[keep])
            y.append(relevant[keep].astype(int))
            sizes.append(np.bincount(seg[keep])[np.unique(seg[keep])])
    return train_lambdarank(np.vstack(X), np.concatenate(y), np.concatenate(sizes), seed)
