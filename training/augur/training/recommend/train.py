"""Recommendation training and evaluation: ALS (explore) + repeat timing, blended.

Time split: the model sees everything up to a cutoff; the test is what each
customer bought in the following ``test_days``. Every scorer is evaluated on
the same customers, overall and separately on repeat items (bought before the
cutoff) and new items: popularity, "buy again by frequency", plain ALS, the
repeat model, ALS restricted to new items (explore) and the blend.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from implicit.als import AlternatingLeastSquares
from implicit.nearest_neighbours import bm25_weight
from threadpoolctl import threadpool_limits

from augur.recommend.index import Query, RecommendIndex
from augur.recommend.learnt import answer
from augur.recommend.model import RecommendModel
from augur.recommend.ranker import HALF_LIVES, decay, item_stats
from augur.training.data.loader import Dataset
from augur.training.recommend.anticipation import fit_due_calibration
from augur.training.recommend.blend import MAX_CUSTOMERS, Blend, fit_blend
from augur.training.recommend.data import DAY, Weights, copurchase, interaction_matrix, purchases
from augur.training.recommend.evaluate import coverage, ranking_metrics
from augur.training.recommend.ranker import RepeatOrder, fit_repeat_order, item_buyers
from augur.training.recommend.repeat import RepeatModel


@dataclass
class RecommendConfig:
    """Training settings (logged as MLflow params)."""

    factors: int = 64
    iterations: int = 15
    regularization: float = 0.05
    bm25_k1: float = 100.0
    bm25_b: float = 0.8
    test_days: int = 30
    k: int = 10
    repeat_share: float = 0.7
    max_per_category: int = 4
    min_due_probability: float = 0.05
    session_confidence: float = 10.0
    gate_tolerance_ndcg: float = 0.01
    similar_per_item: int = 50
    candidates_per_user: int = 64
    # learn the order of repeat items (else: the better of buy-again and the repeat clock on the
    # validation window)
    repeat_ranker: bool = True
    # order every candidate with one ranker learnt on validation windows (each window fits its
    # own ALS); served only where it beats buy-again on the latest window
    blend_ranker: bool = True
    # ALS confidence: "bm25" (BM25-weighted, strong on browsing shops) or "log" (log(1 + decayed
    # weight): on a grocer's baskets BM25 flattens the staples that predict new items)
    confidence: str = "bm25"
    seed: int = 7
    weights: Weights = field(default_factory=Weights)

    @classmethod
    def from_recipe(cls, recipe: str) -> RecommendConfig:
        """The settings a model was trained with (its ``recipe``), to refit the same method."""
        values = json.loads(recipe)
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        if "weights" in known:
            known["weights"] = Weights(**known["weights"])
        return cls(**known)


@dataclass
class Fitted:
    """What the training produced (in memory)."""

    als: AlternatingLeastSquares
    matrix_users: pd.Index
    items: pd.Index
    weighted: sp.csr_matrix  # the confidence matrix ALS was fitted on
    cooc: sp.csr_matrix
    repeat: RepeatModel
    popular: list[str]
    category: dict[str, str]
    fit_seconds: float
    cutoff: float
    cfg: RecommendConfig
    order: RepeatOrder = field(default_factory=lambda: RepeatOrder("clock"))
    due_calibration: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    calibration_metrics: dict[str, float] = field(default_factory=dict)
    item_stats: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    blend: Blend = field(default_factory=Blend)
    visits: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # users x half-lives
    sample: np.ndarray | None = None  # a window fit's: the user rows listed (None: all)


CONFIDENCES = ("bm25", "log")
BLOCK = 1000  # customers answered at once in evaluation


def confidence_matrix(csr: sp.csr_matrix, cfg: RecommendConfig) -> sp.csr_matrix:
    if cfg.confidence == "log":
        out = csr.copy().astype(np.float32)
        out.data = np.log1p(out.data)
        return out
    if cfg.confidence != "bm25":
        raise ValueError(f"confidence must be one of {CONFIDENCES}, got {cfg.confidence!r}")
    return bm25_weight(csr, K1=cfg.bm25_k1, B=cfg.bm25_b).tocsr().astype(np.float32)


def fit_als(
    ds: Dataset, cutoff: float, cfg: RecommendConfig, items: pd.Index | None = None
) -> tuple[AlternatingLeastSquares, pd.Index, pd.Index, sp.csr_matrix, float]:
    """(ALS, users, items, the confidence matrix it was fitted on, ALS seconds); ``items``:
    the catalogue to index (default: every item known as of the cutoff)."""
    matrix = interaction_matrix(ds, cutoff, cfg.weights, items=items)
    weighted = confidence_matrix(matrix.csr, cfg)
    started = time.perf_counter()
    with threadpool_limits(1, "blas"):  # implicit parallelises itself; BLAS threads only hurt
        als = AlternatingLeastSquares(
            factors=cfg.factors,
            iterations=cfg.iterations,
            regularization=cfg.regularization,
            random_state=cfg.seed,
            num_threads=2,
        )
        als.fit(weighted, show_progress=False)
    return als, matrix.users, matrix.items, weighted, time.perf_counter() - started


def with_confidence(ds: Dataset, fitted: Fitted, confidence: str) -> Fitted:
    """The same fit with the ALS refitted on another confidence weighting."""
    cfg = dataclasses.replace(fitted.cfg, confidence=confidence)
    als, users, items, weighted, seconds = fit_als(ds, fitted.cutoff, cfg)
    return dataclasses.replace(
        fitted,
        als=als,
        matrix_users=users,
        items=items,
        weighted=weighted,
        fit_seconds=seconds,
        cfg=cfg,
    )


def fit(
    ds: Dataset,
    cutoff: float,
    cfg: RecommendConfig,
    items: pd.Index | None = None,
    window: bool = False,
) -> Fitted:
    """ALS on the confidence matrix, repeat statistics, the repeat ranker, popularity, the
    learnt blend. A ``window`` fit (a validation window's recommender, ``items`` the final
    catalogue) has what the learnt blend's candidates need and nothing more."""
    als, users, items, weighted, fit_seconds = fit_als(ds, cutoff, cfg, items)
    history = purchases(ds, -np.inf, cutoff)
    recent = history[history["day"] > cutoff / DAY - 90]
    popular = list(recent["item_id"].value_counts().index)
    category = (
        dict(zip(ds.items["item_id"], ds.items["category"], strict=True)) if len(ds.items) else {}
    )
    repeat = RepeatModel.fit(history, as_of_day=cutoff / DAY)
    stats = _item_stats(repeat, history, items, cutoff)
    visits = _visits(history, users, cutoff)
    if window:
        empty = sp.csr_matrix((len(items), len(items)), dtype=np.float32)
        return Fitted(
            als, users, items, weighted, empty, repeat, popular, category, fit_seconds, cutoff,
            cfg, item_stats=stats, visits=visits, sample=window_sample(repeat, users, cfg.seed),
        )  # fmt: skip
    blend = Blend()
    if cfg.blend_ranker:

        def window_index(t: float) -> tuple[RecommendIndex, list[str]]:
            window = fit(ds, t, cfg, items, window=True)
            assert window.sample is not None
            listed = window.matrix_users[window.sample].tolist()
            return RecommendIndex(to_model(window, neighbours=False)), listed

        blend = fit_blend(ds, cutoff, float(cfg.test_days), window_index, cfg.seed)
    # the repeat list's order, for the fixed blend (sessions; every list when the learnt
    # blend does not serve): a repeat ranker is learnt only when the fixed blend is all there is
    learn = cfg.repeat_ranker and not blend.ranker
    order = fit_repeat_order(ds, cutoff, cfg.test_days, repeat.sigma, cfg.seed, learn=learn)
    table, calibration = fit_due_calibration(ds, cutoff, repeat.sigma, float(cfg.test_days))
    return Fitted(
        als,
        users,
        items,
        weighted,
        copurchase(ds, cutoff, items),
        repeat,
        popular,
        category,
        fit_seconds,
        cutoff,
        cfg,
        order,
        table,
        calibration,
        stats,
        blend,
        visits,
    )


