"""Items added to the catalogue after the served model was trained.

The model cannot score an item it has never seen, but the shop wants its new arrivals
shown. The ingestion consumer records every item an ItemEvent with a category names
(``augur.features.catalogue``); the service keeps a copy (``Additions``, refreshed in the
background every ``REFRESH_SECONDS``, nothing read per request) and gives each list up to
``recommend_new_item_slots`` of them: the newest additions in the customer's own favourite
categories (the session's, for a session), in stock, not excluded, not known to the model,
in the last positions of the list, marked ``SOURCE_NEW_IN_CATALOGUE`` with the reason "New
in <category>".
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from augur.features.catalogue import KEPT
from augur.features.store import RedisFeatureStore

REFRESH_SECONDS = 1.0
READ = 1000  # additions read per refresh at most (the rest at the next)


@dataclass(frozen=True)
class Added:
    """A catalogue addition placed in a list."""

    item_id: str
    category: str
    score: float
    reason: str


class Additions:
    """The catalogue's additions seen so far: item -> (category, time added)."""

    def __init__(self) -> None:
        self.since = 0.0  # the latest addition time read
        self.items: dict[str, tuple[str, float]] = {}
        self._newest: list[tuple[str, str]] = []  # (item, category), newest first
        self._lock = threading.Lock()

    def refresh(self, store: RedisFeatureStore) -> int:
        """Read the additions since the last refresh; the number of new ones."""
        low = self.since if self.since else "-inf"  # inclusive: ties are filtered below
        raw: Any = store._call(
            lambda: store.client.zrangebyscore(
                store.keys.item_added(), low, "+inf", start=0, num=READ, withscores=True
            )
        )
        fresh = [(m.decode(), float(t)) for m, t in raw if m.decode() not in self.items]
        if not fresh:
            return 0
        categories = store.item_categories([item for item, _ in fresh])
        with self._lock:
            for (item, at), category in zip(fresh, categories, strict=True):
                if category:
                    self.items[item] = (category, at)
            self.since = max(self.since, max(at for _, at in fresh))
            newest = sorted(self.items.items(), key=lambda kv: -kv[1][1])[:KEPT]
            self.items = dict(newest)
            self._newest = [(item, category) for item, (category, _) in newest]
        return len(fresh)

    def pick(
        self,
        known: dict[str, int],
        categories: Sequence[str],
        skip: set[str],
        k: int,
    ) -> list[tuple[str, str]]:
        """Up to ``k`` (item, category) of these categories, newest first, neither known to
        the model (``known``: its item ids) nor in ``skip``."""
        if not k or not categories:
            return []
        wanted = set(categories)
        out: list[tuple[str, str]] = []
        for item, category in self._newest:
            if category in wanted and item not in known and item not in skip:
                out.append((item, category))
                if len(out) >= k:
                    break
        return out
