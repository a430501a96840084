"""RecommendCore on in-memory features with a model fitted here on the small synthetic shop:
lists, stock, repeat exclusion, validation, batches and anticipation, no Redis or MLflow."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from augur.common.errors import InvalidArgument, NotFound
from augur.common.models import FixedModel, Loaded
from augur.common.settings import RecommendSettings, load_settings
from augur.features import carts
from augur.features.store import InMemoryFeatureStore
from augur.features.v1 import features_pb2
from augur.recommend.core import RecommendCore
from augur.recommend.index import Due, Query, RecommendIndex, Source
from augur.recommend.learnt import answer, learns
from augur.recommend.ranker import CANDIDATE_FEATURES, RANKER_FEATURES, REPEAT_ORDERS
from augur.training.data.loader import load_dataset
from augur.training.recommend.train import RecommendConfig, fit, to_model


@pytest.fixture(scope="module")
def fitted(small_data: Path) -> tuple[RecommendIndex, pd.DataFrame, pd.Timestamp]:
    ds = load_dataset(small_data, only=("orders", "interactions", "items"))
    end = ds.orders["timestamp"].max()
    model = to_model(fit(ds, end.timestamp(), RecommendConfig(factors=8, iterations=3)))
    return RecommendIndex(model), ds.orders, end


def _core(
    fitted: tuple[RecommendIndex, pd.DataFrame, pd.Timestamp],
    as_of: pd.Timestamp | None = None,
) -> tuple[RecommendCore, InMemoryFeatureStore]:
    index, _, end = fitted
    store = InMemoryFeatureStore()
    when = end if as_of is None else as_of
    settings = load_settings(RecommendSettings, recommend_as_of=when.isoformat())
    loaded = Loaded(index, "augur-recommend", "3", "champion", 0.0, "registry")
    return RecommendCore(store, FixedModel(loaded), settings), store


def _buyer(orders: pd.DataFrame) -> str:
    return str(orders["customer_id"].value_counts().index[0])


def test_lists_honour_stock_and_repeat_exclusion(
    fitted: tuple[RecommendIndex, pd.DataFrame, pd.Timestamp],
) -> None:
    core, store = _core(fitted)
    index, orders, _ = fitted
    customer = _buyer(orders)
    answer, loaded = core.recommend(customer, 10)
    items = [index.item_ids[p.item] for p in answer.picks]
    assert len(items) == 10 and len(set(items)) == 10 and loaded.version == "3"
    store.out_of_stock.add(items[0])
    again = [index.item_ids[p.item] for p in core.recommend(customer, 10)[0].picks]
    assert items[0] not in again and len(again) == 10
    bought = set(orders.loc[orders["customer_id"] == customer, "item_id"])
    new_only, _ = core.recommend(customer, 10, include_repeat=False)
    assert new_only.picks and not {index.item_ids[p.item] for p in new_only.picks} & bought


def test_bad_requests_are_refused_and_batches_keep_order(
    fitted: tuple[RecommendIndex, pd.DataFrame, pd.Timestamp],
) -> None:
    core, _ = _core(fitted)
    _, orders, _ = fitted
    with pytest.raises(InvalidArgument, match="n must"):
        core.recommend(_buyer(orders), 0)
    with pytest.raises(InvalidArgument):
        core.recommend("", 5)
    with pytest.raises(InvalidArgument, match="customer_ids"):
        core.batch([], 5)
    ids = [_buyer(orders), "", "nobody-at-all"]
    _, chunks = core.batch(ids, 5)
    results = [r for chunk in chunks for r in chunk]
    assert [r.customer_id for r in results] == ids
    assert results[0].answer is not None and len(results[0].answer.picks) == 5
    assert results[1].answer is None and results[1].error
    assert results[2].answer is not None and results[2].answer.cold_start


def test_anticipation_needs_a_history(
    fitted: tuple[RecommendIndex, pd.DataFrame, pd.Timestamp],
) -> None:
    core, _ = _core(fitted)
    _, orders, _ = fitted
    due, _ = core.anticipate(_buyer(orders), 30, 5, None)
    assert 0 < len(due) <= 5
    assert all(a.expected_day <= b.expected_day for a, b in itertools.pairwise(due))
    with pytest.raises(NotFound, match="no purchase history"):
        core.anticipate("nobody-at-all", 30, 5, None)
    with pytest.raises(InvalidArgument, match="horizon_days"):
        core.anticipate(_buyer(orders), 0, 5, None)


def test_a_live_purchase_restarts_the_clock_and_makes_a_history(
    fitted: tuple[RecommendIndex, pd.DataFrame, pd.Timestamp],
) -> None:
    core, store = _core(fitted)
    index, orders, end = fitted
    customer = _buyer(orders)
    today = int(end.timestamp() // 86400)

    def due(cid: str) -> dict[str, Due]:
        return {index.item_ids[d.item]: d for d in core.anticipate(cid, 30, 100, None)[0]}

    before = due(customer)
    staple = max(before, key=lambda i: before[i].probability)
    store.record_purchases({customer: {staple: {today}}})
    after = due(customer)
    # just restocked: no longer due (below the floor), or due later with the clock restarted
    assert staple not in after or (
        after[staple].last_day == today > before[staple].last_day
        and after[staple].expected_day > before[staple].expected_day
    )
    assert {i: d.probability for i, d in after.items() if i != staple} == {
        i: d.probability for i, d in before.items() if i != staple
    }
    read = store.recent_purchases([customer])[0]
    store.record_purchases({customer: {staple: {today}}})  # a replay adds nothing
    assert list(store.recent_purchases([customer])[0][staple]) == list(read[staple]) == [today]
    # a customer the model never saw, a fortnight after its cutoff: the purchases since are a
    # history of their own
    later, store = _core(fitted, end + pd.Timedelta(days=15))
    newcomer = "live-newcomer"
    with pytest.raises(NotFound):
        later.anticipate(newcomer, 30, 5, None)
    store.record_purchases({newcomer: {staple: {today + 1, today + 8}}})
    found = {index.item_ids[d.item]: d for d in later.anticipate(newcomer, 30, 5, None)[0]}
    assert list(found) == [staple] and found[staple].last_day == today + 8
    answer, _ = later.recommend(newcomer, 10)
    assert answer.cold_start and staple in {index.item_ids[p.item] for p in answer.picks}


class _Counting(InMemoryFeatureStore):
    """Counts the store's live reads (each is one Redis round trip in production)."""

    def __init__(self) -> None:
        super().__init__()
        self.trips = 0

    def live_state(self, customer_ids, stock_version, carts_since=None):  # type: ignore[no-untyped-def]
        self.trips += 1
        return super().live_state(customer_ids, stock_version, carts_since)

    def stock_snapshot(self):  # type: ignore[no-untyped-def]
        self.trips += 1
        return super().stock_snapshot()


