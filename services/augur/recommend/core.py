"""The recommendation service's transport-agnostic core: validation, stock, the model.

Every request reads the served model once (``watcher.require()``), so a hot
swap never mixes two models in one answer. What is live is read from Redis in
one round trip per request (per chunk of a batch): the customer's purchases
since the model's cutoff (one HGETALL), so a purchase restarts that item's
repeat clock in the next answer, and what changed in the stock since the
service's copy of it (``augur.features.stock``: nearly always nothing), so an
item marked out of stock through IngestEvents disappears from the next answer.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from augur.common.errors import InvalidArgument, NotFound, Unavailable
from augur.common.ids import check_id
from augur.common.models import Loaded, ModelWatcher
from augur.common.settings import RecommendSettings
from augur.features.carts import CART_SECONDS
from augur.features.stock import StockMirror
from augur.features.store import FeatureStore
from augur.recommend.additions import Added, Additions
from augur.recommend.index import (
    MAX_N,
    Answer,
    Bought,
    Due,
    Pick,
    Query,
    RecommendIndex,
    StockCheck,
)
from augur.recommend.learnt import answer

MAX_CONTEXT = 100
MAX_EXCLUDE = 1000
MAX_CATEGORIES = 100
MAX_BATCH = 10_000
BATCH_CHUNK = 1000
MAX_HORIZON = 365
DEFAULT_ANTICIPATE = 20
FAVOURITES = 3  # the customer's categories whose catalogue additions may be shown


@dataclass
class BatchResult:
    customer_id: str
    answer: Answer | None
    error: str = ""


def _check_n(n: int, default: int | None = None) -> int:
    if n == 0 and default is not None:
        return default
    if not 1 <= n <= MAX_N:
        raise InvalidArgument(f"n must be 1..{MAX_N}, got {n}")
    return n


def _check_ids(values: Sequence[str], what: str, limit: int) -> list[str]:
    if len(values) > limit:
        raise InvalidArgument(f"{what} has {len(values)} entries; at most {limit}")
    for i, value in enumerate(values):
        check_id(value, f"{what}[{i}]")
    return list(values)


def _id_error(customer_id: str) -> str:
    """What is wrong with a batch's customer id ("" when nothing is)."""
    try:
        check_id(customer_id, "customer_id")
    except InvalidArgument as exc:
        return exc.message
    return ""