def _visits(history: pd.DataFrame, users: pd.Index, cutoff: float) -> np.ndarray:
    """users x HALF_LIVES: each user's purchase days decayed to the cutoff."""
    days = history[["customer_id", "day"]].drop_duplicates()
    row = users.get_indexer(pd.Index(days["customer_id"].astype(str)))
    ok = row >= 0
    age = cutoff / DAY - days["day"].to_numpy(dtype=float)[ok]
    return np.column_stack(
        [np.bincount(row[ok], weights=decay(age, h), minlength=len(users)) for h in HALF_LIVES]
    )


def window_sample(repeat: RepeatModel, users: pd.Index, seed: int) -> np.ndarray:
    """The user rows a validation window lists: its customers with past items and factors,
    a seeded sample of ``MAX_CUSTOMERS`` beyond that many (the ranker's groups, not the shop,
    set the cost)."""
    rows = users.get_indexer(pd.Index(np.unique(repeat.customer.astype(str))))
    rows = np.sort(rows[rows >= 0])
    if len(rows) > MAX_CUSTOMERS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_CUSTOMERS, replace=False))
    return rows


def _item_stats(
    repeat: RepeatModel, history: pd.DataFrame, items: pd.Index, cutoff: float
) -> np.ndarray:
    """``augur.recommend.ranker.item_stats`` of the catalogue as of the cutoff."""

    def buyers_since(days: float) -> np.ndarray:
        recent = history[history["day"] > cutoff / DAY - days]
        pairs = recent[["customer_id", "item_id"]].drop_duplicates()
        return pd.Series(pairs["item_id"]).value_counts().reindex(items).fillna(0).to_numpy()

    again = pd.Series(repeat.item[repeat.count >= 2]).value_counts().reindex(items).fillna(0)
    return item_stats(
        item_buyers(repeat, items).astype(np.float64),
        buyers_since(30),
        buyers_since(90),
        again.to_numpy(dtype=np.float64),
    )


