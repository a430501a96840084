"""`make bench`: every scenario against a local stack of its own (``.bench/stack``).

Scenarios: the echo floor (every other figure reads as a ratio of it),
online feature reads (in-process and over gRPC), bulk materialisation, and
IngestEvents with the time until the ingested events show in the features,
the churn service (Score, reasons, ScoreBatch) and the same churn model behind
``mlflow models serve``, and the recommendation service on a 50,000-item
catalogue (with its training time against implicit's own fit).
Figures are printed and written to ``.bench/results.json``.
"""

from __future__ import annotations

import asyncio
import os
import platform
import random
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path

import grpc
import numpy as np
import pandas as pd

from augur.common.settings import ServerSettings, load_settings
from augur.common.v1 import common_pb2, common_pb2_grpc
from augur.devtools.bench.harness import Result, closed_loop, open_loop, print_table, write_results
from augur.devtools.runtime import LocalStack, StackState
from augur.features.store import RedisFeatureStore
from augur.features.v1 import features_pb2, features_pb2_grpc
from augur.training.data.loader import load_dataset
from augur.training.data.synthetic import SyntheticConfig, generate
from augur.training.offline.replay import dataset_after, dataset_events
from augur.training.offline.stream import compute_features

BENCH_CUSTOMERS = 10_000
RESULTS = Path(".bench/results.json")
BENCHMARKS = Path("BENCHMARKS.md")


def _bench_data(root: Path) -> Path:
    path = root / f"data-{BENCH_CUSTOMERS}"
    if not (path / "orders.csv").exists():
        print(f"generating the benchmark data set ({BENCH_CUSTOMERS:,} customers) in {path}")
        generate(path, SyntheticConfig(customers=BENCH_CUSTOMERS, items=2000, days=365, seed=101))
    return path


async def _grpc_scenarios(
    state: StackState, ids: list[str], duration: float, results: list[Result], wanted: set[str]
) -> None:
    port = state.port_of("features")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        echo = common_pb2_grpc.DiagnosticsServiceStub(channel)
        feats = features_pb2_grpc.FeatureServiceStub(channel)
        ping = common_pb2.EchoRequest(payload=b"x" * 64)
        for _ in range(200):
            await echo.Echo(ping, timeout=2)
        if "echo" in wanted:
            load = await open_loop(lambda: echo.Echo(ping, timeout=2), 1000, duration)
            results.append(load.result("echo (floor) @1000/s"))
        if "feature_read_grpc" in wanted:

            def get() -> Awaitable[object]:
                req = features_pb2.GetFeaturesRequest(customer_id=random.choice(ids))
                return feats.GetFeatures(req, timeout=2)

            load = await open_loop(get, 1000, duration)
            results.append(load.result("GetFeatures gRPC @1000/s"))


async def _ingest(
    state: StackState,
    events: list[features_pb2.Event],
    store: RedisFeatureStore,
    duration: float,
    results: list[Result],
    rate: float,
) -> None:
    """IngestEvents at ``rate`` batches of 100 per second, plus the update delay."""
    port = state.port_of("features")
    batch_size = 100
    run = uuid.uuid4().hex[:8]
    batches = []
    for start in range(0, len(events) - batch_size + 1, batch_size):
        chunk = []
        for e in events[start : start + batch_size]:
            copy = features_pb2.Event()
            copy.CopyFrom(e)
            copy.event_id = f"{run}:{e.event_id}"
            chunk.append(copy)
        batches.append(features_pb2.IngestEventsRequest(events=chunk))
    delays: list[float] = []
    delay_errors = 0
    pollers: list[asyncio.Task[None]] = []
    cursor = 0

    async def poll(customer: str, sent_at: float) -> None:
        nonlocal delay_errors
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            vector = store.get(customer)
            if vector is not None and vector.as_of >= sent_at:
                delays.append(time.time() - sent_at)
                return
            await asyncio.sleep(0.002)
        delay_errors += 1

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = features_pb2_grpc.FeatureServiceStub(channel)

        async def send() -> None:
            nonlocal cursor
            request = batches[cursor % len(batches)]
            cursor += 1
            sent_at = time.time()
            reply = await stub.IngestEvents(request, timeout=5)
            if cursor % 5 == 0 and reply.accepted:
                last = request.events[-1].customer_id
                pollers.append(asyncio.ensure_future(poll(last, sent_at)))

        load = await open_loop(send, rate, duration)
        if pollers:
            await asyncio.wait(pollers, timeout=10)
    results.append(
        load.result(
            f"IngestEvents batch={batch_size} @{rate * batch_size:.0f} ev/s",
            scale=batch_size,
            note="rate = events/s",
        )
    )
    results.append(
        Result.from_latencies(
            "ingest -> online feature update",
            delays,
            delay_errors,
            len(delays) / duration,
            note="from request send to the features holding the event; sampled",
        )
    )


