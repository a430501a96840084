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
import os
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd

from augur.common.settings import ServerSettings, load_settings
from augur.contact.state import ContactState
from augur.devtools.demo_gateway import show_gateway
from augur.devtools.demo_outreach import show_outreach
from augur.devtools.runtime import LocalStack, StackState
from augur.features.store import RedisFeatureStore
from augur.features.v1 import features_pb2, features_pb2_grpc
from augur.training.churn.report import print_churn_report
from augur.training.churn.train import train_churn
from augur.training.contact.materialise import load_activity
from augur.training.contact.pipeline import train_contact
from augur.training.contact.report import print_contact_report
from augur.training.data.loader import Dataset, load_dataset
from augur.training.data.synthetic import SyntheticConfig, generate
from augur.training.offline.batch import (
    canonical_events,
    customer_features_as_of,
    materialise,
)
from augur.training.offline.replay import dataset_after, dataset_events
from augur.training.offline.stream import compute_features
from augur.training.recommend.pipeline import train_recommend
from augur.training.recommend.report import print_recommend_report

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


def _demo_env() -> None:
    """The demo runs in a namespace of its own: state dir, key prefix, MLflow store, ports."""
    os.environ.update(
        {
            "AUGUR_STATE_DIR": str(Path(".augur/demo").resolve()),
            "AUGUR_REDIS_PREFIX": "augur-demo",
            "AUGUR_MLFLOW_TRACKING_URI": "",
            "AUGUR_GRPC_PORT": os.environ.get("AUGUR_DEMO_GRPC_PORT", "50071"),
            "AUGUR_METRICS_PORT": os.environ.get("AUGUR_DEMO_METRICS_PORT", "9170"),
        }
    )


def _clear(store: RedisFeatureStore) -> int:
    """Forget the previous demo run's keys (only the demo's own prefix)."""
    keys = list(store.client.scan_iter(match=f"{store.keys.prefix}:*", count=10_000))
    for start in range(0, len(keys), 10_000):
        store.client.unlink(*keys[start : start + 10_000])
    return len(keys)


def run_demo(customers: int = 2000) -> int:
    _demo_env()
    settings = load_settings(ServerSettings)
    root = settings.state_dir.resolve() / "data"
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
    _step("train the churn model (MLflow run, registry, quality gate)")
    print_churn_report(
        train_churn(root, settings.mlflow_tracking_uri, settings.state_dir, progress=False)
    )
    _step("train the recommender (repeat + explore, MLflow run, registry, quality gate)")
    print_recommend_report(
        train_recommend(root, settings.mlflow_tracking_uri, settings.state_dir, progress=False)
    )
    _step("train the response model for next-best-contact (channel x local hour, MLflow, gate)")
    print_contact_report(
        train_contact(root, settings.mlflow_tracking_uri, settings.state_dir, progress=False)
    )
    stack = LocalStack.from_env()
    started_here = stack.running() is None
    _step("local stack")
    if started_here:
        cleared = _clear(RedisFeatureStore.from_settings(settings))
        if cleared:
            print(
                f"(cleared {cleared:,} keys of the previous demo run under "
                f"'{settings.redis_prefix}:')"
            )
    if stack.up() != 0:
        return 1
    state = stack.running()
    assert state is not None
    try:
        return _run(state, root, ds, today)
    finally:
        if started_here:
            stack.down(quiet=True)
            print("\ndemo stack stopped; its data, logs and MLflow store stay in .augur/demo")


