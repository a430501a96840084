"""BatchRecommend's answers a block of customers at a time.

``RecommendIndex.recommend`` answers one query with a few dozen small numpy calls, a
fraction of a millisecond of interpreter time per customer. A block does each step once for
all of its customers on flat arrays (one row per candidate, ``seg`` the customer's position
in the block): the repeat rows scored in one ranker call, the stored explore candidates
scored in one product per sub-block, one stock check, and the blend run position by position
for every customer at once. The answers are ``recommend``'s, item for item (sources, scores
and reasons; a unit test holds them equal): the few customers it would not reproduce exactly
(the repeat clock hiding items inside their cycle, which also hides them from the popular
list) are answered by ``recommend`` itself. Queries of a block carry no session and no
exclusions and share n, now, categories and include_repeat (what BatchRecommend sends).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from augur.recommend.index import (
    DAY,
    Answer,
    Pick,
    Query,
    RecommendIndex,
    Source,
    StockCheck,
    dot_rows,
    repeat_reasons,
)
from augur.recommend.ranker import frequency_score, repeat_features
from augur.recommend.timing import due_probability

SOURCES = {int(s): s for s in Source}
SUB_BLOCK = 128  # customers whose explore candidates are scored in one product


@dataclass
class _Rows:
    """Candidate rows of a block: customer position, item, and order within its list."""

    seg: np.ndarray
    item: np.ndarray

    def ranks(self) -> np.ndarray:
        """Position of each row within its customer's rows (rows grouped by ``seg``)."""
        if not len(self.seg):
            return np.zeros(0, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, self.seg[1:] != self.seg[:-1]])
        lengths = np.diff(np.r_[starts, len(self.seg)])
        return np.arange(len(self.seg)) - np.repeat(starts, lengths)


def _segments(lengths: np.ndarray) -> np.ndarray:
    """The segment number of each row of segments of these lengths."""
    return np.repeat(np.arange(len(lengths)), lengths)