def _bench_env(root: Path) -> None:
    """The benchmark runs its own stack: own state dir, key prefix, MLflow store, ports."""
    os.environ.update(
        {
            "AUGUR_STATE_DIR": str(root),
            "AUGUR_REDIS_PREFIX": "augur-bench",
            "AUGUR_MLFLOW_TRACKING_URI": "",  # the embedded store inside the bench state dir
            "AUGUR_GRPC_PORT": os.environ.get("AUGUR_BENCH_GRPC_PORT", "50151"),
            "AUGUR_METRICS_PORT": os.environ.get("AUGUR_BENCH_METRICS_PORT", "9190"),
            "AUGUR_LOG_LEVEL": "WARNING",
            # the gateway is measured, not throttled
            "AUGUR_GATEWAY_RATE_PER_SECOND": "1000000",
            "AUGUR_GATEWAY_BURST": "1000000",
            # two churn processes (SO_REUSEPORT): the gateway scenario needs both cores
            "AUGUR_CHURN_PROCESSES": os.environ.get("AUGUR_CHURN_PROCESSES", "2"),
        }
    )


ALL = (
    "echo",
    "feature_read_inprocess",
    "feature_read_grpc",
    "materialise",
    "ingest",
    "churn",
    "mlflow_serve",
    "recommend",
    "contact",
    "gateway",
    "rpcs",
    "feast",
    "training",
)


