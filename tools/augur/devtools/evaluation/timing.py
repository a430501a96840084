"""The contact-timing protocol: are the hours the activity profile rates best the hours the
customer is active next?

For each customer with an order before the cutoff and after it (within the window), the
profile is built from the orders before the cutoff (one activity per basket, at its local
hour of the week in the shop's zone) and its top-3 hours of the day and of the week are
compared with the hours of the baskets after the cutoff: the share of each customer's later
baskets that fall in them, averaged over the customers. Baselines on the same customers: the
shop's best hours (most baskets before the cutoff) and the customer's own most frequent hours
(ties broken by the shop's order).

What it measures is the estimator of ``augur.contact.activity`` on real baskets, the one
NextBestContact times decisions with when it has no response model; the figures are the
estimator's, not read back through the service.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from augur.contact.activity import SLOTS, counts_of, hour_scores, slots_of, top, week_scores
from augur.devtools.evaluation.datasets import Shop

TOP = 3


@dataclass(frozen=True)
class TimingProtocol:
    shop: str
    cutoff: str
    window_days: int
    timezone: str

    @property
    def name(self) -> str:
        return f"{self.shop} {self.cutoff} next {self.window_days} days ({self.timezone})"


TIMING_PROTOCOLS = (TimingProtocol("complete-journey", "2017-10-01", 30, "America/New_York"),)


@dataclass
class TimingOutcome:
    protocol: TimingProtocol
    customers: int
    baskets: int  # after the cutoff, of those customers
    scores: dict[str, dict[str, float]]  # scorer -> {"hour": share, "week": share}


def run(shop: Shop, protocol: TimingProtocol) -> TimingOutcome:
    cutoff = pd.Timestamp(protocol.cutoff, tz="UTC")
    end = cutoff + pd.Timedelta(days=protocol.window_days)
    baskets = shop.orders.drop_duplicates("order_id")[["customer_id", "timestamp"]]
    past = baskets[baskets["timestamp"] < cutoff]
    later = baskets[(baskets["timestamp"] >= cutoff) & (baskets["timestamp"] < end)]
    customers = sorted(set(past["customer_id"]) & set(later["customer_id"]))
    row = {c: i for i, c in enumerate(customers)}
    past = past[past["customer_id"].isin(row)]
    later = later[later["customer_id"].isin(row)]

    def slots(frame: pd.DataFrame) -> np.ndarray:
        return slots_of(frame["timestamp"].astype("int64").to_numpy() / 1e9, protocol.timezone)

    n = len(customers)
    counts = counts_of(past["customer_id"].map(row).to_numpy(), slots(past), n)
    shop_counts = counts_of(np.zeros(len(past), dtype=np.int64), slots(past), 1)[0]
    truth_rows, truth = later["customer_id"].map(row).to_numpy(), slots(later)
    shop_hours = shop_counts.reshape(7, 24).sum(axis=0)
    own_hours = counts.reshape(n, 7, 24).sum(axis=1)
    tie = 1e-9  # the shop's order breaks a customer's ties
    choices = {
        "Augur activity profile": (
            top(hour_scores(counts, shop_counts), TOP),
            top(week_scores(counts, shop_counts), TOP),
        ),
        "shop's best hours": (
            np.tile(top(shop_hours, TOP), (n, 1)),
            np.tile(top(shop_counts, TOP), (n, 1)),
        ),
        "customer's most frequent hours": (
            top(own_hours + tie * shop_hours / max(shop_hours.max(), 1.0), TOP),
            top(counts + tie * shop_counts / max(shop_counts.max(), 1.0), TOP),
        ),
    }
    scores = {
        name: {
            "hour": _share(hours, truth_rows, truth % 24, 24, n),
            "week": _share(week, truth_rows, truth, SLOTS, n),
        }
        for name, (hours, week) in choices.items()
    }
    return TimingOutcome(protocol, n, len(later), scores)


def _share(chosen: np.ndarray, rows: np.ndarray, truth: np.ndarray, width: int, n: int) -> float:
    """Mean over customers of the share of their baskets whose slot is among their chosen."""
    mask = np.zeros((n, width), dtype=bool)
    np.put_along_axis(mask, chosen, True, axis=1)
    hits = np.bincount(rows, weights=mask[rows, truth], minlength=n)
    return float(np.mean(hits / np.bincount(rows, minlength=n)))