def test_one_round_trip_reads_purchases_and_stock(
    fitted: tuple[RecommendIndex, pd.DataFrame, pd.Timestamp],
) -> None:
    index, orders, end = fitted
    store = _Counting()
    settings = load_settings(RecommendSettings, recommend_as_of=end.isoformat())
    loaded = Loaded(index, "augur-recommend", "3", "champion", 0.0, "registry")
    core = RecommendCore(store, FixedModel(loaded), settings)
    customers = orders["customer_id"].value_counts().index[:20].tolist()
    core.recommend(customers[0], 10)  # the first call reads the whole stock state once
    for customer in customers:
        before = store.trips
        answer, _ = core.recommend(customer, 10)
        assert store.trips - before == 1 and len(answer.picks) == 10
    store.out_of_stock.update(index.item_ids[p.item] for p in answer.picks[:3])
    before = store.trips
    again, _ = core.recommend(customers[-1], 10)  # a change: read again, and honoured
    assert not {p.item for p in again.picks} & {p.item for p in answer.picks[:3]}
    assert store.trips - before == 2
    before = store.trips
    _, chunks = core.batch(customers, 10)
    assert len([r for chunk in chunks for r in chunk]) == 20 and store.trips - before == 1


def _some_ranker(features: tuple[str, ...] = RANKER_FEATURES) -> str:
    """A small lambdarank booster over a ranker's features, fitted on random rows."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(400, len(features)))
    y = (X[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(int)
    data = lgb.Dataset(X, y, group=[20] * 20)
    params = {"objective": "lambdarank", "num_leaves": 7, "verbose": -1, "seed": 7}
    return str(lgb.train(params, data, num_boost_round=10).model_to_string())


@pytest.mark.parametrize(("order", "learnt"), [*((o, False) for o in REPEAT_ORDERS), ("", True)])
def test_a_block_answers_as_single_requests_do(
    fitted: tuple[RecommendIndex, pd.DataFrame, pd.Timestamp], order: str, learnt: bool
) -> None:
    """BatchRecommend's block path gives recommend's answers item for item (sources, scores,
    reasons), under every repeat order and under the learnt blend, every category filter,
    stock state and live purchase."""
    fitted_index, orders, end = fitted
    model = dataclasses.replace(
        fitted_index.model,
        repeat_order=order or fitted_index.model.repeat_order,
        blend_ranker=_some_ranker(CANDIDATE_FEATURES) if learnt else "",
    )
    if order == "ranker" and not model.repeat_ranker:  # the small shop is too small to learn one
        model = dataclasses.replace(model, repeat_ranker=_some_ranker())
    index = RecommendIndex(model)
    customers = [*orders["customer_id"].drop_duplicates().tolist()[:150], "nobody-at-all"]
    popular = [index.item_ids[j] for j in index.popular[:12].tolist()]
    today = end.timestamp() / 86400
    shown = [
        p.item for c in customers[:40] for p in index.recommend(Query(c, 10, end.timestamp())).picks
    ]
    out = {index.item_ids[j] for j in shown[::23]} | set(popular[::3])  # some of every source

    def stock(pool):  # type: ignore[no-untyped-def]
        return np.array([index.item_ids[j] not in out for j in pool.tolist()])

    bought = {popular[1]: np.array([np.floor(today)])}
    largest = np.argsort(-np.bincount(index.item_cat), kind="stable")
    cats = [index.category_names[k] for k in largest[:2].tolist()]
    for n, categories, include_repeat in ((10, (), True), (5, cats, True), (8, cats[:1], False)):
        queries = [
            Query(
                c,
                n,
                end.timestamp(),
                (),
                (),
                categories,
                include_repeat,
                bought if k % 7 == 0 else None,
            )
            for k, c in enumerate(customers)
        ]
        for check in (None, stock, lambda pool: None):
            block = answer(index, queries, check)
            single = [index.recommend(q, check) for q in queries]
            assert block == single
            if learnt:  # the learnt blend answered the customers it knows
                assert index.blend is not None
                assert any(learns(index, q) for q in queries)
            assert sum(len(a.picks) for a in block) > 0, (n, categories, check)


def test_the_cart_stands_for_a_missing_session(
    fitted: tuple[RecommendIndex, pd.DataFrame, pd.Timestamp],
) -> None:
    """The cart the events tell of: the latest event of each item decides (an order line
    takes it out), additions older than the cart window are no session, and a session the
    caller sends wins."""
    core, store = _core(fitted)
    index, orders, end = fitted
    customer, t = _buyer(orders), end.timestamp()
    a, b, c = (index.item_ids[j] for j in index.popular[:3].tolist())

    def event(kind: str, item: str, at: float) -> tuple[features_pb2.Event, float]:
        if kind == "order":
            line = features_pb2.OrderLine(item_id=item, quantity=1, unit_price=1.0)
            e = features_pb2.Event(
                customer_id=customer, order=features_pb2.OrderEvent(lines=[line])
            )
        else:
            e = features_pb2.Event(
                customer_id=customer,
                interaction=features_pb2.InteractionEvent(type=getattr(carts, kind), item_id=item),
            )
        return e, at

    changes = carts.cart_changes(
        [
            event("ADD", a, t - 60),
            event("ADD", b, t - 50),
            event("order", b, t - 40),
            event("REMOVE", c, t - 30),
            event("ADD", c, t - 20),
        ]
    )
    assert changes == {customer: ({a: t - 60, c: t - 20}, {b})}
    store.record_carts(changes)
    answer, _ = core.recommend(customer, 10, include_repeat=False)
    session = [p for p in answer.picks if p.source is Source.SESSION]
    assert session and {index.item_ids[p.item] for p in answer.picks}.isdisjoint({a, c})
    assert all(
        p.reason in (f"Goes with {a} in your basket", f"Goes with {c} in your basket")
        for p in session
    )
    sent, _ = core.recommend(customer, 10, context=[b], include_repeat=False)
    assert {p.reason for p in sent.picks if p.source is Source.SESSION} == {
        f"Goes with {b} in your basket"
    }
    store.carts[customer] = {a: t - carts.CART_SECONDS - 1}  # an old cart is no session
    stale, _ = core.recommend(customer, 10, include_repeat=False)
    assert not [p for p in stale.picks if p.source is Source.SESSION]
