"""The recommendation model made ready to query: id maps, cached matrices, the blend.

Built once per loaded model (in the model watcher's worker thread), then read
by every request without locks. Everything that does not change per call is
computed here: YᵀY + λI for session fold-in, normalised item factors for
similarity, each customer's repeat rows as one slice, popularity per
category. Pure computation: stock comes in as a callable, so the same code
serves requests, offline evaluation and the MLflow pyfunc.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import NamedTuple

import numpy as np

from augur.recommend.additions import Added
from augur.recommend.model import RecommendModel
from augur.recommend.ranker import (
    HALF_LIVES,
    RepeatRanker,
    decay,
    frequency_score,
    repeat_features,
)
from augur.recommend.timing import calibrated, conditional_quantiles, due_probability

DAY = 86400.0
MAX_N = 100
SESSION_POPULAR = 200  # popular items added to a session's candidate pool
POPULAR_PER_CATEGORY = 10  # a category's popular items that are the learnt blend's candidates
SHRINK = 2.0  # weight of the item's population cycle in a customer's interval, in purchases
# purchases since the model's cutoff, as read live: item id -> its purchase days (ascending)
Bought = Mapping[str, np.ndarray]
# in-stock test of item indices -> boolean mask, or None when stock is unknown
StockCheck = Callable[[np.ndarray], np.ndarray | None]


class Source(IntEnum):
    """Same numbers as ``augur.recommend.v1.Source``."""

    REPEAT = 1
    EXPLORE = 2
    SESSION = 3
    POPULAR = 4
    NEW_IN_CATALOGUE = 5


@dataclass(frozen=True)
class Query:
    customer_id: str
    n: int
    now: float  # Unix seconds
    context: Sequence[str] = ()
    exclude: Sequence[str] = ()
    categories: Sequence[str] = ()
    include_repeat: bool = True
    bought: Bought | None = None  # the live read of the customer's purchases


class Pick(NamedTuple):
    """One recommended item (a tuple: a block's answers build many)."""

    item: int
    score: float
    source: Source
    reason: str


@dataclass
class Answer:
    picks: list[Pick]
    cold_start: bool
    stock_known: bool = True
    # catalogue additions after the picks (``augur.recommend.additions``), unknown to the model
    added: list[Added] = field(default_factory=list)


@dataclass(frozen=True)
class Due:
    """An item the customer is expected to buy again."""

    item: int
    probability: float
    expected_day: float
    window_start_day: float
    window_end_day: float
    last_day: float
    interval_days: float


@dataclass
class _Repeat:
    """A customer's past items with the repeat clock's statistics, live purchases merged."""

    item: np.ndarray
    count: np.ndarray  # distinct purchase days
    last: np.ndarray  # day of the latest purchase
    interval: np.ndarray  # expected days between purchases
    spread: np.ndarray  # log-scale spread of the gaps (the purchase window's width)
    recent: np.ndarray  # purchase days decayed to the model's cutoff (rows x HALF_LIVES)


@dataclass
class _Candidates:
    """Ordered candidate item indices per source, before stock, caps and dedup."""

    repeat: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    repeat_reason: dict[int, str] = field(default_factory=dict)
    personal: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    personal_source: Source = Source.EXPLORE
    popular: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


class RecommendIndex:
    """Query-ready form of a ``RecommendModel``."""

    def __init__(self, model: RecommendModel) -> None:
        self.model = model
        self.item_ids: list[str] = model.items.tolist()
        self.item_pos = {item: j for j, item in enumerate(self.item_ids)}
        self.user_pos = {user: i for i, user in enumerate(model.users.tolist())}
        self.Y = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self.X = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        y64 = self.Y.astype(np.float64)
        self.gram = y64.T @ y64 + model.regularization * np.eye(self.Y.shape[1])
        norms = np.linalg.norm(self.Y, axis=1, keepdims=True)
        self.Yn = self.Y / np.maximum(norms, 1e-9)
        cats, self.item_cat = np.unique(model.item_category, return_inverse=True)
        self.category_names: list[str] = cats.tolist()
        self.category_code = {c: k for k, c in enumerate(self.category_names)}
        self.item_category_names = [self.category_names[k] for k in self.item_cat.tolist()]
        popular = np.array([self.item_pos[i] for i in model.popular.tolist() if i in self.item_pos])
        self.popular = popular.astype(np.int64)
        self.popular_rank = np.full(len(self.item_ids), len(self.item_ids), dtype=np.int64)
        self.popular_rank[self.popular] = np.arange(len(self.popular))
        self.popular_by_cat = {
            k: self.popular[self.item_cat[self.popular] == k] for k in range(len(cats))
        }
        stats = np.asarray(model.item_stats, dtype=np.float64)
        self.item_stats = stats if stats.shape == (len(self.item_ids), 4) else None
        # each category's items most bought in the last 30 days: the learnt blend's candidates
        self.popular_top = np.full((len(cats), POPULAR_PER_CATEGORY), -1, dtype=np.int64)
        self.popular_recent = np.zeros(0, dtype=np.int64)
        if self.item_stats is not None:
            recent = np.flatnonzero(self.item_stats[:, 1] > 0)
            recent = recent[np.argsort(-self.item_stats[recent, 1], kind="stable")]
            self.popular_recent = recent
            by_cat = recent[np.argsort(self.item_cat[recent], kind="stable")]
            cat = self.item_cat[by_cat]
            rank = group_ranks(cat)
            top = rank < POPULAR_PER_CATEGORY
            self.popular_top[cat[top], rank[top]] = by_cat[top]
        self._index_repeat(model)
        self.trained_day = model.trained_until / DAY
        # an item's population cycle: the interval of a one-purchase row is exactly that
        once = self.rep_count == 1
        self.item_cycle = np.full(
            len(self.item_ids),
            float(np.median(self.rep_interval)) if len(self.rep_interval) else 30.0,
        )
        self.item_cycle[self.rep_item[once]] = self.rep_interval[once]
        self.repeat_order = model.repeat_order or ("ranker" if model.repeat_ranker else "clock")
        self.ranker = (
            RepeatRanker(model.repeat_ranker)
            if self.repeat_order == "ranker" and model.repeat_ranker
            else None
        )
        self.item_buyers = (
            np.asarray(model.item_buyers, dtype=np.float64)
            if len(model.item_buyers) == len(self.item_ids)
            else np.zeros(len(self.item_ids))
        )
        visits = np.asarray(model.customer_visits, dtype=np.float64)
        self.visits = (
            visits
            if visits.shape == (len(self.X), len(HALF_LIVES))
            else np.zeros((len(self.X), len(HALF_LIVES)))
        )
        # the learnt blend (``augur.recommend.learnt``): a ranker over every candidate
        self.blend = (
            RepeatRanker(model.blend_ranker)
            if model.blend_ranker and self.item_stats is not None
            else None
        )

    def compile_ranker(self, directory: Path) -> bool:
        """The rankers (the learnt blend's, the repeat list's) compiled to native code, each
        checked on rows of the model's own customers as of its cutoff (``augur.common.trees``);
        True when there were rankers and all compiled."""
        jobs = []
        if self.blend is not None:
            from augur.recommend import learnt  # it builds on this module

            known = [c for c in list(self.rep_slice)[:200] if c in self.user_pos][:50]
            if known:
                queries = [Query(c, 10, self.model.trained_until) for c in known]
                jobs.append((self.blend, learnt.candidates(self, queries).features, "blend ranker"))
        if self.ranker is not None and len(self.rep_item):
            m, rows = self.model, slice(0, min(2000, len(self.rep_item)))
            probe = repeat_features(
                self.rep_count[rows],
                self.trained_day - self.rep_last[rows],
                self.rep_interval[rows],
                m.repeat_sigma,
                m.horizon_days,
                self.item_buyers[self.rep_item[rows]],
            )
            jobs.append((self.ranker, probe, "repeat ranker"))
        return bool(jobs) and all(r.trees.compile(directory, p, w) for r, p, w in jobs)

    def _index_repeat(self, model: RecommendModel) -> None:
        items = np.array([self.item_pos.get(i, -1) for i in model.repeat_item.tolist()])
        keep = items >= 0
        customers = model.repeat_customer[keep]
        order = np.argsort(customers, kind="stable")
        customers = customers[order]
        self.rep_item = items[keep][order].astype(np.int64)
        self.rep_count = model.repeat_count[keep][order]
        self.rep_last = model.repeat_last_day[keep][order]
        self.rep_interval = model.repeat_interval_days[keep][order]
        spread = (
            model.repeat_spread
            if len(model.repeat_spread) == len(model.repeat_item)
            else np.full(len(model.repeat_item), model.repeat_sigma)
        )
        self.rep_spread = spread[keep][order]
        recent = np.asarray(model.repeat_recent, dtype=np.float64)
        if recent.shape != (len(model.repeat_item), len(HALF_LIVES)):
            recent = np.zeros((len(model.repeat_item), len(HALF_LIVES)))
        self.rep_recent = recent[keep][order]
        uniq, starts = np.unique(customers, return_index=True)
        ends = np.append(starts[1:], len(customers))
        # customer -> position in rep_start / rep_end (ints: nothing for the cycle GC to scan)
        self.rep_slice = dict(zip(uniq.tolist(), range(len(uniq)), strict=True))
        self.rep_start, self.rep_end = starts.astype(np.int64), ends.astype(np.int64)

    # ---------------------------------------------------------------- lookups
    def known(self, customer_id: str) -> bool:
        """Known to the model (live purchases alone do not make a customer known)."""
        return customer_id in self.user_pos or customer_id in self.rep_slice

    def indices(self, item_ids: Sequence[str]) -> np.ndarray:
        """Catalogue indices of the known ids (unknown ids are dropped)."""
        pos = self.item_pos
        return np.array([pos[i] for i in item_ids if i in pos], dtype=np.int64)

    def category_of(self, j: int) -> str:
        return self.item_category_names[j]

    def popular_in(self, codes: np.ndarray | None) -> np.ndarray:
        """The popular items of these categories (None: all), most popular first."""
        if codes is None:
            return self.popular
        merged = np.concatenate([self.popular[:0], *(self.popular_by_cat[int(k)] for k in codes)])
        if len(codes) > 1:
            merged = merged[np.argsort(self.popular_rank[merged], kind="stable")]
        return merged

    def favourite_categories(
        self, customer_id: str, bought: Bought | None, context: Sequence[str], k: int
    ) -> list[str]:
        """The session's categories (most items first), else the customer's ``k`` categories
        with the most purchase days; none for a customer without either."""
        weights: np.ndarray | None = None
        if context:
            codes = self.item_cat[self.indices(context)]
        else:
            r = self.repeat(customer_id, bought)
            codes, weights = self.item_cat[r.item], r.count
        if not len(codes):
            return []
        days = np.bincount(codes, weights=weights)
        top = np.argsort(-days, kind="stable")[:k]
        return [self.category_names[int(c)] for c in top if days[c] > 0]

    def _category_codes(self, categories: Sequence[str]) -> np.ndarray | None:
        if not categories:
            return None
        return np.array(
            [self.category_code[c] for c in categories if c in self.category_code], dtype=np.int64
        )

    # ------------------------------------------------------------------ repeat
    def _repeat_rows(self, customer_id: str) -> slice:
        k = self.rep_slice.get(customer_id)
        return slice(0, 0) if k is None else slice(self.rep_start[k], self.rep_end[k])

    def repeat(self, customer_id: str, bought: Bought | None = None) -> _Repeat:
        """The customer's past items as of the model, with ``bought`` (purchase days read
        live) merged in: a later purchase day restarts the item's clock, adds to its count and
        updates its interval; an item first bought since the cutoff joins with the item's
        population cycle."""
        rows = self._repeat_rows(customer_id)
        r = _Repeat(
            self.rep_item[rows],
            self.rep_count[rows],
            self.rep_last[rows],
            self.rep_interval[rows],
            self.rep_spread[rows],
            self.rep_recent[rows],
        )
        if not bought:
            return r
        r = _Repeat(
            r.item, r.count.copy(), r.last.copy(), r.interval.copy(), r.spread, r.recent.copy()
        )
        where = {j: k for k, j in enumerate(r.item.tolist())}
        cutoff = float(np.floor(self.trained_day))
        extra: list[tuple[float, ...]] = []
        for item_id, days in bought.items():
            j = self.item_pos.get(item_id)
            if j is None:
                continue
            k = where.get(j)
            new = days[days > r.last[k]] if k is not None else days[days >= cutoff]
            if not len(new):
                continue
            weight = self.decayed(new)
            if k is None:
                span, n = float(new[-1] - new[0]), len(new)
                cycle = (span + SHRINK * self.item_cycle[j]) / (n - 1 + SHRINK)
                extra.append((j, float(n), float(new[-1]), max(cycle, 1.0), *weight))
                continue
            r.recent[k] += weight
            gaps = r.count[k] - 1 + SHRINK
            span = float(new[-1] - r.last[k])
            r.interval[k] = max((r.interval[k] * gaps + span) / (gaps + len(new)), 1.0)
            r.count[k] += len(new)
            r.last[k] = new[-1]
        if extra:
            cols = np.array(extra, dtype=np.float64)
            r = _Repeat(
                np.concatenate([r.item, cols[:, 0].astype(np.int64)]),
                np.concatenate([r.count, cols[:, 1]]),
                np.concatenate([r.last, cols[:, 2]]),
                np.concatenate([r.interval, cols[:, 3]]),
                np.concatenate([r.spread, np.full(len(cols), self.model.repeat_sigma)]),
                np.concatenate([r.recent, cols[:, 4:]]),
            )
        return r

    def decayed(self, days: np.ndarray) -> np.ndarray:
        """The weight of these purchase days in each decayed count, as of the cutoff."""
        return np.array([decay(self.trained_day - days, h).sum() for h in HALF_LIVES])

    def due(
        self, customer_id: str, now: float, horizon_days: float, bought: Bought | None = None
    ) -> list[Due]:
        """Every item the customer bought before with P(buy again within the horizon), the
        clock's probability calibrated on the training's validation window."""
        r = self.repeat(customer_id, bought)
        elapsed = now / DAY - r.last
        sigma = self.model.repeat_sigma
        p = due_probability(elapsed, r.interval, r.count, sigma, horizon_days)
        p = calibrated(p, r.count, horizon_days, self.model.due_calibration)
        # the window: the customer's own spread of gaps for the item
        q16, q50, q84 = conditional_quantiles(elapsed, r.interval, r.spread, (0.16, 0.5, 0.84))
        return [
            Due(int(j), float(pi), float(lj + a), float(lj + b), float(lj + c), float(lj), float(i))
            for j, pi, a, b, c, lj, i in zip(
                r.item, p, q50, q16, q84, r.last, r.interval, strict=True
            )
        ]

    # ------------------------------------------------------------- collaborative
    def fold_in(self, customer_id: str, context: np.ndarray) -> np.ndarray:
        """Exact ALS user factors from the customer's fitted interactions plus the session.

        Solves (YᵀY + λI + Yᵢᵀ(Cᵢ - I)Yᵢ) x = Yᵢᵀ cᵢ over the customer's items i.
        """
        m = self.model
        row = self.user_pos.get(customer_id)
        if row is not None:
            lo, hi = m.confidence_indptr[row], m.confidence_indptr[row + 1]
            idx = np.concatenate([m.confidence_indices[lo:hi], context])
            conf = np.concatenate(
                [m.confidence_data[lo:hi], np.full(len(context), m.session_confidence)]
            )
        else:
            idx, conf = context, np.full(len(context), m.session_confidence)
        Yi = self.Y[idx].astype(np.float64)
        A = self.gram + (Yi.T * (conf - 1.0)) @ Yi
        return np.linalg.solve(A, Yi.T @ conf).astype(np.float32)

    def _history(self, customer_id: str) -> np.ndarray:
        row = self.user_pos.get(customer_id)
        if row is None:
            return np.zeros(0, dtype=np.int64)
        m = self.model
        lo, hi = m.confidence_indptr[row], m.confidence_indptr[row + 1]
        return np.asarray(m.confidence_indices[lo:hi])

    def _because(self, items: Sequence[int], anchors: np.ndarray) -> list[int]:
        """Per item, the anchor item (other than itself) that contributes most to its score;
        the item itself when it has no other anchor. One product for all the items."""
        if not len(items):
            return []
        if not len(anchors):
            return list(items)
        picks = np.asarray(items, dtype=np.int64)
        scores = self.Y[anchors] @ self.Y[picks].T  # anchors x items
        scores[anchors[:, None] == picks[None, :]] = -np.inf
        best = np.argmax(scores, axis=0)
        found = np.isfinite(scores[best, np.arange(len(picks))])
        return [int(a) if ok else j for a, ok, j in zip(anchors[best], found, items, strict=True)]

    # -------------------------------------------------------------------- blend
    def recommend(self, q: Query, stock: StockCheck | None = None) -> Answer:
        """The learnt blend's answer where it answers (``augur.recommend.learnt``), else the
        fixed blend of repeat, explore/session and popular items, under every filter."""
        if self.blend is not None:
            from augur.recommend import learnt  # it builds on this module

            if learnt.learns(self, q):
                return learnt.answer(self, [q], stock)[0]
        return self.fixed(q, stock)

    def fixed(self, q: Query, stock: StockCheck | None = None) -> Answer:
        """The fixed blend: a share of the list from the repeat items, the rest explore or
        session items, popular items to fill."""
        n_items = len(self.item_ids)
        blocked = np.zeros(n_items, dtype=bool)
        context = self.indices(q.context)
        blocked[self.indices(q.exclude)] = True
        blocked[context] = True
        codes = self._category_codes(q.categories)
        allowed = np.ones(n_items, dtype=bool) if codes is None else np.isin(self.item_cat, codes)
        cold = not self.known(q.customer_id)
        c = self._candidates(q, context, blocked, allowed, codes, cold)
        return self._blend(q, c, blocked, allowed, context, stock, cold)

    def _candidates(
        self,
        q: Query,
        context: np.ndarray,
        blocked: np.ndarray,
        allowed: np.ndarray,
        codes: np.ndarray | None,
        cold: bool,
    ) -> _Candidates:
        m = self.model
        c = _Candidates()
        want = 2 * q.n + 10
        r = self.repeat(q.customer_id, q.bought)
        bought = r.item
        if len(bought):
            elapsed = q.now / DAY - r.last
            interval = r.interval
            p = due_probability(elapsed, interval, r.count, m.repeat_sigma, m.horizon_days)
            if self.ranker is not None:  # the learnt order, which knows the cycle itself
                score = self.ranker.score(
                    repeat_features(
                        r.count,
                        elapsed,
                        interval,
                        m.repeat_sigma,
                        m.horizon_days,
                        self.item_buyers[bought],
                        due=p,
                    )
                )
            elif self.repeat_order == "frequency":  # buy again beat the ranker on validation
                score = frequency_score(r.count, elapsed)
            else:
                score = p
                # inside its cycle and not due within the horizon (a durable, a staple just
                # restocked): not shown by any component
                blocked[bought[(p < m.min_due_probability) & (elapsed < interval)]] = True
            if q.include_repeat:
                ok = ~blocked[bought] & allowed[bought]
                order = np.flatnonzero(ok)[np.argsort(-score[ok], kind="stable")[:want]]
                c.repeat = bought[order]
                texts = repeat_reasons(elapsed[order], interval[order], r.count[order])
                c.repeat_reason = dict(zip(c.repeat.tolist(), texts, strict=True))
        user: np.ndarray | None = None
        pool: np.ndarray | None = None
        row = self.user_pos.get(q.customer_id)
        if len(context):
            user = self.fold_in(q.customer_id, context)
            c.personal_source = Source.SESSION
            parts = [self.model.similar_indices[context].ravel(), self.popular[:SESSION_POPULAR]]
            if row is not None:
                parts.append(self.model.user_candidates[row])
            pool = np.unique(np.concatenate(parts).astype(np.int64))
        elif row is not None:
            user = self.X[row]
            pool = self.model.user_candidates[row].astype(np.int64)
        if user is not None:
            hidden = blocked.copy() if codes is None else blocked | ~allowed
            hidden[bought] = True  # explore is about new items; repeat covers the rest
            enough = min(want, int((~hidden).sum()))
            c.personal = self._rank(user, pool, hidden, want)
            if len(c.personal) < enough:  # the short list ran dry under the filters: scan all
                c.personal = self._rank(user, None, hidden, want)
        if codes is None and cold and len(context):
            codes = np.unique(self.item_cat[context])  # cold start: the session's categories
        c.popular = self.popular_in(codes)
        c.popular = c.popular[~blocked[c.popular] & allowed[c.popular]][: want + len(bought)]
        return c

    def _rank(
        self, user: np.ndarray, pool: np.ndarray | None, hidden: np.ndarray, want: int
    ) -> np.ndarray:
        """Up to ``want`` items of ``pool`` (None: the whole catalogue) by score, hidden ones
        left out."""
        if pool is not None:
            pool = pool[pool >= 0]
            pool = pool[~hidden[pool]]
            order = np.argsort(-dot_rows(self.Y[pool], user), kind="stable")[:want]
            return pool[order]
        scores = self.Y @ user
        scores[hidden] = -np.inf
        n_items = len(scores)
        k = min(want, n_items)
        top = np.argpartition(-scores, k - 1)[:k] if k < n_items else np.arange(n_items)
        top = top[np.argsort(-scores[top], kind="stable")]
        return top[np.isfinite(scores[top])]

    def _blend(
        self,
        q: Query,
        c: _Candidates,
        blocked: np.ndarray,
        allowed: np.ndarray,
        context: np.ndarray,
        stock: StockCheck | None,
        cold: bool,
    ) -> Answer:
        m = self.model
        pool = np.unique(np.concatenate([c.repeat, c.personal, c.popular]))
        out_of_stock, stock_known = _out_of_stock(pool, stock)
        taken: set[int] = set(out_of_stock)
        per_cat: dict[int, int] = {}
        picks: list[tuple[int, Source]] = []
        cap = m.max_per_category if not q.categories or len(q.categories) > 1 else q.n

        def take(items: np.ndarray, source: Source, limit: int, capped: bool) -> None:
            for j in items.tolist():
                if len(picks) >= limit:
                    return
                if j in taken:
                    continue
                cat = int(self.item_cat[j])
                if capped and per_cat.get(cat, 0) >= cap:
                    continue
                taken.add(j)
                per_cat[cat] = per_cat.get(cat, 0) + 1
                picks.append((j, source))

        n_repeat = math.floor(m.repeat_share * q.n + 0.5) if len(c.personal) else q.n
        take(c.repeat, Source.REPEAT, n_repeat, True)
        take(c.personal, c.personal_source, q.n, True)
        take(c.repeat, Source.REPEAT, q.n, True)
        take(c.popular, Source.POPULAR, q.n, True)
        for items, source in (
            (c.repeat, Source.REPEAT),
            (c.personal, c.personal_source),
            (c.popular, Source.POPULAR),
        ):
            take(items, source, q.n, False)  # the diversity cap yields to a full list
        reasons = self._reasons(picks, q, c, context)
        return Answer(
            [
                Pick(j, 1.0 - r / q.n, s, text)
                for r, ((j, s), text) in enumerate(zip(picks, reasons, strict=True))
            ],
            cold,
            stock_known,
        )

    def _reasons(
        self, picks: list[tuple[int, Source]], q: Query, c: _Candidates, context: np.ndarray
    ) -> list[str]:
        """The reason of every pick; the anchors of all the session and explore picks are
        found with one product each."""
        ids = self.item_ids
        anchor: dict[int, int] = {}
        for source, anchors in ((Source.SESSION, context), (Source.EXPLORE, None)):
            items = [j for j, s in picks if s is source]
            if items:
                pool = anchors if anchors is not None else self._history(q.customer_id)
                anchor.update(zip(items, self._because(items, pool), strict=True))
        out = []
        for j, source in picks:
            if source is Source.REPEAT:
                out.append(c.repeat_reason[j])
            elif source is Source.SESSION:
                out.append(f"Goes with {ids[anchor[j]]} in your basket")
            elif source is Source.EXPLORE:
                a = anchor[j]
                out.append(
                    f"Customers who buy {ids[a]} also buy this"
                    if a != j
                    else "Picked for your taste"
                )
            else:
                category = self.category_of(j)
                out.append(f"Popular in {category}" if category else "Popular right now")
        return out

    # ---------------------------------------------------------------- similar
    def similar(
        self, item: int, n: int, stock: StockCheck | None = None, scan: bool = False
    ) -> list[Pick]:
        """Co-purchased items first (strong evidence), then nearest items in factor space."""
        m = self.model
        lo, hi = m.cooc_indptr[item], m.cooc_indptr[item + 1]
        cooc = np.asarray(m.cooc_indices[lo:hi], dtype=np.int64)
        cooc_score = np.asarray(m.cooc_data[lo:hi], dtype=np.float64)
        stored = m.similar_indices.shape[1] if m.similar_indices.ndim == 2 else 0
        if 2 * n <= stored and not scan:  # precomputed at training: a lookup
            near = np.asarray(m.similar_indices[item], dtype=np.int64)
            near_score = np.asarray(m.similar_scores[item], dtype=np.float64)
        else:  # a long list: scan the catalogue
            sims = self.Yn @ self.Yn[item]
            sims[item] = -np.inf
            k = min(2 * n + 10, len(sims) - 1)
            near = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
            near = near[np.argsort(-sims[near], kind="stable")]
            near_score = sims[near]
        name = self.item_ids[item]
        pool = np.unique(np.concatenate([cooc, near]))
        taken = {item} | _out_of_stock(pool, stock)[0]
        out: list[Pick] = []
        for items, scores, source, text in (
            (cooc, cooc_score, Source.POPULAR, f"Often bought with {name}"),
            (near, near_score, Source.EXPLORE, f"Customers who like {name} also like this"),
        ):
            for j, s in zip(items.tolist(), scores.tolist(), strict=True):
                if len(out) >= n:
                    return out
                if j in taken or not np.isfinite(s):
                    continue
                taken.add(j)
                out.append(Pick(j, float(s), source, text))
        if len(out) < n and not scan and len(self.item_ids) > n:
            return self.similar(item, n, stock, scan=True)  # filters emptied the stored list
        return out


def group_ranks(keys: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal keys (``keys`` ascending)."""
    return np.arange(len(keys)) - np.searchsorted(keys, keys)


def dot_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot products along the last axis, summed the same way for one customer's candidates
    as for a block's (``augur.recommend.block`` gives the same answers as ``recommend``)."""
    return (a * b).sum(axis=-1)


def _out_of_stock(pool: np.ndarray, stock: StockCheck | None) -> tuple[set[int], bool]:
    """The items of ``pool`` known to be out of stock, and whether stock was known at all."""
    if stock is None or not len(pool):
        return set(), True
    mask = stock(pool)
    if mask is None:
        return set(), False
    return set(pool[~mask].tolist()), True


def repeat_reasons(elapsed: np.ndarray, interval: np.ndarray, count: np.ndarray) -> list[str]:
    """The reason of each repeat pick, from its clock."""
    since = np.maximum(np.round(elapsed), 0).astype(np.int64).tolist()
    every = np.maximum(np.round(interval), 1).astype(np.int64).tolist()
    return [
        f"You buy this about every {e} days; last bought {s} days ago"
        if k >= 2
        else f"You bought this {s} days ago; most customers buy it again every {e} days"
        for s, e, k in zip(since, every, count.tolist(), strict=True)
    ]