def _spans(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The integers of every [lo, hi) span, concatenated."""
    lengths = hi - lo
    starts = np.cumsum(lengths) - lengths
    return np.arange(int(lengths.sum())) - np.repeat(starts - lo, lengths)


def recommend_block(
    index: RecommendIndex, queries: Sequence[Query], stock: StockCheck | None = None
) -> list[Answer]:
    """The answers of ``queries`` (one block, see the module), in order."""
    if not queries:
        return []
    q0 = queries[0]
    assert all(not q.context and not q.exclude for q in queries)
    m = index.model
    B, n, n_items = len(queries), q0.n, len(index.item_ids)
    want = 2 * n + 10
    codes = index._category_codes(q0.categories)
    allowed = np.ones(n_items, dtype=bool) if codes is None else np.isin(index.item_cat, codes)
    fallback = np.zeros(B, dtype=bool)

    # -- repeat rows: the customers' past items with live purchases merged, one score call
    reps = [index.repeat(q.customer_id, q.bought) for q in queries]
    lengths = np.array([len(r.item) for r in reps], dtype=np.int64)
    seg = _segments(lengths)
    item = np.concatenate([index.rep_item[:0], *(r.item for r in reps)]).astype(np.int64)
    count = np.concatenate([index.rep_count[:0], *(r.count for r in reps)])
    last = np.concatenate([index.rep_last[:0], *(r.last for r in reps)])
    interval = np.concatenate([index.rep_interval[:0], *(r.interval for r in reps)])
    elapsed = q0.now / DAY - last
    p = due_probability(elapsed, interval, count, m.repeat_sigma, m.horizon_days)
    hidden_rows = np.zeros(len(item), dtype=bool)  # clock mode: inside the cycle, not due
    if index.ranker is not None:
        totals = np.bincount(seg, weights=count, minlength=B)[seg]
        features = repeat_features(
            count,
            elapsed,
            interval,
            m.repeat_sigma,
            m.horizon_days,
            index.item_buyers[item],
            customer_totals=totals,
            due=p,
        )
        score = index.ranker.score(features)
    elif index.repeat_order == "frequency":
        score = frequency_score(count, elapsed)
    else:
        score = p
        hidden_rows = (p < m.min_due_probability) & (elapsed < interval)
        # the clock hides these from the popular list too: answered one by one
        fallback[np.unique(seg[hidden_rows])] = True

    rep = _Rows(seg[:0], item[:0])
    rep_row = np.zeros(0, dtype=np.int64)
    if q0.include_repeat and len(item):
        ok = np.flatnonzero(~hidden_rows & allowed[item])
        order = ok[np.lexsort((-score[ok], seg[ok]))]
        rep = _Rows(seg[order], item[order])
        keep = rep.ranks() < want
        rep, rep_row = _Rows(rep.seg[keep], rep.item[keep]), order[keep]

    # -- explore: the stored candidates of every known customer, scored in one product
    personal = _explore(index, queries, seg, item, allowed, want)

    # -- popular: one list for the block, each customer's prefix as recommend cuts it
    base = _popular(index, codes, allowed)

    # -- stock: one check for every item the block may show
    pool = np.unique(np.concatenate([rep.item, personal.item, base[: want + int(lengths.max())]]))
    oos = np.zeros(n_items, dtype=bool)
    stock_known = True
    if stock is not None and len(pool):
        mask = stock(pool)
        if mask is None:
            stock_known = False
        else:
            oos[pool[~mask]] = True

    # -- the blend, step by step for all the customers at once (recommend's ``take``)
    cap = m.max_per_category if not q0.categories or len(q0.categories) > 1 else n
    in_rep = ~oos[rep.item]
    R = _packed(rep.seg[in_rep], rep.item[in_rep], B, want)
    R_row = _packed(rep.seg[in_rep], rep_row[in_rep], B, want)
    in_personal = ~oos[personal.item]
    P = _packed(personal.seg[in_personal], personal.item[in_personal], B, want)
    has_personal = np.bincount(personal.seg, minlength=B) > 0
    n_repeat = np.where(has_personal, math.floor(m.repeat_share * n + 0.5), n)
    blend = _Blend(B, n, cap, index.item_cat, len(index.category_names))
    prefix = np.minimum(want + lengths, len(base))
    for capped in (True, False):
        if capped:
            blend.run(R, Source.REPEAT, n_repeat, True, R_row)
            blend.run(P, Source.EXPLORE, n, True)
            blend.run(R, Source.REPEAT, n, True, R_row)
            blend.shared(base, oos, prefix, n, True)
        else:  # the diversity cap yields to a full list
            blend.run(R, Source.REPEAT, n, False, R_row)
            blend.run(P, Source.EXPLORE, n, False)
            blend.shared(base, oos, prefix, n, False)

    # -- answers: reasons for the picks, recommend itself for the customers it must answer
    texts = _reasons(index, queries, blend, (elapsed, interval, count))
    cold = [not index.known(q.customer_id) for q in queries]
    answers: list[Answer] = []
    for b, q in enumerate(queries):
        if fallback[b]:
            answers.append(index.recommend(q, stock))
            continue
        k = int(blend.count[b])
        picks = [
            Pick(j, 1.0 - r / n, SOURCES[s], t)
            for r, (j, s, t) in enumerate(
                zip(
                    blend.picked[b, :k].tolist(),
                    blend.source[b, :k].tolist(),
                    texts[b],
                    strict=True,
                )
            )
        ]
        answers.append(Answer(picks, cold[b], stock_known))
    return answers


def _packed(seg: np.ndarray, values: np.ndarray, rows: int, width: int) -> np.ndarray:
    """Rows grouped by ``seg`` (each group in order) as a matrix padded with -1."""
    out = np.full((rows, width), -1, dtype=np.int64)
    out[seg, _Rows(seg, values).ranks()] = values
    return out


class _Blend:
    """``recommend``'s blend for many customers: ``take`` applied to the same position of
    every customer's list at once, with the same limits, duplicates and category caps."""

    def __init__(self, rows: int, n: int, cap: int, item_cat: np.ndarray, n_cats: int) -> None:
        self.picked = np.full((rows, n), -1, dtype=np.int64)
        self.source = np.zeros((rows, n), dtype=np.int64)
        self.ref = np.full((rows, n), -1, dtype=np.int64)
        self.count = np.zeros(rows, dtype=np.int64)
        self.per_cat = np.zeros((rows, n_cats), dtype=np.int64)
        self.cap, self.item_cat, self.all = cap, item_cat, np.arange(rows)

    def _take(
        self,
        items: np.ndarray,
        ok: np.ndarray,
        source: Source,
        capped: bool,
        ref: np.ndarray | None,
    ) -> None:
        ok = ok & ~(self.picked == items[:, None]).any(axis=1)
        cat = self.item_cat[items]
        if capped:
            ok &= self.per_cat[self.all, cat] < self.cap
        who = self.all[ok]
        at = self.count[who]
        self.picked[who, at] = items[who]
        self.source[who, at] = int(source)
        if ref is not None:
            self.ref[who, at] = ref[who]
        self.per_cat[who, cat[who]] += 1
        self.count[who] += 1

    def run(
        self,
        lists: np.ndarray,
        source: Source,
        limit: np.ndarray | int,
        capped: bool,
        refs: np.ndarray | None = None,
    ) -> None:
        """Each customer's list (a row of ``lists``, -1 padded) taken in order."""
        for w in range(lists.shape[1]):
            col = lists[:, w]
            ok = (col >= 0) & (self.count < limit)
            if not ok.any():
                return
            self._take(np.maximum(col, 0), ok, source, capped, None if refs is None else refs[:, w])

    def shared(
        self, base: np.ndarray, oos: np.ndarray, prefix: np.ndarray, limit: int, capped: bool
    ) -> None:
        """One popular list for every customer, each taking from its first ``prefix``."""
        for w in range(int(prefix.max()) if len(prefix) else 0):
            live = (w < prefix) & (self.count < limit)
            if not live.any():
                return
            j = int(base[w])
            if not oos[j]:
                self._take(np.full(len(prefix), j), live, Source.POPULAR, capped, None)


def _explore(
    index: RecommendIndex,
    queries: Sequence[Query],
    seg: np.ndarray,
    item: np.ndarray,
    allowed: np.ndarray,
    want: int,
) -> _Rows:
    """The top ``want`` unbought, allowed items of every known customer: its stored
    candidates, or the whole catalogue where the filters ran them dry (as ``recommend``)."""
    n_items = len(index.item_ids)
    cands = index.model.user_candidates
    urow = np.array([index.user_pos.get(q.customer_id, -1) for q in queries], dtype=np.int64)
    known = np.flatnonzero(urow >= 0)
    bought_per = np.bincount(seg, weights=allowed[item], minlength=len(queries))
    enough = np.minimum(want, int(allowed.sum()) - bought_per.astype(np.int64))
    out_seg, out_item = [], []
    mark = np.zeros(min(SUB_BLOCK, max(len(known), 1)) * n_items, dtype=bool)
    seg_start = np.searchsorted(seg, np.arange(len(queries) + 1))
    for s in range(0, len(known), SUB_BLOCK):
        block = known[s : s + SUB_BLOCK]
        lo, hi = seg_start[block], seg_start[block + 1]
        keys = _segments(hi - lo) * n_items + item[_spans(lo, hi)]
        mark[keys] = True
        cand = cands[urow[block]].astype(np.int64)
        valid = cand >= 0
        safe = np.where(valid, cand, 0)
        hidden = ~valid | ~allowed[safe] | mark[np.arange(len(block))[:, None] * n_items + safe]
        mark[keys] = False
        scores = dot_rows(index.Y[safe], index.X[urow[block]][:, None, :])
        scores[hidden] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :want]
        top = np.take_along_axis(safe, order, axis=1)
        ok = np.isfinite(np.take_along_axis(scores, order, axis=1))
        found = ok.sum(axis=1)
        dry = found < enough[block]
        ok[dry] = False
        out_seg.append(np.repeat(block, ok.sum(axis=1)))
        out_item.append(top[ok])
        for b in block[dry].tolist():  # the short list ran dry under the filters: scan all
            hidden_b = ~allowed
            hidden_b[item[seg_start[b] : seg_start[b + 1]]] = True
            scan = index._rank(index.X[urow[b]], None, hidden_b, want)
            out_seg.append(np.full(len(scan), b))
            out_item.append(scan)
    if not out_seg:
        return _Rows(np.zeros(0, np.int64), np.zeros(0, np.int64))
    seg_all, item_all = np.concatenate(out_seg), np.concatenate(out_item)
    order = np.argsort(seg_all, kind="stable")
    return _Rows(seg_all[order].astype(np.int64), item_all[order].astype(np.int64))


