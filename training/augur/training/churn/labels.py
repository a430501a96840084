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


def plan_cutoffs(
    data_end: pd.Timestamp, horizon_days: int, n_train: int = 4, step_days: int = 30
) -> tuple[list[pd.Timestamp], pd.Timestamp]:
    """Training cutoffs (oldest first) and the test cutoff.

    The test cutoff leaves a full horizon of observed data after it; every
    training cutoff's horizon ends at or before the test cutoff, so no label
    used for training overlaps the test period.
    """
    test = (data_end - horizon_days * DAY).normalize()
    last_train = test - horizon_days * DAY
    train = [last_train - i * step_days * DAY for i in range(n_train)][::-1]
    return train, test
