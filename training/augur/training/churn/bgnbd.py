"""BG/NBD ("buy till you die", Fader, Hardie & Lee 2005), fitted by maximum likelihood.

Each customer is summarised by x (repeat purchases), t_x (time of the last
purchase since the first) and T (time since the first purchase), in days.
Used as a churn baseline (-E[purchases in the horizon]; 1 - P(alive) is reported too, but it
ranks one-time buyers as the safest customers) and, through the posterior purchase rate, for the
expected value of a retained customer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

from augur.features.definitions import feature_index


@dataclass(frozen=True)
class BgNbd:
    """Fitted parameters: purchase rates ~ Gamma(r, alpha); drop-out p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(the customer is still active | history)."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            log_ratio = (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x))
            odds = np.where(x > 0, self.a / (self.b + np.maximum(x, 1) - 1) * np.exp(log_ratio), 0)
        return 1.0 / (1.0 + odds)

    def expected_purchases(
        self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """E[purchases in the next t days | history] (Fader, Hardie & Lee 2005, eq. 10)."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            z = t / (alpha + T + t)
            head = (a + b + x - 1) / (a - 1 if abs(a - 1) > 1e-9 else 1e-9)
            tail = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(
                r + x, b + x, a + b + x - 1, z
            )
            odds = np.where(
                x > 0,
                a / (b + np.maximum(x, 1) - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x),
                0.0,
            )
            out = head * tail / (1 + odds)
        return np.nan_to_num(out, nan=0.0, posinf=0.0)

    def purchase_rate(self, x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Posterior mean purchases per day of a customer who is still active."""
        return (self.r + np.asarray(x, float)) / (self.alpha + np.asarray(T, float))


def log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return a1 + a2 + np.logaddexp(a3, a4)


def fit(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BgNbd:
    """Maximum-likelihood fit on log-parameters (L-BFGS-B)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    ok = np.isfinite(x) & np.isfinite(t_x) & np.isfinite(T) & (T > 0)
    x, t_x, T = x[ok], np.clip(t_x[ok], 0, None), T[ok]

    def loss(log_params: np.ndarray) -> float:
        value = -np.mean(log_likelihood(np.exp(log_params), x, t_x, T))
        return float(value) if np.isfinite(value) else 1e12

    start = np.log([1.0, max(float(np.mean(T)), 1.0), 1.0, 1.0])
    result = minimize(loss, start, method="L-BFGS-B", bounds=[(-8, 8)] * 4)
    r, alpha, a, b = np.exp(result.x)
    return BgNbd(float(r), float(alpha), float(a), float(b))


def rfm_from_features(features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) in days from feature vectors (rows), NaN-free for buyers."""
    orders = features[:, feature_index("orders_total")].astype(float)
    T = features[:, feature_index("days_since_first_order")].astype(float)
    since_last = features[:, feature_index("days_since_last_order")].astype(float)
    x = np.maximum(orders - 1, 0)
    t_x = np.clip(T - since_last, 0, None)
    return np.nan_to_num(x), np.nan_to_num(t_x), np.nan_to_num(T, nan=0.0)