def evaluate(
    ds: Dataset, fitted: Fitted, cutoff: float, cfg: RecommendConfig
) -> tuple[dict[str, float], dict[str, dict[str, list[str]]]]:
    """Metrics of every scorer on the test window; also returns the lists."""
    k = cfg.k
    test = purchases(ds, cutoff, cutoff + cfg.test_days * DAY)
    before = purchases(ds, -np.inf, cutoff)
    bought: dict[Any, set[str]] = before.groupby("customer_id")["item_id"].apply(set).to_dict()
    truth: dict[Any, set[str]] = test.groupby("customer_id")["item_id"].apply(set).to_dict()
    users = [str(u) for u in truth if u in bought and u in fitted.matrix_users]
    rows = fitted.matrix_users.get_indexer(pd.Index(users))
    items = fitted.items
    lists: dict[str, dict[str, list[str]]] = {
        name: {} for name in ("popularity", "buy_again", "als", "repeat", "explore", "blend")
    }
    freq = before.groupby(["customer_id", "item_id"]).agg(n=("day", "size"), last=("day", "max"))
    freq = freq.reset_index().sort_values(
        ["customer_id", "n", "last"], ascending=[True, False, False]
    )
    buy_again = freq.groupby("customer_id")["item_id"].apply(list).to_dict()
    rep = fitted.repeat.frame().assign(p=fitted.repeat.due_probability(cutoff / DAY, cfg.test_days))
    rep = rep.sort_values(["customer_id", "p"], ascending=[True, False])
    due = rep.groupby("customer_id")["item_id"].apply(list).to_dict()
    with threadpool_limits(1, "blas"):
        ids_all, _ = fitted.als.recommend(
            rows,
            sp.csr_matrix((len(rows), len(items)), dtype=np.float32),
            N=k,
            filter_already_liked_items=False,
        )
    model = to_model(fitted, neighbours=False)
    index = RecommendIndex(model)  # the blend is scored exactly as it is served
    ids_new = model.user_candidates[rows]  # explore: the best items each has not bought
    queries = [Query(u, k, cutoff) for u in users]
    blended = [
        a for s in range(0, len(queries), BLOCK) for a in answer(index, queries[s : s + BLOCK])
    ]
    for i, u in enumerate(users):
        lists["popularity"][u] = fitted.popular[:k]
        lists["buy_again"][u] = buy_again.get(u, [])[:k]
        lists["als"][u] = [items[j] for j in ids_all[i] if j >= 0]
        lists["repeat"][u] = due.get(u, [])[:k]
        explore = [items[j] for j in ids_new[i] if j >= 0]
        lists["explore"][u] = explore[:k]
        lists["blend"][u] = [index.item_ids[p.item] for p in blended[i].picks]
    metrics: dict[str, float] = {}
    subsets = {
        "all": truth,
        "repeat": {u: t & bought.get(u, set()) for u, t in truth.items()},
        "new": {u: t - bought.get(u, set()) for u, t in truth.items()},
    }
    for name, per_user in lists.items():
        for subset, rel in subsets.items():
            m = ranking_metrics(per_user, {u: rel[u] for u in users if u in rel}, k)
            for key, value in m.items():
                metrics[f"{name}_{subset}_{key}"] = value
        metrics[f"{name}_coverage@{k}"] = coverage(per_user, len(items), k)
    return metrics, lists


