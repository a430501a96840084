"""`make demo`: the foundation's main job on embedded defaults, end to end.

Generates a seeded synthetic shop whose history ends today, validates it,
computes every customer's features as of two weeks ago and materialises
them into Redis, then replays the last two weeks as live events through
``IngestEvents`` over gRPC; the consumer folds them in, and the demo shows
customers' features moving and checks that the online values equal a batch
recomputation at the same instant.
"""

from __future__ import annotations

import asyncio
import time

import grpc
import numpy as np
import pandas as pd

from augur.features.v1 import features_pb2, features_pb2_grpc
from services.common.features.store import RedisFeatureStore
from services.common.settings import ServerSettings, load_settings
from services.runtime import LocalStack, StackState
from training.bench.run import _after
from training.data.loader import load_dataset
from training.data.synthetic import SyntheticConfig, generate
from training.features.batch import (
    canonical_events,
    compute_features,
    customer_features_as_of,
    materialise,
)
from training.features.replay import dataset_events

SHOWN = (
    "orders_total",
    "days_since_last_order",
    "orders_hl30",
    "browsing_trend",
    "unanswered_contacts_hl30",
    "response_rate_email",
)


def _step(text: str) -> None:
    print(f"\n== {text}")


async def _replay(state: StackState, events: list[features_pb2.Event]) -> tuple[float, float]:
    """Send events in batches of 500; returns (seconds to ingest, seconds until applied)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{state.port_of('features')}") as channel:
        stub = features_pb2_grpc.FeatureServiceStub(channel)
        started = time.perf_counter()
        for s in range(0, len(events), 500):
            await stub.IngestEvents(
                features_pb2.IngestEventsRequest(events=events[s : s + 500]), timeout=10
            )
        ingested = time.perf_counter() - started
        while True:
            status = await stub.GetIngestionStatus(
                features_pb2.GetIngestionStatusRequest(), timeout=5
            )
            if all(s.lag == 0 and s.pending == 0 for s in status.shards):
                break
            await asyncio.sleep(0.05)
        return ingested, time.perf_counter() - started


async def _features(state: StackState, customer: str) -> dict[str, float]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{state.port_of('features')}") as channel:
        stub = features_pb2_grpc.FeatureServiceStub(channel)
        reply = await stub.GetFeatures(
            features_pb2.GetFeaturesRequest(customer_id=customer), timeout=5
        )
        return dict(zip(reply.names, reply.values, strict=True))


def run_demo(customers: int = 2000) -> int:
    stack = LocalStack.from_env()
    started_here = stack.running() is None
    _step("local stack")
    if stack.up() != 0:
        return 1
    state = stack.running()
    assert state is not None
    try:
        return _run(state, customers)
    finally:
        if started_here:
            stack.down(quiet=True)
            print("\nstack stopped (use `make up` to keep one running)")


def _run(state: StackState, customers: int) -> int:
    settings = load_settings(
        ServerSettings, redis_url=state.redis_url, redis_prefix=state.redis_prefix
    )
    root = settings.state_dir.resolve() / "demo" / "data"
    today = pd.Timestamp.now(tz="UTC").normalize()
    cfg = SyntheticConfig(
        customers=customers, days=365, start=(today - pd.Timedelta(days=365)).strftime("%Y-%m-%d")
    )
    _step(f"synthetic shop: {customers:,} customers over the last year (seed {cfg.seed})")
    t = time.perf_counter()
    summary = generate(root, cfg)
    print(
        f"wrote {root} in {time.perf_counter() - t:.1f} s: "
        + ", ".join(f"{k} {v:,}" for k, v in summary.rows.items())
    )
    _step("validate against the data contract")
    ds = load_dataset(root)
    for name in ("orders", "interactions", "contacts", "customers", "items"):
        print(f"  {name:13s} {len(ds.table(name)):>9,} rows  ok")
    cutoff = today - pd.Timedelta(days=14)
    _step(f"features as of {cutoff.date()} (two weeks ago), materialised into Redis")
    store = RedisFeatureStore.from_settings(settings)
    store.write_items(
        ds.items["item_id"], ds.items["category"], ds.items["price"], ds.items["in_stock"]
    )
    t = time.perf_counter()
    frame = compute_features(ds, cutoff)
    computed = time.perf_counter() - t
    rows, seconds = materialise(frame, store)
    print(
        f"  {rows:,} customers x {frame.values.shape[1]} features: computed in {computed:.2f} s,"
        f" written in {seconds:.2f} s ({rows / seconds:,.0f} customers/s)"
    )
    truth = pd.read_csv(root / "truth" / "customers.csv", parse_dates=["disengage_at"])
    leaving = truth[
        (truth["disengage_at"] > cutoff - pd.Timedelta(days=21)) & (truth["disengage_at"] <= cutoff)
    ]["customer_id"]
    loyal = frame.to_frame().sort_values("orders_hl30", ascending=False).index
    shown = [c for c in [loyal[0], *leaving[:1]] if c in set(frame.customer_ids)]
    before = {c: asyncio.run(_features(state, c)) for c in shown}
    live = dataset_events(_after(ds, frame.as_of))
    _step(f"replay the last two weeks live: {len(live):,} events through IngestEvents (gRPC)")
    ingested, applied = asyncio.run(_replay(state, live))
    print(
        f"  acknowledged in {ingested:.2f} s ({len(live) / ingested:,.0f} events/s); "
        f"all folded into the online features after {applied:.2f} s"
    )
    for customer in shown:
        after = asyncio.run(_features(state, customer))
        kind = "planted leaver (disengaging)" if customer in set(leaving) else "most active"
        print(f"\n  customer {customer} — {kind}")
        print(f"  {'feature':28s} {'2 weeks ago':>12s} {'now':>12s}")
        for name in SHOWN:
            print(f"  {name:28s} {before[customer][name]:12.2f} {after[name]:12.2f}")
    _step("online features equal a batch recomputation at the same instant")
    sample = list(frame.customer_ids[:: max(1, len(frame.customer_ids) // 50)])
    events, ids = canonical_events(ds)
    worst = 0.0
    for customer in sample:
        online = store.get(customer)
        assert online is not None
        batch = customer_features_as_of(events, ids, customer, online.as_of)
        ok = np.isfinite(batch)
        diff = np.abs(online.values[ok] - batch[ok]) / np.maximum(np.abs(batch[ok]), 1e-6)
        worst = max(worst, float(diff.max(initial=0.0)))
    verdict = "equal" if worst < 1e-4 else "DIFFERENT"
    print(f"  {len(sample)} customers checked: {verdict} (largest relative difference {worst:.1e})")
    _step("next")
    print(
        "  churn, recommendation and contact models are not trained yet: their services are "
        "not started."
    )
    return 0 if worst < 1e-4 else 1
