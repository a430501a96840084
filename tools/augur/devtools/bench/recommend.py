"""Recommendation scenarios of `make bench` on a 50,000-item catalogue: training time
against implicit's own fit of the same matrix, then Recommend (plain and with a session),
SimilarItems, AnticipateNext and BatchRecommend against the running service, and how soon a
purchase through IngestEvents reaches AnticipateNext (the live read)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from pathlib import Path

import grpc
import pandas as pd
from google.protobuf.timestamp_pb2 import Timestamp
from implicit.als import AlternatingLeastSquares

from augur.common.v1 import common_pb2, common_pb2_grpc
from augur.devtools.bench.harness import Result, open_loop
from augur.devtools.runtime import StackState
from augur.features.store import RedisFeatureStore
from augur.features.v1 import features_pb2, features_pb2_grpc
from augur.recommend.v1 import recommend_pb2 as R
from augur.recommend.v1 import recommend_pb2_grpc
from augur.training.data.loader import Dataset
from augur.training.data.synthetic import SyntheticConfig, generate
from augur.training.recommend.train import RecommendConfig, fit

ITEMS = 50_000
CUSTOMERS = 20_000
RATE = 500
LIVE_SAMPLES = 200


def bench_data(root: Path) -> Path:
    path = root / f"data-recommend-{ITEMS}"
    if not (path / "orders.csv").exists():
        print(f"generating the recommendation benchmark data ({ITEMS:,} items) in {path}")
        generate(path, SyntheticConfig(customers=CUSTOMERS, items=ITEMS, days=365, seed=202))
    return path


def data_end(ds: Dataset) -> str:
    return str(ds.orders["timestamp"].max().isoformat())


def ensure_champion(data: Path, tracking_uri: str, root: Path) -> None:
    from augur.training import registry
    from augur.training.recommend.pipeline import train_recommend

    registry.configure(tracking_uri, root, "augur-recommend")
    if registry.champion_version("augur-recommend") is None:
        print("training the benchmark recommender (once; kept in .bench/stack)")
        train_recommend(data, tracking_uri, root, progress=False)


def training(ds: Dataset, results: list[Result]) -> None:
    """Augur's fit against implicit's own fit of the same weighted matrix and settings."""
    cfg = RecommendConfig()
    end = ds.orders["timestamp"].max().timestamp()
    started = time.perf_counter()
    fitted = fit(ds, end, cfg)
    whole = time.perf_counter() - started
    started = time.perf_counter()
    plain = AlternatingLeastSquares(
        factors=cfg.factors,
        iterations=cfg.iterations,
        regularization=cfg.regularization,
        random_state=cfg.seed,
    )
    plain.fit(fitted.weighted, show_progress=False)
    alone = time.perf_counter() - started
    shape = f"{len(fitted.matrix_users):,} x {len(fitted.items):,}, nnz {fitted.weighted.nnz:,}"
    for name, seconds, note in (
        ("implicit ALS fit alone (its defaults)", alone, shape),
        (
            "Augur ALS step (same matrix, BLAS 1 thread)",
            fitted.fit_seconds,
            f"{fitted.fit_seconds / alone:.2f}x implicit",
        ),
        (
            "Augur whole fit (matrix, BM25, ALS, repeat, co-purchase, neighbours)",
            whole,
            f"{whole / alone:.2f}x implicit",
        ),
    ):
        results.append(
            Result.from_latencies(name, [seconds], 0, 0.0, note=f"latency = seconds x 1000; {note}")
        )


async def direct(
    state: StackState,
    ds: Dataset,
    store: RedisFeatureStore,
    duration: float,
    results: list[Result],
    root: Path,
) -> None:
    items = ds.items
    store.write_items(items["item_id"], items["category"], items["price"], items["in_stock"])
    buyers = pd.unique(ds.orders["customer_id"]).tolist()
    popular = ds.orders["item_id"].value_counts().index[:5000].tolist()
    catalogue = items["item_id"].tolist()
    port = state.port_of("recommend")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        echo = common_pb2_grpc.DiagnosticsServiceStub(channel)
        stub = recommend_pb2_grpc.RecommendServiceStub(channel)
        ping = common_pb2.EchoRequest(payload=b"x" * 64)
        for _ in range(300):
            await stub.Recommend(R.RecommendRequest(customer_id=random.choice(buyers), n=10))
        scenarios = {
            f"recommend echo (floor) @{RATE}/s": lambda: echo.Echo(ping, timeout=2),
            f"Recommend n=10 @{RATE}/s": lambda: stub.Recommend(
                R.RecommendRequest(customer_id=random.choice(buyers), n=10), timeout=2
            ),
            f"Recommend n=10 + 3 session items @{RATE}/s": lambda: stub.Recommend(
                R.RecommendRequest(
                    customer_id=random.choice(buyers),
                    n=10,
                    context_item_ids=random.sample(popular, 3),
                ),
                timeout=2,
            ),
            f"SimilarItems n=10 @{RATE}/s": lambda: stub.SimilarItems(
                R.SimilarItemsRequest(item_id=random.choice(catalogue), n=10), timeout=2
            ),
            f"AnticipateNext 30 days @{RATE}/s": lambda: stub.AnticipateNext(
                R.AnticipateNextRequest(customer_id=random.choice(buyers), horizon_days=30),
                timeout=2,
            ),
        }
        for name, call in scenarios.items():
            load = await open_loop(call, RATE, duration)
            results.append(load.result(name, note=f"{len(catalogue):,}-item catalogue"))
        latencies, count = [], 0
        for _ in range(2):
            batch = random.sample(buyers, min(10_000, len(buyers)))
            started = time.perf_counter()
            async for chunk in stub.BatchRecommend(
                R.BatchRecommendRequest(customer_ids=batch, n=10), timeout=120
            ):
                count += len(chunk.items)
            latencies.append(time.perf_counter() - started)
        results.append(
            Result.from_latencies(
                "BatchRecommend 10,000 customers, n=10",
                latencies,
                0,
                count / sum(latencies),
                note="rate = customers/s; latency per call",
            )
        )
        await live_purchase(state, stub, buyers, data_end(ds), results)
    results.append(footprint(state, root))


def footprint(state: StackState, root: Path) -> Result:
    """The recommendation service's resident memory after the scenarios and the size of the
    model artefact it serves (the champion's recommend.npz)."""
    from augur.devtools.bench.soak import rss_mib
    from augur.recommend.model import FILE
    from augur.training import registry

    pid = next(p.pid for p in state.processes if p.name == "recommend")
    found = registry.champion_artefact("recommend", root)
    size = (found[1] / FILE).stat().st_size / 1e6 if found else float("nan")
    return Result.from_latencies(
        "recommend service memory and artefact",
        [0.0],
        0,
        0.0,
        note=f"service RSS {rss_mib(pid):,.0f} MiB after the scenarios; {FILE} {size:,.1f} MB",
    )


async def live_purchase(
    state: StackState,
    stub: recommend_pb2_grpc.RecommendServiceStub,
    buyers: list[str],
    as_of: str,
    results: list[Result],
) -> None:
    """One at a time: a customer's most due item is bought through IngestEvents (at the
    service's pinned time), then AnticipateNext is asked until the item's clock has restarted
    (its last purchase is the new order's day, or it is no longer due)."""
    run = uuid.uuid4().hex[:8]
    delays: list[float] = []
    misses = 0
    at = Timestamp()
    at.FromDatetime(pd.Timestamp(as_of).to_pydatetime())
    async with grpc.aio.insecure_channel(f"127.0.0.1:{state.port_of('features')}") as channel:
        ingest = features_pb2_grpc.FeatureServiceStub(channel)
        for k, customer in enumerate(random.sample(buyers, min(LIVE_SAMPLES, len(buyers)))):
            ask = R.AnticipateNextRequest(customer_id=customer, horizon_days=30, n=100)
            try:
                before = await stub.AnticipateNext(ask, timeout=2)
            except grpc.aio.AioRpcError:
                continue  # no history in the model
            day = at.seconds // 86400
            fresh = [i for i in before.items if i.last_purchased_at.seconds // 86400 < day]
            if not fresh:
                continue
            item = max(fresh, key=lambda i: i.probability).item_id
            event = features_pb2.Event(
                event_id=f"live-{run}-{k}",
                customer_id=customer,
                occurred_at=at,
                order=features_pb2.OrderEvent(
                    order_id=f"live-{run}-{k}",
                    lines=[features_pb2.OrderLine(item_id=item, quantity=1, unit_price=1.0)],
                ),
            )
            sent = time.perf_counter()
            await ingest.IngestEvents(features_pb2.IngestEventsRequest(events=[event]), timeout=5)
            while time.perf_counter() - sent < 5:
                after = {i.item_id: i for i in (await stub.AnticipateNext(ask, timeout=2)).items}
                if item not in after or after[item].last_purchased_at.seconds // 86400 == day:
                    delays.append(time.perf_counter() - sent)
                    break
                await asyncio.sleep(0.005)
            else:
                misses += 1
    results.append(
        Result.from_latencies(
            "purchase -> AnticipateNext (IngestEvents to the changed answer)",
            delays,
            misses,
            0.0,
            note=f"{len(delays)} purchases, one at a time; misses = not seen within 5 s",
        )
    )
