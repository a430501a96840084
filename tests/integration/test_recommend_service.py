"""The recommendation service over real gRPC, Redis and MLflow: lists, filters, cold start,
session fold-in, similar items, anticipation, batches, stock through IngestEvents, hot swap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pandas as pd
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from augur.common.server import AugurServer
from augur.common.settings import RecommendSettings, ServerSettings, load_settings
from augur.features.store import RedisFeatureStore
from augur.features.v1 import features_pb2, features_pb2_grpc
from augur.ingest.consumer import Consumer
from augur.ingest.main import build_spec as build_features
from augur.recommend.main import MODEL_NAME, build_spec
from augur.recommend.v1 import recommend_pb2, recommend_pb2_grpc
from augur.training.data.loader import load_dataset
from augur.training.registry import TrainReport
from tests.integration.hot_swap import swap_under_load
from tests.integration.rpc import expect

Trained = tuple[str, Path, TrainReport]
R = recommend_pb2


def recommend_settings(
    settings: ServerSettings, uri: str, tmp: Path, as_of: str, **extra: object
) -> RecommendSettings:
    return load_settings(
        RecommendSettings,
        **{
            **settings.model_dump(),
            "mlflow_tracking_uri": uri,
            "state_dir": tmp / "state",
            "model_poll_seconds": 0.2,
            "recommend_as_of": as_of,
            # compiled before serving in every test it would only add seconds (its own test)
            "recommend_compile_ranker": False,
            **extra,
        },
    )


@pytest.fixture(scope="module")
def shop(shop_data: Path) -> tuple[pd.DataFrame, str]:
    ds = load_dataset(shop_data)
    return ds.items, ds.orders["timestamp"].max().isoformat()


@pytest.fixture
async def service(
    settings: ServerSettings,
    recommend_trained: Trained,
    shop: tuple[pd.DataFrame, str],
    tmp_path: Path,
) -> AsyncIterator[tuple[recommend_pb2_grpc.RecommendServiceStub, RecommendSettings]]:
    items, data_end = shop
    rs = recommend_settings(settings, recommend_trained[0], tmp_path, data_end)
    RedisFeatureStore.from_settings(rs).write_items(
        items["item_id"], items["category"], items["price"], [True] * len(items)
    )
    server = AugurServer(rs, await build_spec(rs), readiness_interval=0.05)
    port = await server.start(serve_metrics_endpoint=False)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield recommend_pb2_grpc.RecommendServiceStub(channel), rs
    await server.stop(0)


async def test_recommend_blends_repeat_and_explore_with_reasons(
    service: tuple[recommend_pb2_grpc.RecommendServiceStub, RecommendSettings],
    recommend_trained: Trained,
) -> None:
    stub, _ = service
    reply = await stub.Recommend(R.RecommendRequest(customer_id="C0000001", n=10), timeout=5)
    ids = [i.item_id for i in reply.items]
    assert len(ids) == 10 == len(set(ids)) and not reply.cold_start
    assert reply.model.name == MODEL_NAME and reply.model.version == recommend_trained[2].version
    sources = {i.source for i in reply.items}
    assert R.SOURCE_REPEAT in sources and R.SOURCE_EXPLORE in sources
    assert all(i.reason and i.category for i in reply.items)
    assert [i.score for i in reply.items] == sorted((i.score for i in reply.items), reverse=True)
    repeat = next(i for i in reply.items if i.source == R.SOURCE_REPEAT)
    assert "days" in repeat.reason
    no_repeat = await stub.Recommend(
        R.RecommendRequest(customer_id="C0000001", n=10, include_repeat=False), timeout=5
    )
    assert R.SOURCE_REPEAT not in {i.source for i in no_repeat.items}
    one_cat = await stub.Recommend(
        R.RecommendRequest(customer_id="C0000001", n=8, categories=[reply.items[0].category]),
        timeout=5,
    )
    assert {i.category for i in one_cat.items} == {reply.items[0].category}


async def test_cold_start_and_session_fold_in(
    service: tuple[recommend_pb2_grpc.RecommendServiceStub, RecommendSettings],
) -> None:
    stub, _ = service
    cold = await stub.Recommend(R.RecommendRequest(customer_id="never-seen", n=6), timeout=5)
    assert cold.cold_start and len(cold.items) == 6
    assert {i.source for i in cold.items} == {R.SOURCE_POPULAR}
    base = await stub.Recommend(R.RecommendRequest(customer_id="C0000001", n=10), timeout=5)
    cart = [base.items[-1].item_id, base.items[-2].item_id]
    folded = await stub.Recommend(
        R.RecommendRequest(customer_id="C0000001", n=10, context_item_ids=cart), timeout=5
    )
    session = [i for i in folded.items if i.source == R.SOURCE_SESSION]
    assert session and all(any(c in i.reason for c in cart) for i in session)
    assert not {i.item_id for i in folded.items} & set(cart)  # the cart is not recommended back
    cold_cart = await stub.Recommend(
        R.RecommendRequest(customer_id="never-seen", n=6, context_item_ids=cart[:1]), timeout=5
    )
    assert cold_cart.cold_start and cold_cart.items[0].source == R.SOURCE_SESSION


async def ingest(rs: RecommendSettings, events: list[features_pb2.Event]) -> None:
    """Events through IngestEvents over gRPC, then folded by a consumer (drained)."""
    features = AugurServer(rs, await build_features(rs))
    port = await features.start(serve_metrics_endpoint=False)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await features_pb2_grpc.FeatureServiceStub(channel).IngestEvents(
                features_pb2.IngestEventsRequest(events=events), timeout=5
            )
        Consumer(RedisFeatureStore.from_settings(rs).client, rs).drain()
    finally:
        await features.stop(0)


async def test_stock_state_from_ingest_events_filters_at_once(
    service: tuple[recommend_pb2_grpc.RecommendServiceStub, RecommendSettings],
) -> None:
    stub, rs = service
    before = await stub.Recommend(R.RecommendRequest(customer_id="C0000002", n=10), timeout=5)
    gone = [before.items[0].item_id, before.items[3].item_id]
    now = Timestamp()
    now.GetCurrentTime()
    await ingest(
        rs,
        [
            features_pb2.Event(
                event_id=f"stock-{item}",
                occurred_at=now,
                item=features_pb2.ItemEvent(item_id=item, in_stock=False),
            )
            for item in gone
        ],
    )
    after = await stub.Recommend(R.RecommendRequest(customer_id="C0000002", n=10), timeout=5)
    assert len(after.items) == 10 and not {i.item_id for i in after.items} & set(gone)
    similar = await stub.SimilarItems(R.SimilarItemsRequest(item_id=gone[1], n=30), timeout=5)
    assert not {i.item_id for i in similar.items} & set(gone)


def regular_customer(shop_data: Path) -> str:
    """A customer who never starts to leave and has several staples (something is due)."""
    truth = pd.read_csv(shop_data / "truth" / "customers.csv")
    staples = pd.read_csv(shop_data / "truth" / "staples.csv")["customer_id"].value_counts()
    stays = truth.loc[truth["disengage_at"].isna(), "customer_id"]
    return str(staples[staples.index.isin(stays) & (staples >= 3)].sort_index().index[0])


async def test_similar_items_and_anticipation(
    service: tuple[recommend_pb2_grpc.RecommendServiceStub, RecommendSettings],
    shop: tuple[pd.DataFrame, str],
    shop_data: Path,
) -> None:
    stub, _ = service
    items, data_end = shop
    query = str(items["item_id"].iloc[5])
    similar = await stub.SimilarItems(R.SimilarItemsRequest(item_id=query, n=12), timeout=5)
    ids = [i.item_id for i in similar.items]
    assert len(ids) == 12 == len(set(ids)) and query not in ids
    assert all(query in i.reason for i in similar.items)
    now = Timestamp()
    now.FromDatetime(pd.Timestamp(data_end).to_pydatetime())
    customer = regular_customer(shop_data)
    due = await stub.AnticipateNext(
        R.AnticipateNextRequest(customer_id=customer, horizon_days=30, now=now), timeout=5
    )
    assert due.items and due.model.name == MODEL_NAME
    expected = [i.expected_at.seconds for i in due.items]
    assert expected == sorted(expected)
    for i in due.items:
        assert i.window_start.seconds <= i.expected_at.seconds <= i.window_end.seconds
        assert 0 < i.probability <= 1 and i.typical_interval_days >= 1
        assert i.last_purchased_at.seconds <= now.seconds
    short = await stub.AnticipateNext(
        R.AnticipateNextRequest(customer_id=customer, horizon_days=3, n=100, now=now), timeout=5
    )
    assert [i.probability for i in short.items] != [i.probability for i in due.items]


async def test_bad_input_gets_the_right_code(
    service: tuple[recommend_pb2_grpc.RecommendServiceStub, RecommendSettings],
) -> None:
    stub, _ = service
    ok = "C0000001"
    cases = [
        (stub.Recommend(R.RecommendRequest(customer_id=ok, n=0)), "n must be 1..100"),
        (stub.Recommend(R.RecommendRequest(customer_id=ok, n=101)), "n must be 1..100"),
        (stub.Recommend(R.RecommendRequest(customer_id="", n=5)), "customer_id is required"),
        (stub.Recommend(R.RecommendRequest(customer_id="a\x00b", n=5)), "non-printable"),
        (
            stub.Recommend(R.RecommendRequest(customer_id=ok, n=5, context_item_ids=["x"] * 101)),
            "context_item_ids has 101 entries",
        ),
        (
            stub.Recommend(R.RecommendRequest(customer_id=ok, n=5, exclude_item_ids=["y" * 200])),
            "exclude_item_ids[0] has 200 characters",
        ),
        (stub.SimilarItems(R.SimilarItemsRequest(item_id="I000001", n=0)), "n must be"),
        (stub.AnticipateNext(R.AnticipateNextRequest(customer_id=ok, horizon_days=0)), "horizon"),
        (stub.AnticipateNext(R.AnticipateNextRequest(customer_id=ok, horizon_days=366)), "1..365"),
    ]
    for call, text in cases:
        await expect(grpc.StatusCode.INVALID_ARGUMENT, call, text)
    await expect(
        grpc.StatusCode.NOT_FOUND,
        stub.SimilarItems(R.SimilarItemsRequest(item_id="no-such-item", n=5)),
        "not in the catalogue",
    )
    await expect(
        grpc.StatusCode.NOT_FOUND,
        stub.AnticipateNext(R.AnticipateNextRequest(customer_id="never-seen", horizon_days=7)),
        "no purchase history",
    )
    stream = stub.BatchRecommend(R.BatchRecommendRequest(customer_ids=[], n=5))
    await expect(grpc.StatusCode.INVALID_ARGUMENT, stream.read(), "1..10000 ids")


async def test_batch_streams_every_customer_in_order(
    service: tuple[recommend_pb2_grpc.RecommendServiceStub, RecommendSettings],
) -> None:
    stub, _ = service
    ids = [f"C{i:07d}" for i in range(2400)]
    ids[1500] = "bad\x01id"
    chunks = [
        c
        async for c in stub.BatchRecommend(
            R.BatchRecommendRequest(customer_ids=ids, n=5), timeout=60
        )
    ]
    assert [len(c.items) for c in chunks] == [1000, 1000, 400]
    results = [item for c in chunks for item in c.items]
    assert [r.customer_id for r in results] == ids
    assert results[1500].error.code == "INVALID_ARGUMENT"
    good = [r for r in results if r.HasField("recommendations")]
    assert len(good) == 2399 and all(len(r.recommendations.items) == 5 for r in good)
    single = await stub.Recommend(R.RecommendRequest(customer_id=ids[7], n=5), timeout=5)
    assert [i.item_id for i in good[7].recommendations.items] == [i.item_id for i in single.items]


async def test_redis_down_still_answers_marked_degraded(
    settings: ServerSettings,
    recommend_trained: Trained,
    shop: tuple[pd.DataFrame, str],
    tmp_path: Path,
) -> None:
    rs = recommend_settings(
        settings, recommend_trained[0], tmp_path, shop[1], redis_url="redis://127.0.0.1:1/0"
    )
    server = AugurServer(rs, await build_spec(rs), readiness_interval=0.05)
    port = await server.start(serve_metrics_endpoint=False)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            started = time.monotonic()
            reply = await recommend_pb2_grpc.RecommendServiceStub(channel).Recommend(
                R.RecommendRequest(customer_id="C0000001", n=5), timeout=5
            )
            assert time.monotonic() - started < 2
            assert len(reply.items) == 5
            assert reply.degradation.degraded and reply.degradation.reason == "STOCK_UNKNOWN"
    finally:
        await server.stop(0)


async def test_hot_swap_under_load_fails_no_request(
    service: tuple[recommend_pb2_grpc.RecommendServiceStub, RecommendSettings],
    recommend_trained: Trained,
) -> None:
    stub, _ = service
    uri, _, report = recommend_trained
    versions, failures, copy = await swap_under_load(
        uri,
        MODEL_NAME,
        report.version,
        lambda i: stub.Recommend(
            R.RecommendRequest(customer_id=f"C{i:07d}", n=10, context_item_ids=["I000001"]),
            timeout=5,
        ),
    )
    assert not failures
    assert versions == {report.version, copy}


async def test_a_purchase_ingested_changes_the_next_answers(
    service: tuple[recommend_pb2_grpc.RecommendServiceStub, RecommendSettings],
    shop: tuple[pd.DataFrame, str],
    shop_data: Path,
) -> None:
    """The live read: an order through IngestEvents restarts the clock of what it bought in
    the next AnticipateNext and Recommend (the latency is measured by make bench)."""
    stub, rs = service
    _, data_end = shop
    now = Timestamp()
    now.FromDatetime(pd.Timestamp(data_end).to_pydatetime())
    customer = regular_customer(shop_data)

    async def due() -> dict[str, R.AnticipatedItem]:
        reply = await stub.AnticipateNext(
            R.AnticipateNextRequest(customer_id=customer, horizon_days=30, n=100, now=now),
            timeout=5,
        )
        return {i.item_id: i for i in reply.items}

    before = await due()
    listed = await stub.Recommend(R.RecommendRequest(customer_id=customer, n=10), timeout=5)
    bought = sorted(before, key=lambda i: -before[i].probability)[:3]
    await ingest(
        rs,
        [
            features_pb2.Event(
                event_id=f"live-{customer}",
                customer_id=customer,
                occurred_at=now,
                order=features_pb2.OrderEvent(
                    order_id=f"live-{customer}",
                    lines=[
                        features_pb2.OrderLine(item_id=i, quantity=1, unit_price=1.0)
                        for i in bought
                    ],
                ),
            )
        ],
    )
    after = await due()
    for item in bought:  # just restocked: not due any more, or a fresh cycle from today
        cycle = 86400 * after[item].typical_interval_days if item in after else 0.0
        assert item not in after or (
            after[item].last_purchased_at.seconds // 86400 == now.seconds // 86400
            and after[item].expected_at.seconds > now.seconds + cycle / 2
        )
    assert any(item not in after for item in bought) or after != before
    again = await stub.Recommend(R.RecommendRequest(customer_id=customer, n=10), timeout=5)
    # the repeat clock of a listed item that was bought restarts (its reason says so; where
    # it ranks is the learnt order's call: a staple bought today is still due within 30 days)
    shown = {i.item_id: i.reason for i in listed.items if i.source == R.SOURCE_REPEAT}
    now_shown = {i.item_id: i.reason for i in again.items if i.source == R.SOURCE_REPEAT}
    restarted = [i for i in bought if i in shown and i in now_shown]
    assert restarted and all("last bought 0 days ago" in now_shown[i] for i in restarted)
    assert all("last bought 0 days ago" not in shown[i] for i in restarted)


async def test_a_cart_ingested_is_the_session_of_the_next_answer(
    service: tuple[recommend_pb2_grpc.RecommendServiceStub, RecommendSettings],
    shop: tuple[pd.DataFrame, str],
    shop_data: Path,
) -> None:
    """A shop that sends no cart with Recommend still gets answers for the basket: an item
    added through IngestEvents is the next answer's session, and leaves it once bought."""
    stub, rs = service
    items, data_end = shop
    now = Timestamp()
    now.FromDatetime(pd.Timestamp(data_end).to_pydatetime())
    customer = regular_customer(shop_data)

    async def listed() -> list[R.RecommendedItem]:
        request = R.RecommendRequest(customer_id=customer, n=10, include_repeat=False)
        return list((await stub.Recommend(request, timeout=5)).items)

    assert not [i for i in await listed() if i.source == R.SOURCE_SESSION]
    cart_item = str(items["item_id"].iloc[7])
    added = features_pb2.InteractionEvent(
        type=features_pb2.INTERACTION_TYPE_ADD_TO_CART, item_id=cart_item
    )
    await ingest(
        rs,
        [
            features_pb2.Event(
                event_id=f"cart-{customer}",
                customer_id=customer,
                occurred_at=now,
                interaction=added,
            )
        ],
    )
    answer = await listed()
    session = [i for i in answer if i.source == R.SOURCE_SESSION]
    assert session and all(i.reason == f"Goes with {cart_item} in your basket" for i in session)
    assert cart_item not in {i.item_id for i in answer}  # what is in the cart is not offered
    line = features_pb2.OrderLine(item_id=cart_item, quantity=1, unit_price=1.0)
    await ingest(
        rs,
        [
            features_pb2.Event(
                event_id=f"cart-order-{customer}",
                customer_id=customer,
                occurred_at=now,
                order=features_pb2.OrderEvent(order_id=f"co-{customer}", lines=[line]),
            )
        ],
    )
    assert not [i for i in await listed() if i.source == R.SOURCE_SESSION]  # bought: gone


