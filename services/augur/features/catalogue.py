"""The catalogue's additions, for the recommender: items first named by an ItemEvent with a
category (``Keys.item_added``: item id -> the time it was first seen, kept for the latest
``KEPT`` items). An item known to the served model is not new to it; the recommender keeps
the others (``augur.recommend.additions``) and shows them in their category, marked new."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

KEPT = 10_000


def record_commands(key: str, added: Iterable[tuple[str, float]]) -> list[tuple[Any, ...]]:
    """Commands that add items (id, time) unless already there, and trim to ``KEPT``."""
    pairs: list[Any] = []
    for item, at in added:
        pairs += [repr(float(at)), item]
    if not pairs:
        return []
    return [("ZADD", key, "NX", *pairs), ("ZREMRANGEBYRANK", key, 0, -(KEPT + 1))]
