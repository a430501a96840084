"""Churn labels and training frames at rolling cutoffs, with no leakage.

Non-contractual commerce: a customer who ordered at or before the cutoff is
*churned* when they place no order in the H days after it. When the
customers table gives an explicit end of the relationship (``ended_at``),
that decides instead: churned when it falls inside the horizon (customers
who had already ended before the cutoff are not scored). Features come only
from events at or before each cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from augur.features.definitions import A_LAST_ORDER
from augur.training.offline.batch import FeatureFrame

DAY = pd.Timedelta(days=1)


def churn_labels(
    features: FeatureFrame, next_order: np.ndarray, customers: pd.DataFrame, horizon_days: int
) -> pd.Series:
    """Label (True = churned) of every customer with an order at or before the cutoff of
    ``features``; ``next_order`` is each row's first order after the cutoff (inf: none)."""
    cutoff = pd.Timestamp(features.as_of, unit="s", tz="UTC")
    end = cutoff + horizon_days * DAY
    ordered = np.isfinite(features.accumulators[:, A_LAST_ORDER])
    labels = pd.Series(
        next_order[ordered] > end.timestamp(),
        index=pd.Index(features.customer_ids[ordered]),
        name="churned",
        dtype=bool,
    )
    if len(customers) and customers["ended_at"].notna().any():
        ended = customers.set_index("customer_id")["ended_at"].reindex(labels.index)
        known = ended.notna()
        labels = labels[~(known & (ended <= cutoff))]
        ended = ended.reindex(labels.index)
        explicit = ended.notna()
        labels[explicit] = ended[explicit] <= end
    return labels.sort_index()


@dataclass
class Frame:
    """Feature rows with labels for one or more cutoffs."""

    customer_ids: np.ndarray
    cutoffs: np.ndarray  # Unix seconds
    X: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def select(self, mask: np.ndarray) -> Frame:
        return Frame(self.customer_ids[mask], self.cutoffs[mask], self.X[mask], self.y[mask])

    @staticmethod
    def concat(frames: list[Frame]) -> Frame:
        return Frame(
            *(
                np.concatenate([getattr(f, n) for f in frames])
                for n in ("customer_ids", "cutoffs", "X", "y")
            )
        )


def labelled_frame(
    features: FeatureFrame, next_order: np.ndarray, customers: pd.DataFrame, horizon_days: int
) -> Frame:
    """Features as of the cutoff joined with the labels of the following horizon."""
    labels = churn_labels(features, next_order, customers, horizon_days)
    frame = features.to_frame()
    common = frame.index.intersection(labels.index)
    return Frame(
        np.asarray(common, dtype=object),
        np.full(len(common), features.as_of),
        frame.loc[common].to_numpy(dtype=np.float32),
        labels.loc[common].to_numpy(dtype=bool),
    )


MAX_TRAIN_CUTOFFS = 12
MIN_TRAIN_CUTOFFS = 4  # by default cutoffs move closer (down to 7 days) to have this many


@dataclass(frozen=True)
class CutoffPlan:
    """Where training and test labels come from."""

    train: list[pd.Timestamp]
    """Training cutoffs, oldest first."""
    test: pd.Timestamp
    """The test cutoff."""
    by_customer: bool = False
    """True when the data is too short for a test horizon after the training ones: the test is
    then a held-out share of the customers at the last training cutoff (same time, customers
    never trained on) instead of a later cutoff."""


def plan_cutoffs(
    data_start: pd.Timestamp,
    data_end: pd.Timestamp,
    horizon_days: int,
    n_train: int = 0,
    step_days: int = 0,
    min_history_days: int = 30,
) -> CutoffPlan:
    """Training cutoffs and the test cutoff.

    The test cutoff leaves a full horizon of observed data after it; every training cutoff's
    horizon ends at or before the test cutoff, so no label used for training overlaps the test
    period; the first training cutoff has ``min_history_days`` of data before it. ``step_days``
    0 takes a third of the horizon (7 to 30 days; closer when fewer than 4 cutoffs would fit);
    ``n_train`` 0 takes every cutoff that fits (at most 12). When two horizons do not fit but
    one does, the test is on held-out customers (``CutoffPlan.by_customer``). Raises
    ``ValueError`` saying how much history is needed when not even that fits.
    """
    earliest = data_start + min_history_days * DAY

    def spacing(last: pd.Timestamp) -> int:
        if step_days:
            return step_days
        step = int(min(30, max(7, horizon_days // 3)))
        room = (last - earliest) / DAY
        if room < step * (MIN_TRAIN_CUTOFFS - 1):  # closer cutoffs rather than too few
            step = max(7, int(room // (MIN_TRAIN_CUTOFFS - 1)))
        return step

    def fitting(last: pd.Timestamp) -> int:
        step = spacing(last)
        return 0 if last < earliest else int((last - earliest) / (step * DAY)) + 1

    def cutoffs(last: pd.Timestamp, count: int) -> list[pd.Timestamp]:
        step = spacing(last)
        count = min(count, fitting(last), MAX_TRAIN_CUTOFFS)
        return [last - i * step * DAY for i in range(count)][::-1]

    wanted = max(n_train, 2)
    test = (data_end - horizon_days * DAY).normalize()
    if fitting(test - horizon_days * DAY) >= wanted:
        return CutoffPlan(cutoffs(test - horizon_days * DAY, n_train or 99), test)
    if fitting(test) >= wanted:
        return CutoffPlan(cutoffs(test, n_train or 99), test, by_customer=True)
    step = spacing(test)
    need = horizon_days + min_history_days + (wanted - 1) * step
    have = (data_end - data_start) / DAY
    raise ValueError(
        f"a {horizon_days}-day churn model with {wanted} training cutoffs {step} days apart "
        f"needs at least {need} days of orders ({min_history_days} of history, the cutoffs, "
        f"then a whole horizon to observe who came back; {need + horizon_days} for a test "
        f"horizon of its own); the data spans {have:.0f} days ({data_start.date()} to "
        f"{data_end.date()}). Use a shorter --horizon-days or fewer --train-cutoffs."
    )
