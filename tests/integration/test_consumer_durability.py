"""Kill the consumer with SIGKILL mid-stream, repeatedly: every event counts exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import redis
from google.protobuf.timestamp_pb2 import Timestamp

from augur.features.v1 import features_pb2
from services.common.features.definitions import A_N_ORDERS
from services.common.features.store import RedisFeatureStore
from services.common.settings import ServerSettings
from services.features.consumer import GROUP
from services.features.ingest import Ingestor

pytestmark = pytest.mark.integration


def start_consumer(settings: ServerSettings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AUGUR_REDIS_URL": settings.redis_url,
        "AUGUR_REDIS_PREFIX": settings.redis_prefix,
        "AUGUR_CONSUMER_BATCH": "50",
        "AUGUR_CONSUMER_BLOCK_MS": "20",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "training.cli", "consume", "--shard", "0", "--metrics-port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_loses_nothing_and_counts_nothing_twice(
    settings: ServerSettings, redis_client: redis.Redis
) -> None:
    ingestor = Ingestor(redis_client, settings)
    customers = [f"k{i}" for i in range(40)]
    now = pd.Timestamp.now(tz="UTC").timestamp() - 3600
    total = 6000
    sent = 0
    consumer = start_consumer(settings)
    kills = 0
    try:
        while sent < total:
            batch = []
            for _ in range(100):
                ts = Timestamp()
                ts.FromNanoseconds(int((now + sent * 0.1) * 1e9))
                batch.append(
                    features_pb2.Event(
                        event_id=f"ev{sent}",
                        customer_id=customers[sent % len(customers)],
                        occurred_at=ts,
                        order=features_pb2.OrderEvent(
                            order_id=f"o{sent}",
                            lines=[
                                features_pb2.OrderLine(item_id="I1", quantity=1, unit_price=1.0)
                            ],
                        ),
                    )
                )
                sent += 1
            assert all(ingestor.ingest(batch).accepted)
            if sent % 1500 == 0:  # kill it while it is working, restart it
                time.sleep(0.05)
                consumer.send_signal(signal.SIGKILL)
                consumer.wait(10)
                kills += 1
                consumer = start_consumer(settings)
        # re-sending a batch after the kills must not count anything twice
        assert not any(ingestor.ingest(batch).accepted)
        store = RedisFeatureStore.from_settings(settings)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            counts = store.get_accumulators(customers)[:, A_N_ORDERS]
            if counts.sum() >= total:
                break
            time.sleep(0.2)
    finally:
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(10)
    assert kills == 4
    expected = np.full(len(customers), total / len(customers))
    np.testing.assert_array_equal(counts, expected)
    stream = store.keys.stream(0)
    pending = redis_client.xpending(stream, GROUP)["pending"]
    assert pending == 0
    assert consumer.returncode == 0  # SIGTERM is a clean stop
