"""Calibration of AnticipateNext: the repeat clock's "due within H days" probabilities against
what customers really bought, on a validation window cut from the training data.

At ``start`` = cutoff - ``VALIDATION_DAYS``, the repeat statistics are those of the purchases
before it; for each horizon H of ``HORIZONS`` every customer x item row is labelled bought in
[start, start + H) or not, and a logistic regression on the clock's logit and the habit's
strength maps the clock to observed rates (the table ``augur.recommend.timing.calibrated``
reads). The window's own figures (ECE before and after, reliability by decile at the model's
horizon) go to the training metrics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from augur.recommend.timing import calibrated, calibration_inputs, due_probability
from augur.training.data.loader import Dataset
from augur.training.recommend.data import DAY, purchases
from augur.training.recommend.repeat import repeat_as_of
from augur.training.reliability import expected_calibration_error

HORIZONS = (7.0, 14.0, 30.0, 60.0)
VALIDATION_DAYS = 60
MIN_ROWS = 300  # customer x item rows in the window, or no calibration
MIN_POSITIVES = 30


def fit_due_calibration(
    ds: Dataset, cutoff: float, sigma: float, horizon_days: float
) -> tuple[np.ndarray, dict[str, float]]:
    """(table, metrics); an empty table when the window is too small to say anything."""
    start = cutoff - VALIDATION_DAYS * DAY
    repeat = repeat_as_of(ds, start, sigma)
    if len(repeat.count) < MIN_ROWS:
        return np.zeros((0, 4)), {}
    later = purchases(ds, start, cutoff)
    first = later.groupby(["customer_id", "item_id"])["day"].min()
    keys = pd.MultiIndex.from_arrays([repeat.customer, repeat.item])
    next_day = first.reindex(keys).to_numpy(dtype=float)  # NaN: not bought in the window
    elapsed = start / DAY - repeat.last_day
    rows, metrics = [], {}
    for h in HORIZONS:
        y = (next_day < start / DAY + h).astype(int)
        if y.sum() < MIN_POSITIVES or y.sum() == len(y):
            continue
        p = due_probability(elapsed, repeat.interval_days, repeat.count, sigma, h)
        fit = LogisticRegression(C=1e4, max_iter=500).fit(calibration_inputs(p, repeat.count), y)
        rows.append((h, float(fit.coef_[0, 0]), float(fit.coef_[0, 1]), float(fit.intercept_[0])))
        if h == horizon_days:
            table = np.array(rows[-1:])
            after = calibrated(p, repeat.count, h, table)
            metrics = {
                "anticipate_validation_rows": float(len(y)),
                "anticipate_validation_bought": float(y.mean()),
                "anticipate_ece_clock": expected_calibration_error(y, p),
                "anticipate_ece": expected_calibration_error(y, after),
                "anticipate_mean_probability_clock": float(p.mean()),
                "anticipate_mean_probability": float(after.mean()),
            }
    return np.array(rows, dtype=np.float64).reshape(-1, 4), metrics
