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

from augur.recommend.timing import due_probability

DAY = 86400.0


@dataclass
class RepeatModel:
    """Per customer x item purchase statistics, as columns."""

    customer: np.ndarray  # str
    item: np.ndarray  # str
    count: np.ndarray  # distinct purchase days
    last_day: np.ndarray  # days since the Unix epoch
    interval_days: np.ndarray
    sigma: float = 0.35  # log-scale spread of the next gap
    shrink: float = 2.0  # weight of the item's population cycle, in purchases

    @classmethod
    def fit(cls, history: pd.DataFrame, shrink: float = 2.0, sigma: float = 0.35) -> RepeatModel:
        """``history``: (customer_id, item_id, day) purchase days up to the cutoff."""
        h = history.sort_values(["customer_id", "item_id", "day"])
        h = h.assign(gap=h.groupby(["customer_id", "item_id"])["day"].diff())
        per_item = h.dropna(subset=["gap"]).groupby("item_id")["gap"].median()
        global_gap = float(per_item.median()) if len(per_item) else 30.0
        g = h.groupby(["customer_id", "item_id"]).agg(
            count=("day", "size"), last=("day", "max"), gaps=("gap", "sum")
        )
        g = g.reset_index()
        item_gap = g["item_id"].map(per_item).fillna(global_gap).to_numpy()
        own = g["gaps"].to_numpy()  # sum of own gaps (count - 1 of them)
        n_gaps = g["count"].to_numpy() - 1
        interval = (own + shrink * item_gap) / (n_gaps + shrink)
        return cls(
            g["customer_id"].to_numpy(dtype=object),
            g["item_id"].to_numpy(dtype=object),
            g["count"].to_numpy(dtype=float),
            g["last"].to_numpy(dtype=float),
            np.maximum(interval, 1.0),
            sigma,
            shrink,
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
            self.last_day + self.interval_days * np.exp(-self.sigma),
            self.last_day + self.interval_days * np.exp(self.sigma),
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