async def test_an_item_added_to_the_catalogue_is_shown_new_in_its_category(
    service: tuple[recommend_pb2_grpc.RecommendServiceStub, RecommendSettings],
    shop: tuple[pd.DataFrame, str],
    shop_data: Path,
) -> None:
    """An ItemEvent with a category names an item the model has never seen: within seconds
    it takes the last position of the lists of customers who buy in that category (and of
    sessions in it), marked new; out of stock or in other categories it is not shown."""
    stub, rs = service
    items, data_end = shop
    customer = regular_customer(shop_data)
    request = R.RecommendRequest(customer_id=customer, n=10)
    before = await stub.Recommend(request, timeout=5)
    assert not [i for i in before.items if i.source == R.SOURCE_NEW_IN_CATALOGUE]
    orders = load_dataset(shop_data).orders
    mine = orders[orders["customer_id"] == customer].merge(items, on="item_id")
    days = mine.groupby("category")["timestamp"].apply(lambda t: t.dt.floor("D").nunique())
    favourite = str(days.sort_values(ascending=False, kind="stable").index[0])
    other = str(sorted(set(items["category"]) - set(mine["category"]))[0])  # never bought
    now = Timestamp()
    now.FromDatetime(pd.Timestamp(data_end).to_pydatetime())

    def item_event(item: str, category: str, in_stock: bool = True) -> features_pb2.Event:
        return features_pb2.Event(
            event_id=f"new-{item}",
            occurred_at=now,
            item=features_pb2.ItemEvent(item_id=item, in_stock=in_stock, category=category),
        )

    await ingest(
        rs,
        [
            item_event("NEW-1", favourite),
            item_event("NEW-GONE", favourite, in_stock=False),
            item_event("NEW-ELSEWHERE", other),
        ],
    )
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        after = await stub.Recommend(request, timeout=5)
        new = [i for i in after.items if i.source == R.SOURCE_NEW_IN_CATALOGUE]
        if new or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.1)
    assert [(i.item_id, i.category, i.reason) for i in new] == [
        ("NEW-1", favourite, f"New in {favourite}")
    ]
    assert after.items[-1].item_id == "NEW-1" and len(after.items) == 10
    assert [i.item_id for i in after.items[:9]] == [i.item_id for i in before.items[:9]]
    batch = [
        chunk
        async for chunk in stub.BatchRecommend(
            R.BatchRecommendRequest(customer_ids=[customer], n=10), timeout=10
        )
    ]
    listed = [i.item_id for i in batch[0].items[0].recommendations.items]
    assert listed[-1] == "NEW-1"
    off = await stub.Recommend(
        R.RecommendRequest(customer_id=customer, n=10, exclude_item_ids=["NEW-1"]), timeout=5
    )
    assert "NEW-1" not in {i.item_id for i in off.items}