def _run(state: StackState, root: Path, ds: Dataset, today: pd.Timestamp) -> int:
    settings = load_settings(
        ServerSettings, redis_url=state.redis_url, redis_prefix=state.redis_prefix
    )
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
    active = load_activity(root, ds, ContactState(store), frame.as_of)  # later ones: live
    print(f"  activity profiles (local hour of the week) of {active:,} customers")
    loyal = frame.to_frame().sort_values("orders_hl30", ascending=False).index[0]
    before = asyncio.run(_features(state, loyal))
    live = dataset_events(dataset_after(ds, frame.as_of))
    # the shop's last day runs to midnight: what lies after this moment has not happened yet
    now = time.time()
    later = sum(e.occurred_at.ToSeconds() > now for e in live)
    live = [e for e in live if e.occurred_at.ToSeconds() <= now]
    _step(f"replay the last two weeks live: {len(live):,} events through IngestEvents (gRPC)")
    if later:
        print(f"  ({later:,} events of the shop's last day lie after this moment: not sent)")
    ingested, applied = asyncio.run(_replay(state, live))
    print(
        f"  acknowledged in {ingested:.2f} s ({len(live) / ingested:,.0f} events/s); "
        f"all folded into the online features after {applied:.2f} s"
    )
    after = asyncio.run(_features(state, loyal))
    print(f"\n  customer {loyal} (the most active one)")
    print(f"  {'feature':28s} {'2 weeks ago':>12s} {'now':>12s}")
    for name in SHOWN:
        print(f"  {name:28s} {before[name]:12.2f} {after[name]:12.2f}")
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
    at_risk: list[str] = []
    running = {p.name for p in state.processes}
    if "churn" in running:
        at_risk = _churn(state, settings)
    if "recommend" in running:
        _recommend(state, str(loyal))
    if "contact" in running and at_risk:
        _contact(state, settings, ds, at_risk)
    if "gateway" in running and at_risk:
        _step("through the gateway: one API key, composition, REST/JSON, scopes")
        show_gateway(state, settings, at_risk)
        _step("retention outreach: plan -> webhook delivery -> outcomes -> uplift report")
        show_outreach(state, settings, settings.state_dir / "outreach")
    return 0 if worst < 1e-4 else 1


def _contact(
    state: StackState, settings: ServerSettings, ds: Dataset, customers: list[str]
) -> None:
    """Retention outreach for the customers most at risk: whether, on which channel and
    when, under consent, quiet hours, caps and a holdout; then book the first contact."""
    from augur.common.v1 import common_pb2
    from augur.contact.v1 import contact_pb2 as C
    from augur.contact.v1 import contact_pb2_grpc
    from augur.training.contact.materialise import load_contact_state

    _step("next-best-contact for the customers most at risk (augur.contact.v1, retention)")
    loaded = load_contact_state(ds, ContactState(RedisFeatureStore.from_settings(settings)))
    print(f"  consent, time zone and engagement profile of {loaded:,} customers loaded")
    channel_name = {1: "email", 2: "sms", 3: "push", 4: "phone"}
    with grpc.insecure_channel(f"127.0.0.1:{state.port_of('contact')}") as channel:
        stub = contact_pb2_grpc.ContactServiceStub(channel)
        booked = False
        for customer in customers:
            r = stub.NextBestContact(
                C.NextBestContactRequest(
                    customer_id=customer,
                    purpose=common_pb2.PURPOSE_RETENTION,
                    experiment="demo-retention",
                    alternatives=2,
                ),
                timeout=5,
            )
            arm = C.Arm.Name(r.arm).removeprefix("ARM_").lower()
            if not r.contact:
                reason = C.SuppressionReason.Name(r.reason).removeprefix("SUPPRESSION_REASON_")
                print(f"\n  {customer} ({arm}): no contact, {reason}: {r.reason_text}")
                continue
            print(f"\n  {customer} ({arm}, {r.timezone}): {r.reason_text} [{_timed(r)}]")
            for o in r.alternatives:
                print(
                    f"     or {channel_name[o.channel]} at {o.send_at_local} "
                    f"({o.expected_response:.1%})"
                )
            if not booked:
                rec = stub.RecordContact(
                    C.RecordContactRequest(
                        contact_id=f"demo-{customer}",
                        customer_id=customer,
                        channel=r.best.channel,
                        purpose=common_pb2.PURPOSE_RETENTION,
                        send_at=r.best.send_at,
                        experiment="demo-retention",
                    ),
                    timeout=5,
                )
                again = stub.NextBestContact(
                    C.NextBestContactRequest(
                        customer_id=customer, purpose=common_pb2.PURPOSE_RETENTION
                    ),
                    timeout=5,
                )
                print(
                    f"     booked (reserved={rec.reserved}); asked again right after: "
                    f"{again.reason_text if not again.contact else 'still allowed'}"
                )
                booked = True
        # a customer with orders but too few contacts for the model: their activity times it
        contacts = ds.contacts["customer_id"].value_counts()
        orders = ds.orders.drop_duplicates("order_id")["customer_id"].value_counts()
        thin = [c for c in orders.index if contacts.get(c, 0) < 5]
        for customer in thin[:50]:
            r = stub.NextBestContact(C.NextBestContactRequest(customer_id=customer), timeout=5)
            if r.contact:
                print(
                    f"\n  {customer} ({contacts.get(customer, 0)} past contacts, "
                    f"{orders[customer]} orders): {r.reason_text} [{_timed(r)}]"
                )
                break


