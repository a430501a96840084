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
    group_ranks,
    repeat_reasons,
)
from augur.recommend.ranker import frequency_score, repeat_features
from augur.recommend.timing import due_probability

SOURCES = {int(s): s for s in Source}
_pick = tuple.__new__  # a Pick from its fields without NamedTuple's Python-level __new__
ANCHOR_GROUP = 64  # customers whose explore picks' anchors share one stacked product
SUB_BLOCK = 128  # customers whose explore candidates are scored in one product


@dataclass
class _Rows:
    """Candidate rows of a block: customer position, item, and order within its list."""

    seg: np.ndarray
    item: np.ndarray

    def ranks(self) -> np.ndarray:
        """Position of each row within its customer's rows (``seg`` ascending)."""
        return group_ranks(self.seg)


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
    seg, item, count, last, interval, _ = _repeat_rows(index, queries)
    lengths = np.bincount(seg, minlength=B)
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
    base = index.popular_in(codes)
    base = base[allowed[base]]

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
    blend.run(R, Source.REPEAT, n_repeat, True, R_row)
    blend.run(P, Source.EXPLORE, n, True)
    blend.run(R, Source.REPEAT, n, True, R_row)
    blend.shared(base, oos, prefix, n, True)
    blend.run(R, Source.REPEAT, n, False, R_row)  # the diversity cap yields to a full list
    blend.run(P, Source.EXPLORE, n, False)
    blend.shared(base, oos, prefix, n, False)

    # -- answers: reasons for the picks, recommend itself for the customers it must answer
    texts = _reasons(index, queries, blend, (elapsed, interval, count))
    cold = [not index.known(q.customer_id) for q in queries]
    scores = [1.0 - r / n for r in range(n)]
    picked, sources = blend.picked.tolist(), blend.source.tolist()
    answers: list[Answer] = []
    for b, q in enumerate(queries):
        if fallback[b]:
            answers.append(index.fixed(q, stock))
            continue
        k = int(blend.count[b])
        rows = zip(
            picked[b][:k], scores[:k], [SOURCES[s] for s in sources[b][:k]], texts[b], strict=True
        )
        answers.append(Answer([_pick(Pick, row) for row in rows], cold[b], stock_known))
    return answers


def _anchors(
    index: RecommendIndex, queries: Sequence[Query], who: np.ndarray, picks: np.ndarray
) -> np.ndarray:
    """``RecommendIndex._because`` for every explore pick of the block (``who``: the pick's
    customer, ascending): customers of similar history lengths share one stacked product,
    padded. The products are BLAS's as for one customer, so the anchor is the same unless two
    of a customer's items score within float rounding of each other."""
    m = index.model
    out = picks.copy()
    customers, first, per = np.unique(who, return_index=True, return_counts=True)
    urow = np.array([index.user_pos[queries[b].customer_id] for b in customers.tolist()])
    lo, hi = m.confidence_indptr[urow], m.confidence_indptr[urow + 1]
    by_length = np.argsort(hi - lo, kind="stable")
    for g in range(0, len(by_length), ANCHOR_GROUP):
        group = by_length[g : g + ANCHOR_GROUP]
        G, H, P = len(group), int((hi - lo)[group].max()), int(per[group].max())
        if H == 0:
            continue
        hist = _packed(
            _segments(hi[group] - lo[group]),
            np.asarray(m.confidence_indices)[_spans(lo[group], hi[group])].astype(np.int64),
            G,
            H,
        )
        rows = _spans(first[group], first[group] + per[group])
        mine = _packed(_segments(per[group]), picks[rows], G, P)
        scores = np.matmul(
            index.Y[np.maximum(hist, 0)], index.Y[np.maximum(mine, 0)].transpose(0, 2, 1)
        )
        scores[(hist < 0)[:, :, None] | (hist[:, :, None] == mine[:, None, :])] = -np.inf
        best = np.argmax(scores, axis=1)  # G x P: the first best anchor
        found = np.isfinite(np.take_along_axis(scores, best[:, None, :], axis=1)[:, 0, :])
        anchor = np.take_along_axis(hist, best, axis=1)
        valid = mine >= 0
        out[rows] = np.where(found, anchor, mine)[valid]
    return out


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


