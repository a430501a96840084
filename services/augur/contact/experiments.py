"""Holdout experiments: stable assignment, and uplift with confidence intervals.

Assignment is a pure function of (experiment, customer): SHA-256 of both,
read as a number in [0, 1), below the holdout share -> holdout. Every process
and every re-run gives the same arm without storing anything first; the first
time a customer is asked about in an experiment is recorded (both arms, the
intention-to-treat population), so the report compares like with like.

Uplift = treated rate - holdout rate, with Newcombe's hybrid score interval
(built from the two Wilson intervals; sound for small groups and rates near 0).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from statistics import NormalDist

MIN_GROUP = 30  # customers per arm before a report may be conclusive
MIN_EVENTS = 5  # successes and failures per arm


def bucket(experiment: str, customer_id: str) -> float:
    digest = hashlib.sha256(f"{experiment}\x00{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def in_holdout(experiment: str, customer_id: str, share: float) -> bool:
    return bucket(experiment, customer_id) < share


def wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Uplift:
    treated_n: int
    treated_successes: int
    holdout_n: int
    holdout_successes: int
    absolute: float
    low: float
    high: float
    relative: float
    conclusive: bool
    note: str

    @property
    def treated_rate(self) -> float:
        return self.treated_successes / self.treated_n if self.treated_n else 0.0

    @property
    def holdout_rate(self) -> float:
        return self.holdout_successes / self.holdout_n if self.holdout_n else 0.0


def uplift(
    treated_n: int, treated_s: int, holdout_n: int, holdout_s: int, confidence: float = 0.95
) -> Uplift:
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p1 = treated_s / treated_n if treated_n else 0.0
    p2 = holdout_s / holdout_n if holdout_n else 0.0
    l1, u1 = wilson(treated_s, treated_n, z)
    l2, u2 = wilson(holdout_s, holdout_n, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    relative = d / p2 if p2 > 0 else float("nan")
    small = [
        name
        for name, n, s in (("treated", treated_n, treated_s), ("holdout", holdout_n, holdout_s))
        if n < MIN_GROUP or s < MIN_EVENTS or n - s < MIN_EVENTS
    ]
    pct = f"{confidence:.0%}"
    if small:
        note = (
            f"too few customers or outcomes for a conclusion in: {', '.join(small)} "
            f"(need >= {MIN_GROUP} customers and >= {MIN_EVENTS} customers with and without "
            "the outcome per arm)"
        )
    elif low > 0:
        note = f"contacting raised the rate by {d:+.1%} ({pct} CI {low:+.1%} to {high:+.1%})"
    elif high < 0:
        note = f"contacting lowered the rate by {d:+.1%} ({pct} CI {low:+.1%} to {high:+.1%})"
    else:
        note = f"no significant difference: {d:+.1%} ({pct} CI {low:+.1%} to {high:+.1%})"
    return Uplift(
        treated_n, treated_s, holdout_n, holdout_s, d, low, high, relative, not small, note
    )


def stratified_order(experiment: str, ranked: list[str], block: int = 20) -> list[int]:
    """Indexes of ``ranked`` in assignment order: consecutive blocks of ``block`` customers
    (similar rank, so similar risk), each shuffled by the experiment's hash."""
    order: list[int] = []
    for start in range(0, len(ranked), block):
        members = range(start, min(start + block, len(ranked)))
        order.extend(sorted(members, key=lambda i: bucket(experiment, ranked[i])))
    return order


def holdout_position(position: int, share: float) -> bool:
    """Whether the customer at ``position`` of the assignment order is held out: the first
    n positions always hold exactly floor(n * share) holdout customers."""
    return math.floor((position + 1) * share + 1e-9) > math.floor(position * share + 1e-9)