class RecommendCore:
    """Recommend, SimilarItems, AnticipateNext and BatchRecommend over the served model."""

    def __init__(
        self,
        store: FeatureStore,
        watcher: ModelWatcher[RecommendIndex],
        settings: RecommendSettings,
    ) -> None:
        self.store = store
        self.watcher = watcher
        self.settings = settings
        self._as_of = settings.as_of_seconds()
        self.stock = StockMirror()
        self.additions = Additions()

    def now(self) -> float:
        return self._as_of if self._as_of is not None else time.time()

    def _live(
        self, index: RecommendIndex, customer_ids: Sequence[str], carts: bool = False
    ) -> tuple[list[Bought | None], StockCheck | None, list[list[str]]]:
        """Everything live in one round trip: the customers' purchases since the cutoff, what
        changed in the stock since the mirror's version (``augur.features.stock``) and, with
        ``carts``, what they have in the cart (``augur.features.carts``). Purchases are None
        each when the read is off or Redis is unreachable (the model's own history answers);
        the stock check is None when the filter is off and says "unknown" when Redis is
        unreachable; carts are empty when unread."""
        live = self.settings.recommend_live_purchases
        filtered = self.settings.recommend_stock_filter
        none: list[Bought | None] = [None] * len(customer_ids)
        empty: list[list[str]] = [[] for _ in customer_ids]
        carts = carts and self.settings.recommend_live_cart
        if not live and not filtered and not carts:
            return none, None, empty
        try:
            bought, changes, in_carts = self.store.live_state(
                list(customer_ids) if live or carts else [],
                self.stock.version,
                self.now() - CART_SECONDS if carts else None,
            )
            if filtered:
                self.stock.update(changes, self.store.stock_snapshot)
        except Unavailable:
            return none, ((lambda pool: None) if filtered else None), empty
        purchases: list[Bought | None] = list(bought) if live else none
        in_carts = in_carts if carts else empty
        if not filtered:
            return purchases, None, in_carts
        mask = self.stock.mask(index.item_pos)
        return purchases, lambda pool: mask[pool], in_carts

    def _query(
        self,
        customer_id: str,
        n: int,
        context: Sequence[str],
        exclude: Sequence[str],
        categories: Sequence[str],
        include_repeat: bool,
    ) -> Query:
        check_id(customer_id, "customer_id")
        return Query(
            customer_id,
            _check_n(n),
            self.now(),
            _check_ids(context, "context_item_ids", MAX_CONTEXT),
            _check_ids(exclude, "exclude_item_ids", MAX_EXCLUDE),
            _check_ids(categories, "categories", MAX_CATEGORIES),
            include_repeat,
        )

    def recommend(
        self,
        customer_id: str,
        n: int,
        context: Sequence[str] = (),
        exclude: Sequence[str] = (),
        categories: Sequence[str] = (),
        include_repeat: bool = True,
    ) -> tuple[Answer, Loaded[RecommendIndex]]:
        q = self._query(customer_id, n, context, exclude, categories, include_repeat)
        loaded = self.watcher.require()
        index = loaded.model
        bought, stock, carts = self._live(index, [customer_id], carts=not q.context)
        # no session sent: the cart the events told of stands for it
        context = q.context or tuple(carts[0][-MAX_CONTEXT:])
        q = dataclasses.replace(q, bought=bought[0], context=context)
        return self._with_additions(index, q, index.recommend(q, stock)), loaded

    def _with_additions(self, index: RecommendIndex, q: Query, answer: Answer) -> Answer:
        """The answer with its last positions given to catalogue additions the model does
        not know (``augur.recommend.additions``), when there are any for the customer."""
        slots = min(self.settings.recommend_new_item_slots, q.n)
        if not slots or not self.additions.items:
            return answer
        favourite = index.favourite_categories(q.customer_id, q.bought, q.context, FAVOURITES)
        if q.categories:
            favourite = [c for c in favourite if c in q.categories] or list(q.categories)
        skip = set(q.exclude) | set(q.context)
        if self.settings.recommend_stock_filter:
            skip |= self.stock.out
        found = self.additions.pick(index.item_pos, favourite, skip, slots)
        if not found:
            return answer
        kept = answer.picks[: q.n - len(found)]
        scores = [1.0 - r / q.n for r in range(len(kept), len(kept) + len(found))]
        added = [
            Added(item, category, score, f"New in {category}")
            for (item, category), score in zip(found, scores, strict=True)
        ]
        return dataclasses.replace(answer, picks=kept, added=added)

    def similar(self, item_id: str, n: int) -> tuple[list[Pick], Loaded[RecommendIndex]]:
        check_id(item_id, "item_id")
        n = _check_n(n)
        loaded = self.watcher.require()
        index = loaded.model
        j = index.item_pos.get(item_id)
        if j is None:
            raise NotFound(f"item {item_id!r} is not in the catalogue of the served model")
        return index.similar(j, n, self._live(index, [])[1]), loaded

    def anticipate(
        self, customer_id: str, horizon_days: int, n: int, now: float | None
    ) -> tuple[list[Due], Loaded[RecommendIndex]]:
        check_id(customer_id, "customer_id")
        if not 1 <= horizon_days <= MAX_HORIZON:
            raise InvalidArgument(f"horizon_days must be 1..{MAX_HORIZON}, got {horizon_days}")
        n = _check_n(n, DEFAULT_ANTICIPATE)
        loaded = self.watcher.require()
        index = loaded.model
        when = self.now() if now is None else now
        floor = index.model.min_due_probability
        bought = self._live(index, [customer_id])[0][0]
        history = index.due(customer_id, when, horizon_days, bought)
        if not history:
            raise NotFound(f"customer {customer_id!r} has no purchase history in the served model")
        due = [d for d in history if d.probability >= floor]
        due.sort(key=lambda d: (d.expected_day, -d.probability))
        return due[:n], loaded

    def batch(
        self,
        customer_ids: Sequence[str],
        n: int,
        categories: Sequence[str] = (),
        include_repeat: bool = True,
    ) -> tuple[Loaded[RecommendIndex], Iterator[list[BatchResult]]]:
        """Validates the whole request first, then yields results in chunks, in order."""
        if not 1 <= len(customer_ids) <= MAX_BATCH:
            raise InvalidArgument(
                f"customer_ids must hold 1..{MAX_BATCH} ids, got {len(customer_ids)}"
            )
        n = _check_n(n)
        cats = _check_ids(categories, "categories", MAX_CATEGORIES)
        loaded = self.watcher.require()
        index = loaded.model
        now = self.now()

        def chunks() -> Iterator[list[BatchResult]]:
            for start in range(0, len(customer_ids), BATCH_CHUNK):
                chunk = customer_ids[start : start + BATCH_CHUNK]
                errors = {c: _id_error(c) for c in chunk}
                good = [c for c in chunk if not errors[c]]
                bought, stock, _ = self._live(index, good)
                block = [
                    Query(c, n, now, (), (), cats, include_repeat, b)
                    for c, b in zip(good, bought, strict=True)
                ]
                answered = answer(index, block, stock)
                answers = {
                    q.customer_id: self._with_additions(index, q, a)
                    for q, a in zip(block, answered, strict=True)
                }
                yield [BatchResult(c, answers.get(c), errors[c]) for c in chunk]

        return loaded, chunks()
