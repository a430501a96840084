"""The repeat model: when is each customer due to buy each item again?

For every customer x item bought before, the expected interval between
purchases is the customer's own mean gap shrunk towards the item's
population median gap (a customer with two purchases is mostly the item's
typical cycle; one with twenty is mostly themselves). The timing of the next
purchase (``augur.recommend.timing``) turns it into a "due" probability
for a horizon and an expected purchase window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from augur.recommend.ranker import HALF_LIVES, decay
from augur.recommend.timing import due_probability
from augur.training.data.loader import Dataset
from augur.training.recommend.data import purchases

DAY = 86400.0
SPREAD_RANGE = (0.1, 1.5)  # log-scale: a window between about 0.9-1.1x and 0.2-4.5x the cycle


_AS_OF: list[tuple[object, float, float, RepeatModel]] = []  # the latest few fits


def repeat_as_of(ds: Dataset, start: float, sigma: float) -> RepeatModel:
    """The repeat statistics of the purchases before ``start``; the ranker's windows and the
    anticipation's calibration share a window start, so a fit is kept for the next caller."""
    for orders, at, s, model in _AS_OF:
        if orders is ds.orders and at == start and s == sigma:
            return model
    model = RepeatModel.fit(purchases(ds, -np.inf, start), sigma=sigma)
    _AS_OF[:] = [(ds.orders, start, sigma, model), *_AS_OF[:3]]
    return model


def _sorted(dc: np.ndarray, di: np.ndarray, dd: np.ndarray) -> bool:
    """Whether rows with these steps of (customer, item, day) are in lexicographic order."""
    return bool(np.all((dc > 0) | ((dc == 0) & ((di > 0) | ((di == 0) & (dd >= 0))))))


@dataclass
class RepeatModel:
    """Per customer x item purchase statistics, as columns."""

    customer: np.ndarray  # str
    item: np.ndarray  # str
    count: np.ndarray  # distinct purchase days
    last_day: np.ndarray  # days since the Unix epoch
    interval_days: np.ndarray
    sigma: float = 0.35  # log-scale spread of the next gap, shop-wide
    shrink: float = 2.0  # weight of the item's population cycle, in purchases
    spread: np.ndarray | None = None
    """Per row: the log-scale spread of the customer's own gaps, shrunk towards ``sigma``
    (a customer with two gaps is mostly the shop's spread, one with twenty mostly their own);
    it sets the width of the expected purchase window."""

    recent: np.ndarray | None = None
    """Per row, the purchase days decayed to the fit's ``as_of_day`` with each half-life of
    ``augur.recommend.ranker.HALF_LIVES`` (rows x half-lives), when it was given."""

    def spreads(self) -> np.ndarray:
        return self.spread if self.spread is not None else np.full(len(self.count), self.sigma)

    @classmethod
    def fit(
        cls,
        history: pd.DataFrame,
        shrink: float = 2.0,
        sigma: float = 0.35,
        as_of_day: float | None = None,
    ) -> RepeatModel:
        """``history``: (customer_id, item_id, day) purchase days up to the cutoff. Rows come
        out sorted by customer, then item. Ids are factorised once and the rest is integer
        work (sorting the id strings themselves cost most of the training's time)."""
        customers, customer_ids = pd.factorize(history["customer_id"], sort=True)
        items, item_ids = pd.factorize(history["item_id"], sort=True)
        day = history["day"].to_numpy(dtype=float)
        c, i, d = customers, items, day
        key_steps = (np.diff(c), np.diff(i), np.diff(d))
        if not _sorted(*key_steps):  # ``purchases`` gives them sorted already
            order = np.lexsort((day, items, customers))
            c, i, d = customers[order], items[order], day[order]
        first = np.ones(len(c), dtype=bool)  # the first purchase day of a customer x item
        first[1:] = (c[1:] != c[:-1]) | (i[1:] != i[:-1])
        gap = np.diff(d, prepend=np.nan)
        gap[first] = np.nan
        starts = np.flatnonzero(first)
        ends = np.append(starts[1:], len(c))
        seen = ~np.isnan(gap)
        per_item = pd.Series(gap[seen]).groupby(i[seen]).median()
        global_gap = float(per_item.median()) if len(per_item) else 30.0
        item_gap = per_item.reindex(i[starts]).fillna(global_gap).to_numpy()
        own = np.add.reduceat(np.where(seen, gap, 0.0), starts) if len(starts) else np.zeros(0)
        count = (ends - starts).astype(float)
        interval = (own + shrink * item_gap) / (count - 1 + shrink)
        log_gap = np.where(seen, np.log(np.where(seen, np.maximum(gap, 1.0), 1.0)), 0.0)
        s1 = np.add.reduceat(log_gap, starts) if len(starts) else np.zeros(0)
        s2 = np.add.reduceat(log_gap**2, starts) if len(starts) else np.zeros(0)
        gaps = count - 1
        scatter = np.maximum(s2 - s1**2 / np.maximum(gaps, 1.0), 0.0)  # sum of squared deviations
        spread = np.sqrt((scatter + shrink * sigma**2) / (np.maximum(gaps - 1, 0.0) + shrink))
        recent = None
        if as_of_day is not None:
            recent = np.column_stack(
                [
                    np.add.reduceat(decay(as_of_day - d, h), starts) if len(starts) else np.zeros(0)
                    for h in HALF_LIVES
                ]
            )
        return cls(
            np.asarray(customer_ids, dtype=object)[c[starts]],
            np.asarray(item_ids, dtype=object)[i[starts]],
            count,
            d[ends - 1] if len(starts) else np.zeros(0),
            np.maximum(interval, 1.0),
            sigma,
            shrink,
            np.clip(spread, SPREAD_RANGE[0], SPREAD_RANGE[1]),
            recent,
        )

    def due_probability(self, now_day: float, horizon_days: float) -> np.ndarray:
        """P(next purchase in (now, now + horizon] | none since the last one), per row."""
        return due_probability(
            now_day - self.last_day, self.interval_days, self.count, self.sigma, horizon_days
        )

    def expected_next_day(self) -> np.ndarray:
        return self.last_day + self.interval_days

    def window(self) -> tuple[np.ndarray, np.ndarray]:
        """Likely purchase window (about one log-sd either side of the expected day)."""
        return (
            self.last_day + self.interval_days * np.exp(-self.spreads()),
            self.last_day + self.interval_days * np.exp(self.spreads()),
        )

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "customer_id": self.customer,
                "item_id": self.item,
                "count": self.count,
                "last_day": self.last_day,
                "interval_days": self.interval_days,
            }
        )
