"""When is a customer due to buy an item again? The repeat-purchase clock.

The gap to a customer's next purchase of an item is modelled as log-normal
around the customer's typical interval (``sigma`` is the log-scale spread).
Conditioning on "nothing bought since the last purchase" gives the
probability of a purchase within a horizon and the likely purchase window.
A customer far past several cycles has lapsed: no longer due.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

LAPSED_CYCLES = 4.0  # beyond this many intervals without a purchase, the habit has ended


def _cdf(days: np.ndarray, interval: np.ndarray, sigma: float | np.ndarray) -> np.ndarray:
    return ndtr((np.log(np.maximum(days, 1e-3)) - np.log(interval)) / sigma)


def due_probability(
    elapsed: np.ndarray, interval: np.ndarray, count: np.ndarray, sigma: float, horizon: float
) -> np.ndarray:
    """P(next purchase within ``horizon`` days | none in the ``elapsed`` days since the last).

    Scaled by the strength of the habit (one past purchase is a weak signal)
    and zero for lapsed habits.
    """
    elapsed = np.maximum(elapsed, 0.0)
    f_now = _cdf(elapsed, interval, sigma)
    f_end = _cdf(elapsed + horizon, interval, sigma)
    p = (f_end - f_now) / np.maximum(1.0 - f_now, 1e-12)
    p = np.where(elapsed > LAPSED_CYCLES * interval, 0.0, p)
    loyalty = 1.0 - np.exp(-count / 2.0)
    return np.clip(p * loyalty, 0.0, 1.0)


def conditional_quantiles(
    elapsed: np.ndarray, interval: np.ndarray, sigma: float | np.ndarray, qs: tuple[float, ...]
) -> list[np.ndarray]:
    """Days after the last purchase by which the next one has happened with each probability,
    given that none happened in the first ``elapsed`` days."""
    f_now = np.clip(_cdf(np.maximum(elapsed, 0.0), interval, sigma), 0.0, 1.0 - 1e-9)
    out = []
    for q in qs:
        z = ndtri(np.clip(f_now + (1.0 - f_now) * q, 1e-12, 1.0 - 1e-9))
        out.append(np.maximum(np.exp(np.log(interval) + sigma * z), elapsed))
    return out


CALIBRATION_CLIP = 1e-4


def calibration_inputs(p: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The calibration's inputs: the clock's logit and the habit's strength."""
    q = np.clip(p, CALIBRATION_CLIP, 1.0 - CALIBRATION_CLIP)
    return np.column_stack([np.log(q / (1.0 - q)), np.log1p(count)])


def calibrated(
    p: np.ndarray, count: np.ndarray, horizon_days: float, table: np.ndarray
) -> np.ndarray:
    """The clock's probabilities mapped to observed rates: ``table`` rows are (horizon days,
    weight of the logit, weight of log(1 + purchase days), intercept), fitted at training on a
    validation window; between fitted horizons the weights are interpolated in log days,
    beyond them the nearest is used. An empty table leaves ``p`` as it is."""
    if not len(table) or not len(p):
        return p
    at = np.log(max(horizon_days, 1e-3))
    h = np.log(table[:, 0])
    a, b, c = (np.interp(at, h, table[:, k]) for k in (1, 2, 3))
    x = calibration_inputs(p, count)
    return np.asarray(1.0 / (1.0 + np.exp(-(a * x[:, 0] + b * x[:, 1] + c))))