def _repeat_rows(
    index: RecommendIndex, queries: Sequence[Query]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every customer's repeat rows (``RecommendIndex.repeat``) as flat columns grouped by
    customer: (seg, item, count, last day, interval, recent); one gather for the customers without
    live purchases. The columns may be views of the index's arrays: read-only."""
    if len(queries) == 1:  # one customer (Recommend): its rows as they are
        r = index.repeat(queries[0].customer_id, queries[0].bought)
        return np.zeros(len(r.item), dtype=np.int64), r.item, r.count, r.last, r.interval, r.recent
    ks = [index.rep_slice.get(q.customer_id) for q in queries]
    stored = np.array([-1 if k is None else k for k in ks], dtype=np.int64)
    lo = np.where(stored >= 0, index.rep_start[stored], 0)
    hi = np.where(stored >= 0, index.rep_end[stored], 0)
    live = [b for b, q in enumerate(queries) if q.bought]
    merged = {b: index.repeat(queries[b].customer_id, queries[b].bought) for b in live}
    lengths = hi - lo
    for b, r in merged.items():
        lengths[b] = len(r.item)
    seg = _segments(lengths)
    at = np.cumsum(lengths) - lengths
    plain = np.ones(len(queries), dtype=bool)
    plain[live] = False
    src = _spans(lo[plain], hi[plain])
    dst = _spans(at[plain], at[plain] + lengths[plain])
    columns = []
    for stored_col, field in (
        (index.rep_item, "item"),
        (index.rep_count, "count"),
        (index.rep_last, "last"),
        (index.rep_interval, "interval"),
        (index.rep_recent, "recent"),
    ):
        col = np.empty((len(seg), *stored_col.shape[1:]), dtype=stored_col.dtype)
        col[dst] = stored_col[src]
        for b, r in merged.items():
            col[at[b] : at[b] + lengths[b]] = getattr(r, field)
        columns.append(col)
    return seg, columns[0], columns[1], columns[2], columns[3], columns[4]


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
    if len(queries) == 1:
        return _explore_one(index, queries[0], item, allowed, want)
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


def _explore_one(
    index: RecommendIndex, q: Query, bought: np.ndarray, allowed: np.ndarray, want: int
) -> _Rows:
    """``_explore`` for one customer (``bought``: its past items), without the block's
    bookkeeping; the same products, so the same order."""
    row = index.user_pos.get(q.customer_id)
    if row is None:
        return _Rows(np.zeros(0, np.int64), np.zeros(0, np.int64))
    cand = index.model.user_candidates[row].astype(np.int64)
    cand = cand[cand >= 0]
    hidden = ~allowed[cand] | np.isin(cand, bought)
    scores = dot_rows(index.Y[cand], index.X[row])
    top = np.flatnonzero(~hidden)
    top = top[np.argsort(-scores[top], kind="stable")[:want]]
    enough = min(want, int(allowed.sum()) - int(allowed[bought].sum()))
    if len(top) >= enough:
        top = cand[top]
    else:  # the short list ran dry under the filters: scan all
        hidden_all = ~allowed
        hidden_all[bought] = True
        top = index._rank(index.X[row], None, hidden_all, want)
    return _Rows(np.zeros(len(top), np.int64), top.astype(np.int64))


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
    if len(exp):
        anchors = _anchors(index, queries, who[exp], item[exp])
        ids = index.item_ids
        text[exp] = [
            f"Customers who buy {ids[a]} also buy this" if a != j else "Picked for your taste"
            for a, j in zip(anchors.tolist(), item[exp].tolist(), strict=True)
        ]
    bounds = np.searchsorted(who, np.arange(B + 1))
    return [text[bounds[b] : bounds[b + 1]].tolist() for b in range(B)]