def _timed(r: Any) -> str:
    """Which source timed a NextBestContact answer, in words."""
    from augur.contact.v1 import contact_pb2 as C

    name = C.TimingSource.Name(r.timing_source).removeprefix("TIMING_SOURCE_")
    return "timed by the " + name.lower().replace("_", " ")


def _recommend(state: StackState, customer: str) -> None:
    """What the most active customer is due to buy, with and without a cart, over gRPC."""
    from augur.recommend.v1 import recommend_pb2 as R
    from augur.recommend.v1 import recommend_pb2_grpc

    _step(f"recommendations for {customer} over gRPC (augur.recommend.v1)")
    with grpc.insecure_channel(f"127.0.0.1:{state.port_of('recommend')}") as channel:
        stub = recommend_pb2_grpc.RecommendServiceStub(channel)
        plain = stub.Recommend(R.RecommendRequest(customer_id=customer, n=6), timeout=5)
        for item in plain.items:
            source = R.Source.Name(item.source).removeprefix("SOURCE_").lower()
            print(f"  {item.item_id} ({item.category}, {source}): {item.reason}")
        cart = [i.item_id for i in plain.items if i.source != R.SOURCE_REPEAT][:1]
        if cart:
            folded = stub.Recommend(
                R.RecommendRequest(customer_id=customer, n=4, context_item_ids=cart), timeout=5
            )
            print(f"\n  with {cart[0]} in the cart:")
            for item in folded.items:
                print(f"  {item.item_id}: {item.reason}")
        due = stub.AnticipateNext(
            R.AnticipateNextRequest(customer_id=customer, horizon_days=14, n=5), timeout=5
        )
        print("\n  expected in the next 14 days (anticipatory list):")
        for d in due.items:
            when = pd.Timestamp(d.expected_at.seconds, unit="s", tz="UTC").date()
            print(f"  {d.item_id}: around {when}, probability {d.probability:.0%}; {d.reason}")


def _churn(state: StackState, settings: ServerSettings) -> list[str]:
    """Score everyone, then read the at-risk list and explain the top customers over gRPC."""
    from augur.churn.v1 import churn_pb2, churn_pb2_grpc
    from augur.training import registry
    from augur.training.retrain import score_all

    _step("at-risk list: batch-score every customer (augur score --all), read it over gRPC")
    store = RedisFeatureStore.from_settings(settings)
    scored = score_all(state.mlflow_tracking_uri, settings.state_dir, store)
    assert scored is not None, "the demo trained a churn champion first"
    _, version, (_, count) = scored
    name = registry.model_name("churn")
    with grpc.insecure_channel(f"127.0.0.1:{state.port_of('churn')}") as channel:
        stub = churn_pb2_grpc.ChurnServiceStub(channel)
        page = stub.ListAtRisk(
            churn_pb2.ListAtRiskRequest(min_probability=0.5, page_size=5), timeout=5
        )
        print(
            f"  {count:,} customers scored with {name} v{version}; {page.total:,} at >= 50 % "
            "risk; the five with most value at risk:"
        )
        for c in page.customers:
            score = stub.Score(
                churn_pb2.ScoreRequest(customer_id=c.customer_id, include_reasons=True), timeout=5
            )
            band = churn_pb2.RiskBand.Name(score.risk_band).removeprefix("RISK_BAND_")
            print(
                f"\n  #{c.rank} {c.customer_id}: churn {score.probability:.1%} ({band}), "
                f"value at risk {score.value_at_risk:,.0f} of {score.expected_value:,.0f}"
            )
            for r in score.reasons:
                sign = "+" if r.direction == churn_pb2.DIRECTION_INCREASES_RISK else "-"
                print(f"     {sign} {r.text}")
        return [c.customer_id for c in page.customers]