def run_bench(duration: float = 5.0, only: str | None = None) -> int:
    began = time.perf_counter()
    wanted = set(only.split(",")) if only else set(ALL)
    root = Path(".bench/stack").resolve()
    _bench_env(root)
    settings = load_settings(ServerSettings)
    data = _bench_data(root)
    if wanted & {"churn", "mlflow_serve", "gateway", "rpcs"}:
        from augur.training import registry
        from augur.training.churn.train import train_churn

        registry.configure(settings.mlflow_tracking_uri, root, "augur-churn")
        if registry.champion_version("augur-churn") is None:
            print("training the benchmark churn model (once; kept in .bench/stack)")
            train_churn(data, settings.mlflow_tracking_uri, root, progress=False)
    results: list[Result] = []
    if wanted & {"recommend", "gateway", "rpcs"}:  # the gateway composes all three services
        from augur.devtools.bench import recommend

        rec_data = recommend.bench_data(root)
        rec_ds = load_dataset(rec_data)
        os.environ["AUGUR_RECOMMEND_AS_OF"] = recommend.data_end(rec_ds)
        recommend.ensure_champion(rec_data, settings.mlflow_tracking_uri, root)
        if "recommend" in wanted:
            recommend.training(rec_ds, results)  # before the stack starts: nothing else running
    if wanted & {"contact", "gateway", "rpcs"}:
        from augur.devtools.bench import contact

        contact_data = contact.bench_data(root)
        contact_ds = load_dataset(contact_data)
        contact.ensure_champion(contact_data, settings.mlflow_tracking_uri, root)
    if "training" in wanted:  # before the stack starts: nothing else running
        from augur.devtools.bench.training_time import training

        training(data, root, BENCH_CUSTOMERS, results)
    stack = LocalStack.from_env()
    state = stack.running()
    started_here = state is None
    if started_here:
        if stack.up() != 0:
            return 1
        state = stack.running()
    assert state is not None
    store = RedisFeatureStore.from_settings(
        load_settings(ServerSettings, redis_url=state.redis_url, redis_prefix=state.redis_prefix)
    )
    try:
        ds = load_dataset(data)
        as_of = ds.orders["timestamp"].max()
        frame = compute_features(ds, as_of - pd.Timedelta(days=30))
        base_ids = list(frame.customer_ids)
        store.write(base_ids, frame.accumulators, frame.values, frame.as_of)
        print(
            f"{len(base_ids):,} customers with {frame.values.shape[1]} features each; "
            f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores"
        )
        if "feature_read_inprocess" in wanted:
            lat, rps = closed_loop(lambda: store.get(random.choice(base_ids)), 20_000)
            results.append(
                Result.from_latencies(
                    f"feature read in-process ({frame.values.shape[1]} features)",
                    lat,
                    0,
                    rps,
                    note="one GET, closed loop",
                )
            )
        asyncio.run(_grpc_scenarios(state, base_ids, duration, results, wanted))
        if "feast" in wanted:
            from augur.devtools.bench.feast_compare import versus_feast

            results.append(
                versus_feast(root.parent, state.redis_url, base_ids, frame.values, frame.as_of)
            )
        if "materialise" in wanted:
            copies = max(1, 100_000 // len(base_ids))
            ids = [f"{c}-m{k}" for k in range(copies) for c in base_ids]
            acc = np.tile(frame.accumulators, (copies, 1))
            values = np.tile(frame.values, (copies, 1))
            chunk_times = []
            started = time.perf_counter()
            for s in range(0, len(ids), 5000):
                t = time.perf_counter()
                store.write(ids[s : s + 5000], acc[s : s + 5000], values[s : s + 5000], frame.as_of)
                chunk_times.append(time.perf_counter() - t)
            rate = len(ids) / (time.perf_counter() - started)
            results.append(
                Result.from_latencies(
                    f"materialise {len(ids):,} customers",
                    chunk_times,
                    0,
                    rate,
                    note="rate = customers/s; latency per 5,000-customer pipeline",
                )
            )
        if "ingest" in wanted:
            recent = dataset_events(dataset_after(ds, frame.as_of))
            for rate in (50.0, 100.0):  # 5,000 and 10,000 events/s
                asyncio.run(_ingest(state, recent, store, duration, results, rate))
        if "churn" in wanted:
            from augur.devtools.bench import churn

            asyncio.run(churn.direct(state, base_ids, duration, results))
        if "mlflow_serve" in wanted:
            from augur.devtools.bench import churn

            churn.versus_mlflow_serve(state, store, base_ids, results)
        if "recommend" in wanted:
            asyncio.run(recommend.direct(state, rec_ds, store, duration, results, root))
        if "contact" in wanted:
            asyncio.run(contact.direct(state, contact_ds, store, duration, results))
        if "gateway" in wanted:
            from augur.devtools.bench import gateway

            asyncio.run(gateway.overhead(state, store, base_ids, duration, results))
        if "rpcs" in wanted:
            from augur.devtools.bench import contact
            from augur.devtools.bench.every_rpc import every_rpc
            from augur.training.retrain import score_all

            score_all(settings.mlflow_tracking_uri, root, store)  # ListAtRisk's snapshot
            items = rec_ds.items
            store.write_items(
                items["item_id"], items["category"], items["price"], items["in_stock"]
            )
            contact_customers, _ = contact.load_state(contact_ds, store)
            print("every RPC at a light rate, then at rising rates to p99 10 ms")
            asyncio.run(
                every_rpc(
                    state,
                    store,
                    base_ids,
                    pd.unique(rec_ds.orders["customer_id"]).tolist(),
                    items["item_id"].tolist(),
                    contact_customers,
                    duration,
                    results,
                )
            )
    finally:
        _cleanup(store)
        if started_here:
            stack.down(quiet=True)
    print_table(results)
    write_results(results, RESULTS)
    print(f"\nwritten to {RESULTS}")
    if wanted == set(ALL):  # BENCHMARKS.md holds the figures of a whole run only
        from augur.devtools.bench.report import update

        command = f"make bench (augur bench --duration {duration:g})"
        if update(BENCHMARKS, results, command, time.perf_counter() - began):
            print(f"figures written into {BENCHMARKS}")
    return 0


def _cleanup(store: RedisFeatureStore) -> None:
    """Remove every key of the benchmark prefix."""
    batch = []
    for key in store.client.scan_iter(match=f"{store.keys.prefix}:*", count=10_000):
        batch.append(key)
        if len(batch) >= 10_000:
            store.client.unlink(*batch)
            batch = []
    if batch:
        store.client.unlink(*batch)
