"""The learnt blend: one ranker orders every candidate of a customer.

A fixed split (70 % of the list from the customer's past items, 30 % from ALS) lost to plain
"buy again" on a real grocer's baskets, and would lose the other way on a shop where nothing
is bought twice. Here the candidates of every source are scored together by one LightGBM
ranker trained on validation windows cut from the training data, so each shop's balance
between buying again and discovering is learnt: the customer's past items (with their repeat
clock), the ALS candidates stored for the customer, and the popular items of the customer's
favourite categories. The list is the candidates in score order under the diversity cap, the
cap yielding when the list would stay short, then the popular items as a last resort.

Training and serving compute the candidates and their features with the same code
(``candidates``), and a block of customers is answered as one customer is: ``answer`` serves
Recommend (a block of one) and BatchRecommend (blocks of 1,000) alike. Sessions and customers
the model does not know are answered by the fixed blend (``RecommendIndex.recommend``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from augur.recommend.block import (
    SOURCES,
    _anchors,
    _explore,
    _pick,
    _repeat_rows,
    _Rows,
    recommend_block,
)
from augur.recommend.index import (
    DAY,
    Answer,
    Pick,
    Query,
    RecommendIndex,
    Source,
    StockCheck,
    dot_rows,
    group_ranks,
    repeat_reasons,
)
from augur.recommend.ranker import HALF_LIVES, candidate_features, decay, frequency_score
from augur.recommend.timing import due_probability

POPULAR_CATEGORIES = 3  # the customer's categories whose popular items are candidates
POPULAR_OVERALL = 30  # the shop's items most bought in the last 30 days, candidates for all
REPEAT_CANDIDATES = 100  # a customer's past items that are candidates, most often bought first


def learns(index: RecommendIndex, q: Query) -> bool:
    """Whether the learnt blend answers this query: a ranker, a customer with ALS factors and
    past items, no session."""
    return (
        index.blend is not None
        and not q.context
        and q.customer_id in index.user_pos
        and (q.customer_id in index.rep_slice or bool(q.bought))
    )


@dataclass
class Candidates:
    """Every candidate of a block of queries, one row each, grouped by query (``seg``)."""

    seg: np.ndarray
    item: np.ndarray
    source: np.ndarray  # Source numbers: REPEAT (bought before), EXPLORE or POPULAR
    rep_row: np.ndarray  # the row's index into ``clock`` (-1: not bought before)
    features: np.ndarray  # ``augur.recommend.ranker.CANDIDATE_FEATURES``
    clock: tuple[np.ndarray, np.ndarray, np.ndarray]  # elapsed, interval, count of past items
    bought_keys: np.ndarray  # seg * items + item of every past item (sorted)
    excluded_keys: np.ndarray  # seg * items + item of the queries' exclusions (sorted)


def _allowed(index: RecommendIndex, q: Query) -> np.ndarray:
    codes = index._category_codes(q.categories)
    n_items = len(index.item_ids)
    return np.ones(n_items, dtype=bool) if codes is None else np.isin(index.item_cat, codes)


def candidates(index: RecommendIndex, queries: Sequence[Query]) -> Candidates:
    """The candidates of ``queries`` (which share n, now, categories and include_repeat) with
    their features."""
    q0, m = queries[0], index.model
    assert index.item_stats is not None  # a model with a learnt blend has them
    B, n_items, n_cats = len(queries), len(index.item_ids), len(index.category_names)
    allowed = _allowed(index, q0)
    seg, item, count, last, interval, recent = _repeat_rows(index, queries)
    elapsed = q0.now / DAY - last
    due = due_probability(elapsed, interval, count, m.repeat_sigma, m.horizon_days)
    days = np.bincount(seg, weights=count, minlength=B)
    n_bought = np.bincount(seg, minlength=B).astype(np.float64)
    latest = np.full(B, -np.inf)
    np.maximum.at(latest, seg, last)
    stored_latest = np.array(
        [_stored_latest(index, q.customer_id) if q.bought else 0.0 for q in queries]
    )
    cat_days = np.bincount(
        seg * n_cats + index.item_cat[item], weights=count, minlength=B * n_cats
    ).reshape(B, n_cats)
    share = cat_days / np.maximum(days, 1.0)[:, None]
    bought_keys = np.sort(seg * n_items + item)
    excluded = [b * n_items + index.indices(q.exclude) for b, q in enumerate(queries) if q.exclude]
    excluded_keys = np.sort(np.concatenate([np.zeros(0, np.int64), *excluded]))

    parts_seg, parts_item, parts_source, parts_row = [], [], [], []
    if q0.include_repeat:  # the customer's most often bought items
        ok = np.flatnonzero(allowed[item])
        ok = ok[np.lexsort((-frequency_score(count[ok], elapsed[ok]), seg[ok]))]
        ok = np.sort(ok[_Rows(seg[ok], ok).ranks() < REPEAT_CANDIDATES])
        parts_seg.append(seg[ok])
        parts_item.append(item[ok])
        parts_source.append(np.full(len(ok), int(Source.REPEAT)))
        parts_row.append(ok)
    personal = _explore(index, queries, seg, item, allowed, m.user_candidates.shape[1])
    parts_seg.append(personal.seg)
    parts_item.append(personal.item)
    parts_source.append(np.full(len(personal.seg), int(Source.EXPLORE)))
    parts_row.append(np.full(len(personal.seg), -1))
    top = np.argsort(-share, axis=1, kind="stable")[:, :POPULAR_CATEGORIES]
    pop = index.popular_top[top]  # B x categories x items, -1 padded
    valid = (pop >= 0) & (np.take_along_axis(share, top, axis=1) > 0)[:, :, None]
    pop_seg = np.broadcast_to(np.arange(B)[:, None, None], pop.shape)[valid]
    pop_item = pop[valid]
    overall = index.popular_recent[:POPULAR_OVERALL]  # and the shop's, for everyone
    pop_seg = np.concatenate([pop_seg, np.repeat(np.arange(B), len(overall))])
    pop_item = np.concatenate([pop_item, np.tile(overall, B)])
    fresh = allowed[pop_item] & ~_member(pop_seg * n_items + pop_item, bought_keys)
    parts_seg.append(pop_seg[fresh])
    parts_item.append(pop_item[fresh])
    parts_source.append(np.full(int(fresh.sum()), int(Source.POPULAR)))
    parts_row.append(np.full(int(fresh.sum()), -1))

    cseg = np.concatenate(parts_seg).astype(np.int64)
    citem = np.concatenate(parts_item).astype(np.int64)
    keys = cseg * n_items + citem
    _, first = np.unique(keys, return_index=True)  # a popular item ALS also found: explore
    keep = np.sort(first)
    keep = keep[~_member(keys[keep], excluded_keys)]
    keep = keep[np.argsort(cseg[keep], kind="stable")]
    cseg, citem = cseg[keep], citem[keep]
    source = np.concatenate(parts_source)[keep]
    rep_row = np.concatenate(parts_row)[keep]
    old = rep_row >= 0
    r = np.maximum(rep_row, 0)
    urow = np.array([index.user_pos.get(q.customer_id, -1) for q in queries], dtype=np.int64)
    # the decayed counts are kept as of the model's cutoff: decayed on to now
    ahead = decay(q0.now / DAY - index.trained_day, np.array(HALF_LIVES))
    als = dot_rows(index.Y[citem], index.X[np.maximum(urow[cseg], 0)])
    features = candidate_features(
        old,
        count[r] if len(count) else np.zeros(len(r)),
        elapsed[r] if len(count) else np.zeros(len(r)),
        interval[r] if len(count) else np.zeros(len(r)),
        due[r] if len(count) else np.zeros(len(r)),
        days[cseg],
        n_bought[cseg],
        share[cseg, index.item_cat[citem]],
        index.item_stats[citem],
        np.where(urow[cseg] >= 0, als, np.nan),
        np.where(np.isfinite(latest[cseg]), q0.now / DAY - latest[cseg], np.nan),
        recent[r] * ahead if len(count) else np.zeros((len(r), len(HALF_LIVES))),
        _visits(index, queries, urow, stored_latest)[cseg] * ahead,
    )
    return Candidates(
        cseg,
        citem,
        source,
        rep_row,
        features,
        (elapsed, interval, count),
        bought_keys,
        excluded_keys,
    )


def _stored_latest(index: RecommendIndex, customer_id: str) -> float:
    """The customer's latest purchase day known to the model (-inf: none)."""
    k = index.rep_slice.get(customer_id)
    if k is None or index.rep_start[k] == index.rep_end[k]:
        return -np.inf
    return float(index.rep_last[index.rep_start[k] : index.rep_end[k]].max())