def _popular(index: RecommendIndex, codes: np.ndarray | None, allowed: np.ndarray) -> np.ndarray:
    """The popular list ``recommend`` draws on for these categories (nothing is blocked)."""
    if codes is None:
        return index.popular
    merged = np.concatenate([index.popular[:0], *(index.popular_by_cat[int(k)] for k in codes)])
    if len(codes) > 1:
        rank = np.full(len(index.item_ids), len(index.item_ids), dtype=np.int64)
        rank[index.popular] = np.arange(len(index.popular))
        merged = merged[np.argsort(rank[merged], kind="stable")]
    return merged[allowed[merged]]


def _reasons(
    index: RecommendIndex,
    queries: Sequence[Query],
    blend: _Blend,
    clock: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> list[list[str]]:
    """Every pick's reason as ``recommend`` words it: the repeat clock, the explore pick's
    anchor among the customer's past items (one product for the block), the category."""
    elapsed, interval, count = clock
    B, n = blend.picked.shape
    taken = np.arange(n)[None, :] < blend.count[:, None]
    who, at = np.nonzero(taken)
    item, source = blend.picked[who, at], blend.source[who, at]
    text = np.empty(len(item), dtype=object)
    rep = np.flatnonzero(source == Source.REPEAT)
    rows = blend.ref[who[rep], at[rep]]
    text[rep] = repeat_reasons(elapsed[rows], interval[rows], count[rows])
    pop = np.flatnonzero(source == Source.POPULAR)
    names = [f"Popular in {c}" if c else "Popular right now" for c in index.category_names]
    text[pop] = [names[k] for k in index.item_cat[item[pop]].tolist()]
    exp = np.flatnonzero(source == Source.EXPLORE)
    ids = index.item_ids
    bounds = np.searchsorted(who[exp], np.arange(B + 1))
    for b in np.flatnonzero(np.diff(bounds)).tolist():  # one product per customer
        at = exp[bounds[b] : bounds[b + 1]]
        picks = item[at].tolist()
        anchors = index._because(picks, index._history(queries[b].customer_id))
        text[at] = [
            f"Customers who buy {ids[a]} also buy this" if a != j else "Picked for your taste"
            for a, j in zip(anchors, picks, strict=True)
        ]
    bounds = np.searchsorted(who, np.arange(B + 1))
    return [text[bounds[b] : bounds[b + 1]].tolist() for b in range(B)]