def nearest_items(als: AlternatingLeastSquares, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each item's ``k`` nearest items by cosine of the factors (itself excluded), so
    SimilarItems is a lookup instead of a scan of the catalogue per call."""
    n = als.item_factors.shape[0]
    k = min(k, n - 1)
    if k <= 0:
        return np.zeros((n, 0), dtype=np.int32), np.zeros((n, 0), dtype=np.float32)
    with threadpool_limits(1, "blas"):
        ids, scores = als.similar_items(np.arange(n), N=k + 1)
    keep = ids != np.arange(n)[:, None]
    rows = np.array([r[m][:k] for r, m in zip(ids, keep, strict=True)], dtype=np.int32)
    vals = np.array([r[m][:k] for r, m in zip(scores, keep, strict=True)], dtype=np.float32)
    return rows.reshape(n, k), vals.reshape(n, k)


def explore_candidates(fitted: Fitted, k: int) -> np.ndarray:
    """Each customer's ``k`` best-scoring items they have not bought (users x k, -1 pads), so
    a plain Recommend re-ranks a short list instead of scanning the catalogue."""
    rep = fitted.repeat
    rows = fitted.matrix_users.get_indexer(pd.Index(rep.customer))
    cols = fitted.items.get_indexer(pd.Index(rep.item))
    keep = (rows >= 0) & (cols >= 0)
    bought = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (rows[keep], cols[keep])),
        shape=(len(fitted.matrix_users), len(fitted.items)),
    )
    k = min(k, len(fitted.items))
    users = np.arange(len(fitted.matrix_users)) if fitted.sample is None else fitted.sample
    with threadpool_limits(1, "blas"):
        ids, _ = fitted.als.recommend(users, bought[users], N=k, filter_already_liked_items=True)
    out = np.full((len(fitted.matrix_users), k), -1, dtype=np.int32)
    out[users, : ids.shape[1]] = ids
    return out


def to_model(fitted: Fitted, neighbours: bool = True) -> RecommendModel:
    """The native, pickle-free artefact of a fitted recommender; without ``neighbours``
    (offline evaluation, which never asks for similar items) SimilarItems would scan."""
    rep, cfg, w = fitted.repeat, fitted.cfg, fitted.weighted
    similar = nearest_items(fitted.als, cfg.similar_per_item if neighbours else 0)
    candidates = explore_candidates(fitted, cfg.candidates_per_user)
    return RecommendModel(
        users=np.asarray(fitted.matrix_users, dtype=str),
        items=np.asarray(fitted.items, dtype=str),
        user_factors=np.asarray(fitted.als.user_factors, dtype=np.float32),
        item_factors=np.asarray(fitted.als.item_factors, dtype=np.float32),
        confidence_indptr=w.indptr.astype(np.int64),
        confidence_indices=w.indices.astype(np.int32),
        confidence_data=w.data.astype(np.float32),
        repeat_customer=np.asarray(rep.customer, dtype=str),
        repeat_item=np.asarray(rep.item, dtype=str),
        repeat_count=rep.count,
        repeat_last_day=rep.last_day,
        repeat_interval_days=rep.interval_days,
        cooc_indptr=fitted.cooc.indptr.astype(np.int64),
        cooc_indices=fitted.cooc.indices.astype(np.int32),
        cooc_data=fitted.cooc.data.astype(np.float32),
        user_candidates=candidates,
        similar_indices=similar[0],
        similar_scores=similar[1],
        popular=np.asarray(fitted.popular, dtype=str),
        item_category=np.asarray([fitted.category.get(i, "") for i in fitted.items], dtype=str),
        repeat_sigma=rep.sigma,
        regularization=cfg.regularization,
        session_confidence=cfg.session_confidence,
        repeat_share=cfg.repeat_share,
        max_per_category=fitted.blend.cap if fitted.blend.ranker else cfg.max_per_category,
        horizon_days=float(cfg.test_days),
        min_due_probability=cfg.min_due_probability,
        trained_until=fitted.cutoff,
        recipe=json.dumps(asdict(cfg)),
        repeat_ranker=fitted.order.ranker,
        repeat_order=fitted.order.order,
        item_buyers=item_buyers(rep, fitted.items),
        due_calibration=fitted.due_calibration,
        repeat_spread=rep.spreads(),
        blend_ranker=fitted.blend.ranker,
        item_stats=fitted.item_stats,
        repeat_recent=rep.recent if rep.recent is not None else np.zeros((0, 2)),
        customer_visits=fitted.visits,
    )


def from_model(model: RecommendModel) -> Fitted:
    """A fitted recommender rebuilt from its artefact (to evaluate a champion on new data)."""
    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(factors=model.user_factors.shape[1])
    als.user_factors = model.user_factors
    als.item_factors = model.item_factors
    repeat = RepeatModel(
        model.repeat_customer.astype(object),
        model.repeat_item.astype(object),
        model.repeat_count,
        model.repeat_last_day,
        model.repeat_interval_days,
        model.repeat_sigma,
        spread=model.repeat_spread if len(model.repeat_spread) else None,
        recent=model.repeat_recent if len(model.repeat_recent) else None,
    )
    category = dict(zip(model.items.tolist(), model.item_category.tolist(), strict=True))
    shape = (len(model.users), len(model.items))
    cfg = RecommendConfig.from_recipe(model.recipe)
    return Fitted(
        als,
        pd.Index(model.users),
        pd.Index(model.items),
        sp.csr_matrix(
            (model.confidence_data, model.confidence_indices, model.confidence_indptr), shape=shape
        ),
        sp.csr_matrix(
            (model.cooc_data, model.cooc_indices, model.cooc_indptr),
            shape=(len(model.items), len(model.items)),
        ),
        repeat,
        model.popular.tolist(),
        category,
        0.0,
        model.trained_until,
        cfg,
        RepeatOrder(
            model.repeat_order or ("ranker" if model.repeat_ranker else "clock"),
            model.repeat_ranker,
        ),
        model.due_calibration,
        item_stats=model.item_stats,
        blend=Blend(model.blend_ranker, cap=model.max_per_category),
        visits=model.customer_visits,
    )
