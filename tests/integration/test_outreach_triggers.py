"""Real-time triggers end to end: IngestEvents over gRPC, the ingestion consumer, the trigger
worker re-scoring with the registered churn champion, the triggers stream and the webhook
queue; holdout and cool-down respected; orders after enrolment kept for revenue uplift."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import grpc
import numpy as np
import pytest
import redis
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import CollectorRegistry

from augur.churn.model import ChurnModel
from augur.common.models import ModelMetrics, ModelWatcher
from augur.common.server import AugurServer
from augur.common.settings import ServerSettings
from augur.contact.experiment_store import ExperimentStore
from augur.contact.experiments import in_holdout
from augur.features.store import RedisFeatureStore
from augur.features.v1 import features_pb2, features_pb2_grpc
from augur.ingest.consumer import Consumer
from augur.ingest.main import build_spec
from augur.outreach.delivery import DeliveryQueue
from augur.outreach.triggers import BLOCK_MS, TriggerRule, TriggerRules, TriggerWorker
from augur.training.data.loader import load_dataset
from augur.training.offline.batch import materialise
from augur.training.offline.stream import compute_features
from augur.training.retrain import score_all

CAMPAIGN = "rt"


def _ts(seconds: float) -> Timestamp:
    out = Timestamp()
    out.FromNanoseconds(int(seconds * 1e9))
    return out


def view(event_id: str, customer: str) -> features_pb2.Event:
    return features_pb2.Event(
        event_id=event_id,
        customer_id=customer,
        occurred_at=_ts(time.time() - 1),
        interaction=features_pb2.InteractionEvent(
            type=features_pb2.INTERACTION_TYPE_VIEW, item_id="I0001"
        ),
    )


@pytest.fixture
def running(settings: ServerSettings, redis_client: redis.Redis) -> Iterator[list[Any]]:
    """Threads started by the test (consumer, worker), stopped at the end."""
    stop = threading.Event()
    threads: list[Any] = [stop]
    yield threads
    stop.set()
    for t in threads[1:]:
        t.join(timeout=5)


async def _wait(check: Any, within: float, every: float = 0.01) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        if check():
            return time.monotonic() - start
        await asyncio.sleep(every)
    raise AssertionError("condition not met in time")


async def test_a_crossing_fires_once_within_two_seconds_holdout_and_cooldown_respected(
    settings: ServerSettings,
    shop_data: Path,
    churn_trained: Any,
    redis_client: redis.Redis,
    tmp_path: Path,
    running: list[Any],
) -> None:
    store = RedisFeatureStore.from_settings(settings)
    keys = store.keys
    ds = load_dataset(shop_data)
    materialise(compute_features(ds, ds.orders["timestamp"].max()), store)
    uri, root, _ = churn_trained
    scored = score_all(uri, root, store)
    assert scored is not None
    model = scored[0]
    watcher = ModelWatcher(
        "augur-churn",
        "champion",
        ChurnModel.load,
        uri,
        tmp_path / "models",
        ModelMetrics(CollectorRegistry(), "outreach"),
    )
    await watcher.refresh()
    server = AugurServer(settings, await build_spec(settings))
    port = await server.start(serve_metrics_endpoint=False)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    features = features_pb2_grpc.FeatureServiceStub(channel)

    stop = running[0]
    worker = TriggerWorker(store, watcher, 0.1, consumer="test")
    consumer = Consumer(redis_client, settings)
    for target in (lambda: consumer.run(stop.is_set), lambda: worker.run(stop.is_set)):
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        running.append(thread)

    # probe: clones of customers with a low-to-middling score get one view; their new score
    # (features as of now) tells which threshold the same view crosses for the originals
    snapshot = store.client.hget(keys.churn_snapshot(), "id").decode()
    before = {
        m.decode(): s
        for m, s in store.client.zrangebyscore(
            keys.churn_probability(snapshot), 0.05, 0.6, withscores=True
        )[:300]
    }
    pipe = store.client.pipeline()
    for c in before:
        pipe.get(keys.features(c))
    for c, raw in zip(list(before), pipe.execute(), strict=True):
        store.client.set(keys.features(f"{c}-probe"), raw)
    reply = await features.IngestEvents(
        features_pb2.IngestEventsRequest(events=[view(f"p-{c}", f"{c}-probe") for c in before]),
        timeout=10,
    )
    assert reply.accepted == len(before)
    probes = [f"{c}-probe" for c in before]
    await _wait(lambda: store.get_matrix(probes)[2].min() > time.time() - 60, 10)
    _, X, _ = store.get_matrix(probes)
    after = dict(zip(before, model.probability(np.asarray(X, dtype=np.float64)), strict=True))
    ExperimentStore(store).register_share(CAMPAIGN, 0.3, time.time())
    rising = sorted((c for c in before if after[c] - before[c] > 0.04), key=lambda c: after[c])
    threshold = None
    chosen: tuple[str, str] | None = None
    for t in np.linspace(0.1, 0.9, 81):
        crossing = [c for c in rising if before[c] < t <= after[c]]
        treated = [c for c in crossing if not in_holdout(CAMPAIGN, c, 0.3)]
        held = [c for c in crossing if in_holdout(CAMPAIGN, c, 0.3)]
        if treated and held:
            threshold, chosen = float(t), (treated[0], held[0])
            break
    assert chosen is not None, "no threshold crossed by both a treated and a holdout customer"
    customer, holdout_customer = chosen
    assert threshold is not None
    TriggerRules(store.client, keys.outreach("rules")).set(
        TriggerRule(CAMPAIGN, threshold, 3600.0, webhook=True)
    )
    await asyncio.sleep(1.2)  # the worker re-reads its rules every second

    stream = keys.outreach("triggers")
    reply = await features.IngestEvents(
        features_pb2.IngestEventsRequest(
            events=[view("x-1", customer), view("x-2", holdout_customer)]
        ),
        timeout=5,
    )
    assert reply.accepted == 2
    elapsed = await _wait(lambda: store.client.xlen(stream) >= 1, 2.0)
    assert elapsed < 2.0
    await asyncio.sleep(0.3)
    entries = store.client.xrange(stream)
    assert len(entries) == 1
    fired = {k.decode(): v.decode() for k, v in entries[0][1].items()}
    assert fired["customer_id"] == customer and fired["campaign"] == CAMPAIGN
    assert float(fired["previous"]) < threshold <= float(fired["probability"])
    # both are enrolled; the holdout customer was not emitted
    members = store.client.hgetall(keys.experiment(CAMPAIGN, "members"))
    assert members[customer.encode()].startswith(b"treatment|")
    assert members[holdout_customer.encode()].startswith(b"holdout|")
    queued = store.client.hgetall(keys.outreach("delivery"))
    assert len(queued) == 1
    payload = json.loads(next(iter(queued.values())))["payload"]
    assert payload["kind"] == "trigger" and payload["customer_id"] == customer

    # the score falls back under the threshold and crosses again: cooling down, no trigger
    store.client.hset(keys.outreach("lastp"), customer, "0.0")
    await features.IngestEvents(features_pb2.IngestEventsRequest(events=[view("x-3", customer)]))
    await _wait(lambda: float(store.client.hget(keys.outreach("lastp"), customer)) > 0, 3.0)
    await asyncio.sleep(0.3)
    assert store.client.xlen(stream) == 1
    assert store.client.ttl(keys.outreach_cooldown(CAMPAIGN, customer)) > 3000

    # an order after enrolment counts for the campaign, with its value
    order = features_pb2.Event(
        event_id="x-order",
        customer_id=customer,
        occurred_at=_ts(time.time()),
        order=features_pb2.OrderEvent(
            order_id="ord-1",
            lines=[features_pb2.OrderLine(item_id="I0001", quantity=2, unit_price=10.0)],
        ),
    )
    await features.IngestEvents(features_pb2.IngestEventsRequest(events=[order]), timeout=5)
    orders = keys.experiment(CAMPAIGN, "orders")
    await _wait(lambda: store.client.hexists(orders, f"{customer}|ord-1"), 3.0)
    assert store.client.hget(orders, f"{customer}|ord-1").decode().endswith("|20.0")
    await channel.close()
    await server.stop(0)
    assert DeliveryQueue(store.client, keys).depth()[0] == 1


def test_an_idle_read_is_no_outage(
    settings: ServerSettings, caplog: pytest.LogCaptureFixture
) -> None:
    """The stream read blocks longer than the Redis socket timeout: an idle read returns
    nothing and logs nothing (a real outage must stand out in the log)."""
    store = RedisFeatureStore.from_settings(settings)
    assert settings.redis_timeout_ms < BLOCK_MS
    worker = TriggerWorker(store, cast(Any, None), 0.1, consumer="idle")
    assert worker.step() == 0  # the first read catches up on pending entries: none
    with caplog.at_level(logging.WARNING, logger="augur"):
        assert worker.step(block_ms=BLOCK_MS) == 0  # waits the whole block, no timeout
        stop = iter([False, True])
        worker.run(lambda: next(stop))
    assert not caplog.records
