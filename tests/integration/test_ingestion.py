"""IngestEvents over real gRPC into a real Redis stream, folded by the consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
import redis
from google.protobuf.timestamp_pb2 import Timestamp

from augur.common.server import AugurServer
from augur.common.settings import ServerSettings
from augur.common.v1 import common_pb2
from augur.features.definitions import FEATURE_NAMES, feature_index
from augur.features.store import RedisFeatureStore
from augur.features.v1 import features_pb2, features_pb2_grpc
from augur.ingest.consumer import Consumer
from augur.ingest.ingest import Ingestor
from augur.ingest.main import build_spec
from augur.training.data.loader import load_dataset
from augur.training.offline.batch import materialise
from augur.training.offline.replay import dataset_events
from augur.training.offline.stream import compute_features


def ts(seconds: float) -> Timestamp:
    out = Timestamp()
    out.FromNanoseconds(int(seconds * 1e9))
    return out


def order(event_id: str, customer: str, t: float, qty: int = 1) -> features_pb2.Event:
    return features_pb2.Event(
        event_id=event_id,
        customer_id=customer,
        occurred_at=ts(t),
        order=features_pb2.OrderEvent(
            order_id=f"o-{event_id}",
            lines=[features_pb2.OrderLine(item_id="I1", quantity=qty, unit_price=2.5)],
        ),
    )


@pytest.fixture
async def stub(settings: ServerSettings) -> AsyncIterator[features_pb2_grpc.FeatureServiceStub]:
    server = AugurServer(settings, await build_spec(settings))
    port = await server.start(serve_metrics_endpoint=False)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield features_pb2_grpc.FeatureServiceStub(channel)
    await server.stop(0)


async def test_ingest_is_idempotent_and_consumer_updates_features(
    stub: features_pb2_grpc.FeatureServiceStub, settings: ServerSettings, redis_client: redis.Redis
) -> None:
    now = pd.Timestamp.now(tz="UTC").timestamp()
    events = [order(f"e{i}", f"cust-{i % 3}", now - 100 + i) for i in range(9)]
    first = await stub.IngestEvents(features_pb2.IngestEventsRequest(events=events), timeout=5)
    assert first.accepted == 9 and first.duplicates == 0
    again = await stub.IngestEvents(features_pb2.IngestEventsRequest(events=events[:4]), timeout=5)
    assert again.accepted == 0 and again.duplicates == 4
    assert [r.status for r in again.results] == [features_pb2.INGEST_STATUS_DUPLICATE] * 4

    consumer = Consumer(redis_client, settings)
    consumer.drain()
    reply = await stub.GetFeatures(features_pb2.GetFeaturesRequest(customer_id="cust-0"), timeout=5)
    values = dict(zip(reply.names, reply.values, strict=True))
    assert values["orders_total"] == 3 and values["revenue_total"] == pytest.approx(7.5)
    assert reply.as_of.seconds >= int(now) - 1
    status = await stub.GetIngestionStatus(features_pb2.GetIngestionStatusRequest(), timeout=5)
    assert status.shards[0].lag == 0 and status.shards[0].pending == 0


async def test_a_bad_event_rejects_the_whole_batch(
    stub: features_pb2_grpc.FeatureServiceStub, settings: ServerSettings, redis_client: redis.Redis
) -> None:
    now = pd.Timestamp.now(tz="UTC").timestamp()
    good = order("ok-1", "c1", now)
    bad = order("bad-1", "c1", now, qty=2_000_000)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.IngestEvents(features_pb2.IngestEventsRequest(events=[good, bad]), timeout=5)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "events[1]: order.lines[0].quantity" in (err.value.details() or "")
    stream = RedisFeatureStore.from_settings(settings).keys.stream(0)
    assert redis_client.xlen(stream) == 0  # nothing half-written
    future = order("f-1", "c1", now + 3600)
    with pytest.raises(grpc.aio.AioRpcError, match="future"):
        await stub.IngestEvents(features_pb2.IngestEventsRequest(events=[future]), timeout=5)
    unknown = features_pb2.Event(
        event_id="x",
        customer_id="c1",
        occurred_at=ts(now),
        contact_outcome=features_pb2.ContactOutcomeEvent(
            contact_id="k", channel=common_pb2.CHANNEL_EMAIL, outcome=99
        ),
    )
    with pytest.raises(grpc.aio.AioRpcError, match="not OPENED") as err:
        await stub.IngestEvents(features_pb2.IngestEventsRequest(events=[unknown]), timeout=5)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError, match="empty"):
        await stub.IngestEvents(features_pb2.IngestEventsRequest(), timeout=5)


async def test_unknown_and_malformed_customers(stub: features_pb2_grpc.FeatureServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetFeatures(features_pb2.GetFeaturesRequest(customer_id="nobody"), timeout=5)
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetFeatures(features_pb2.GetFeaturesRequest(customer_id="x" * 200), timeout=5)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 128" in (err.value.details() or "")


async def test_redis_down_is_unavailable_not_internal(tmp_path: Path) -> None:
    dead = ServerSettings(
        redis_url="redis://127.0.0.1:1/0", grpc_port=0, metrics_port=0, redis_prefix="dead"
    )
    server = AugurServer(dead, await build_spec(dead))
    port = await server.start(serve_metrics_endpoint=False)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = features_pb2_grpc.FeatureServiceStub(channel)
            for _ in range(2):  # the second call hits the open breaker
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.GetFeatures(
                        features_pb2.GetFeaturesRequest(customer_id="c"), timeout=5
                    )
                assert err.value.code() is grpc.StatusCode.UNAVAILABLE
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.IngestEvents(
                    features_pb2.IngestEventsRequest(
                        events=[order("e", "c", pd.Timestamp.now(tz="UTC").timestamp())]
                    ),
                    timeout=5,
                )
            assert err.value.code() is grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(0)


async def test_online_equals_batch_for_the_same_customer_and_time(
    stub: features_pb2_grpc.FeatureServiceStub,
    settings: ServerSettings,
    redis_client: redis.Redis,
    small_data: Path,
) -> None:
    """Half of the history is materialised in batch, the rest streams in; both paths agree."""
    ds = load_dataset(small_data)
    cutoff = pd.Timestamp("2025-04-15T00:00:00Z")
    store = RedisFeatureStore.from_settings(settings)
    store.write_items(
        ds.items["item_id"], ds.items["category"], ds.items["price"], ds.items["in_stock"]
    )
    chosen = list(ds.orders["customer_id"].drop_duplicates().iloc[:25])
    materialise(compute_features(ds, cutoff), store)
    later = [
        e
        for e in dataset_events(ds, customers=set(chosen))
        if e.occurred_at.seconds > cutoff.timestamp()
    ]
    assert len(later) > 200
    for start in range(0, len(later), 500):
        await stub.IngestEvents(
            features_pb2.IngestEventsRequest(events=later[start : start + 500]), timeout=10
        )
    consumer = Consumer(redis_client, settings)
    consumer.drain()
    for customer in chosen:
        online = store.get(customer)
        assert online is not None
        batch = compute_features(ds, online.as_of).to_frame().loc[customer].to_numpy()
        np.testing.assert_allclose(online.values, batch, rtol=2e-5, atol=1e-6, err_msg=customer)
    assert online.values[feature_index("orders_total")] > 0
    assert len(FEATURE_NAMES) >= 45


def test_refresh_rolls_time_forward_without_touching_the_accumulator(
    settings: ServerSettings, redis_client: redis.Redis, small_data: Path
) -> None:
    """Records materialised days ago are re-finalised as of now, from the same state."""
    from augur.features.definitions import finalize

    ds = load_dataset(small_data)
    frame = compute_features(ds, ds.orders["timestamp"].max())
    store = RedisFeatureStore.from_settings(settings)
    materialise(frame, store)
    consumer = Consumer(redis_client, settings)
    while True:
        consumer.refresh_step(count=100)
        if consumer._refresh_cursor == 0:
            break
    ids = list(frame.customer_ids[:20])
    now = pd.Timestamp.now(tz="UTC").timestamp()
    for i, customer in enumerate(ids):
        vector = store.get(customer)
        assert vector is not None and abs(vector.as_of - now) < 60
        np.testing.assert_allclose(
            vector.values, finalize(frame.accumulators[i], vector.as_of)[0], rtol=1e-6, atol=1e-6
        )
    np.testing.assert_array_equal(store.get_accumulators(ids), frame.accumulators[:20])


def test_events_are_routed_by_customer_across_shards(
    settings: ServerSettings, redis_client: redis.Redis
) -> None:
    """With 3 shards each customer's events land in one shard, consumed by its consumer."""
    sharded = settings.model_copy(update={"ingest_shards": 3})
    ingestor = Ingestor(redis_client, sharded)
    now = pd.Timestamp.now(tz="UTC").timestamp() - 60
    customers = [f"s{i}" for i in range(30)]
    events = [order(f"sh{i}", customers[i % 30], now + i) for i in range(300)]
    for start in range(0, 300, 100):
        assert all(ingestor.ingest(events[start : start + 100]).accepted)
    keys = RedisFeatureStore.from_settings(sharded).keys
    lengths = [redis_client.xlen(keys.stream(s)) for s in range(3)]
    assert sum(lengths) == 300 and all(n > 0 for n in lengths)
    for shard in range(3):
        Consumer(redis_client, sharded, shard).drain()
    store = RedisFeatureStore.from_settings(sharded)
    totals = [store.get(c).values[feature_index("orders_total")] for c in customers]
    assert totals == [10.0] * 30