def _visits(
    index: RecommendIndex, queries: Sequence[Query], urow: np.ndarray, stored_latest: np.ndarray
) -> np.ndarray:
    """queries x HALF_LIVES: the customers' visit days decayed to the model's cutoff, with the
    days of live purchases after their latest known visit added."""
    out = index.visits[np.maximum(urow, 0)] * (urow >= 0)[:, None]
    for b, q in enumerate(queries):
        if q.bought:
            days = np.unique(np.concatenate([np.asarray(d, float) for d in q.bought.values()]))
            out[b] = out[b] + index.decayed(days[days > stored_latest[b]])
    return out


def _member(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys


def ordered(
    index: RecommendIndex,
    c: Candidates,
    score: np.ndarray,
    n: int,
    cap: int,
    hidden: np.ndarray | None = None,
) -> np.ndarray:
    """The rows of each query's list, grouped by query, in list order: the candidates by
    score, those within the diversity cap first (at most ``cap`` per category), the others
    after them, ``n`` at most; ``hidden`` rows (out of stock) never."""
    rows = np.arange(len(c.seg)) if hidden is None else np.flatnonzero(~hidden)
    rows = rows[np.lexsort((-score[rows], c.seg[rows]))]
    cat = c.seg[rows] * len(index.category_names) + index.item_cat[c.item[rows]]
    by_cat = np.argsort(cat, kind="stable")
    rank = np.empty(len(rows), dtype=np.int64)
    rank[by_cat] = group_ranks(cat[by_cat])
    rows = rows[np.argsort(2 * c.seg[rows] + (rank >= cap), kind="stable")]
    return rows[group_ranks(c.seg[rows]) < n]


def answer(
    index: RecommendIndex, queries: Sequence[Query], stock: StockCheck | None = None
) -> list[Answer]:
    """The answers of a block of queries (shared n, now, categories, include_repeat): the
    learnt blend for those it answers (``learns``), the fixed blend for the others."""
    if not queries:
        return []
    mine = [b for b, q in enumerate(queries) if learns(index, q)]
    out: list[Answer | None] = [None] * len(queries)
    chosen = set(mine)
    rest = [b for b in range(len(queries)) if b not in chosen]
    if rest:
        others = [queries[b] for b in rest]
        if any(q.context or q.exclude for q in others):
            done = [index.fixed(q, stock) for q in others]
        else:
            done = recommend_block(index, others, stock)
        for b, a in zip(rest, done, strict=True):
            out[b] = a
    if mine:
        for b, a in zip(mine, _learnt([queries[b] for b in mine], index, stock), strict=True):
            out[b] = a
    return [a for a in out if a is not None]


def _learnt(
    queries: Sequence[Query], index: RecommendIndex, stock: StockCheck | None
) -> list[Answer]:
    q0, m = queries[0], index.model
    n, n_items = q0.n, len(index.item_ids)
    assert index.blend is not None
    c = candidates(index, queries)
    score = index.blend.score(c.features)
    oos, stock_known = _stock(np.unique(c.item), stock, n_items)
    cap = m.max_per_category if not q0.categories or len(q0.categories) > 1 else n
    rows = ordered(index, c, score, n, cap, oos[c.item])
    seg, item, source = c.seg[rows], c.item[rows], c.source[rows]
    text = np.empty(len(rows), dtype=object)
    rep = np.flatnonzero(source == Source.REPEAT)
    elapsed, interval, count = c.clock
    at = c.rep_row[rows[rep]]
    text[rep] = repeat_reasons(elapsed[at], interval[at], count[at])
    pop = np.flatnonzero(source == Source.POPULAR)
    text[pop] = [_popular_reason(index, j) for j in item[pop].tolist()]
    exp = np.flatnonzero(source == Source.EXPLORE)
    if len(exp):
        anchors = (  # one customer: one product (the block's grouped products give the same)
            np.array(index._because(item[exp].tolist(), index._history(q0.customer_id)))
            if len(queries) == 1
            else _anchors(index, queries, seg[exp], item[exp])
        )
        ids = index.item_ids
        text[exp] = [
            f"Customers who buy {ids[a]} also buy this" if a != j else "Picked for your taste"
            for a, j in zip(anchors.tolist(), item[exp].tolist(), strict=True)
        ]
    bounds = np.searchsorted(seg, np.arange(len(queries) + 1)).tolist()
    scores = [1.0 - r / n for r in range(n)]
    rows_of = list(zip(item.tolist(), [SOURCES[s] for s in source.tolist()], text, strict=True))
    answers = []
    for b, q in enumerate(queries):
        picks = rows_of[bounds[b] : bounds[b + 1]]
        if len(picks) < n:
            picks += _fill(index, q, b, c, picks, oos, stock, cap)
        answers.append(
            Answer(
                [_pick(Pick, (j, r, s, t)) for r, (j, s, t) in zip(scores, picks, strict=False)],
                False,
                stock_known,
            )
        )
    return answers


def _popular_reason(index: RecommendIndex, j: int) -> str:
    category = index.category_of(j)
    return f"Popular in {category}" if category else "Popular right now"


def _stock(pool: np.ndarray, stock: StockCheck | None, n_items: int) -> tuple[np.ndarray, bool]:
    """(out of stock by item, whether stock was known)."""
    oos = np.zeros(n_items, dtype=bool)
    if stock is None or not len(pool):
        return oos, True
    mask = stock(pool)
    if mask is None:
        return oos, False
    oos[pool[~mask]] = True
    return oos, True


def _fill(
    index: RecommendIndex,
    q: Query,
    b: int,
    c: Candidates,
    picks: list[tuple[int, Source, str]],
    oos: np.ndarray,
    stock: StockCheck | None,
    cap: int,
) -> list[tuple[int, Source, str]]:
    """A short list's tail from the popular items (under the cap, then without it): the
    candidates ran out under the filters."""
    n_items = len(index.item_ids)
    base = index.popular_in(index._category_codes(q.categories))
    base = base[_allowed(index, q)[base]]
    keys = b * n_items + base
    skip = _member(keys, c.excluded_keys)
    if not q.include_repeat:
        skip |= _member(keys, c.bought_keys)
    base = base[~skip][: 2 * q.n + len(picks)]
    extra, _ = _stock(base, stock, n_items)
    taken = {j for j, _, _ in picks}
    per_cat: dict[int, int] = {}
    for j, _, _ in picks:
        k = int(index.item_cat[j])
        per_cat[k] = per_cat.get(k, 0) + 1
    out: list[tuple[int, Source, str]] = []
    for capped in (True, False):
        for j in base.tolist():
            if len(picks) + len(out) >= q.n:
                return out
            k = int(index.item_cat[j])
            if j in taken or oos[j] or extra[j] or (capped and per_cat.get(k, 0) >= cap):
                continue
            taken.add(j)
            per_cat[k] = per_cat.get(k, 0) + 1
            out.append((j, Source.POPULAR, _popular_reason(index, j)))
    return out
