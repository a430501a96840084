"""The outreach part of `make demo`: plan a retention campaign through the gateway, deliver
it to a signed webhook, let (simulated) customers answer and re-purchase, report uplift."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import numpy as np
from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp

from augur.cli.outreach import print_plan, write_schedule
from augur.common.settings import ServerSettings
from augur.common.v1 import common_pb2
from augur.contact.state import ContactState
from augur.contact.v1 import contact_pb2, contact_pb2_grpc
from augur.devtools.runtime import StackState
from augur.features.store import RedisFeatureStore
from augur.features.v1 import features_pb2, features_pb2_grpc
from augur.gateway.keys import KeyStore
from augur.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from augur.outreach.delivery import Deliverer, DeliveryQueue, verify
from augur.outreach.main import delivery_outcomes
from augur.outreach.report import campaign_report, write_report

SECRET = "demo-webhook-secret"
# what the simulated customers do (stated in the output: these are not model outputs)
REPURCHASE = {"treatment": 0.30, "holdout": 0.18}
OPEN_RATE = 0.4


def _ts(seconds: float) -> Timestamp:
    out = Timestamp()
    out.FromNanoseconds(int(seconds * 1e9))
    return out


async def _deliver(store: RedisFeatureStore) -> tuple[int, int, int]:
    """A provider's webhook on loopback (checks the signature, keeps idempotency keys) and
    a deliverer sending every queued contact to it; (received, bad signatures, delivered)."""
    seen: dict[str, int] = {}
    bad = 0

    async def hook(request: web.Request) -> web.Response:
        nonlocal bad
        body = await request.read()
        if not verify(
            SECRET, request.headers["X-Augur-Timestamp"], body, request.headers["X-Augur-Signature"]
        ):
            bad += 1
            return web.Response(status=401)
        key = request.headers["Idempotency-Key"]
        seen[key] = seen.get(key, 0) + 1
        return web.json_response({"accepted": key})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    queue = DeliveryQueue(store.client, store.keys)
    queue.release_all(time.time())
    deliverer = Deliverer(
        queue,
        f"http://127.0.0.1:{port}/hook",
        SECRET,
        on_result=delivery_outcomes(ContactState(store)),
    )
    delivered = 0
    async with aiohttp.ClientSession() as session:
        while queue.depth()[:2] != (0, 0):
            delivered += await deliverer.run_once(session)
    await runner.cleanup()
    return len(seen), bad, delivered


def show_outreach(state: StackState, settings: ServerSettings, out: Path) -> None:
    store = RedisFeatureStore.from_settings(settings)
    gateway = next(p for p in state.processes if p.name == "gateway")
    _, token = KeyStore(store).create("demo-retention", ["gateway", "contact", "features"])
    key = (("x-api-key", token),)
    campaign = f"winback-{time.strftime('%Y%m%d')}-{uuid.uuid4().hex[:4]}"
    request = gateway_pb2.PlanOutreachRequest(
        campaign=campaign,
        min_probability=0.3,
        holdout_share=0.2,
        max_contacts=300,
        items_per_contact=3,
        window_days=2,
        deliver=True,
    )
    for channel, cost in ((1, 0.02), (2, 0.08), (3, 0.01), (4, 2.5)):
        request.channel_costs.add(channel=channel, cost=cost)  # type: ignore[arg-type]
    time.sleep(1.2)  # a new key reaches the gateway within a second
    with grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        print(
            f"  campaign {campaign}: churn p >= 0.3, 20 % holdout, at most 300 contacts "
            "(cost per contact: email 0.02, sms 0.08, push 0.01, phone 2.50), 3 items each"
        )
        dry = gateway_pb2.PlanOutreachRequest()
        dry.CopyFrom(request)
        dry.dry_run = True
        preview = stub.PlanOutreach(dry, metadata=key, timeout=120)
        print(
            f"  dry run: {preview.treatment} treated, {preview.holdout} holdout, nothing reserved"
        )
        started = time.perf_counter()
        plan = stub.PlanOutreach(request, metadata=key, timeout=300)
        took = time.perf_counter() - started
        print(f"  PlanOutreach through the gateway in {took:.1f} s:")
        print_plan(plan, False)
        again = stub.PlanOutreach(request, metadata=key, timeout=60)
        print(f"  the same request again: replayed={again.replayed}, nothing new reserved")
    csv_path, jsonl_path = write_schedule(plan, campaign, out)
    print(f"  schedule: {csv_path} and {jsonl_path}")
    first = next((c for c in plan.contacts if c.contact_id), None)
    if first is not None:
        print(
            f"  e.g. {first.customer_id}: "
            f"{common_pb2.Channel.Name(first.option.channel).removeprefix('CHANNEL_').lower()} at "
            f"{first.option.send_at_local}; reasons: {'; '.join(r.text for r in first.reasons)}; "
            f"items {[i.item_id for i in first.items]}"
        )
    received, bad, delivered = asyncio.run(_deliver(store))
    print(
        f"  delivery (sent now instead of at each send time, for the demo): {delivered} signed "
        f"POSTs, {received} contacts received by the webhook, {bad} bad signatures; results "
        "recorded as DELIVERED outcomes"
    )
    _simulate(store, plan, key, gateway.port)
    report = campaign_report(store.client, store.keys, campaign, window_days=30)
    json_path, png = write_report(report, out)
    print("  report (30-day window):")
    for g in report["groups"]:
        t, h = g["treated"], g["holdout"]
        print(
            f"    {g['group']:16s} treated {t['retained']:>3d}/{t['customers']:<4d} "
            f"holdout {h['retained']:>3d}/{h['customers']:<4d} uplift {g['absolute_uplift']:+.1%} "
            f"({g['ci_low']:+.1%} .. {g['ci_high']:+.1%})"
            + ("" if g["conclusive"] else "  too few for a conclusion")
        )
    cpr = report["groups"][0]["cost_per_retained_customer"]
    if cpr is not None:
        print(f"    cost per retained customer {cpr:.2f}")
    for note in report["notes"]:
        print(f"    note: {note}")
    print(f"  report: {json_path} and {png}")


def _simulate(
    store: RedisFeatureStore, plan: gateway_pb2.PlanOutreachResponse, key: Any, port: int
) -> None:
    """Simulated customers: some open the message (RecordOutcome through the gateway), and
    some order again (IngestEvents through the gateway), at the planted rates."""
    rng = np.random.default_rng(17)
    now = time.time()
    opened = orders = 0
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        contact = contact_pb2_grpc.ContactServiceStub(channel)
        events = []
        for c in plan.contacts:
            arm = "treatment" if c.arm == contact_pb2.ARM_TREATMENT else "holdout"
            if c.contact_id and rng.random() < OPEN_RATE:
                contact.RecordOutcome(
                    contact_pb2.RecordOutcomeRequest(
                        contact_id=c.contact_id, outcome=common_pb2.OUTCOME_TYPE_OPENED
                    ),
                    metadata=key,
                    timeout=5,
                )
                opened += 1
            if rng.random() < REPURCHASE[arm]:
                events.append(
                    features_pb2.Event(
                        event_id=f"demo-reorder-{c.campaign}-{c.customer_id}",
                        customer_id=c.customer_id,
                        occurred_at=_ts(now),
                        order=features_pb2.OrderEvent(
                            order_id=f"demo-{c.campaign}-{c.customer_id}",
                            lines=[
                                features_pb2.OrderLine(
                                    item_id=(c.items[0].item_id if c.items else "I00001"),
                                    quantity=1,
                                    unit_price=float(rng.gamma(4.0, 12.0)),
                                )
                            ],
                        ),
                    )
                )
        if events:
            features_pb2_grpc.FeatureServiceStub(channel).IngestEvents(
                features_pb2.IngestEventsRequest(events=events), metadata=key, timeout=10
            )
            orders = len(events)
    print(
        f"  simulated customers (planted rates, not model output): {opened} opened "
        f"(RecordOutcome via the gateway), {orders} ordered again (IngestEvents via the gateway; "
        f"re-purchase {REPURCHASE['treatment']:.0%} treated vs {REPURCHASE['holdout']:.0%} holdout)"
    )
    marked = store.keys.experiment(plan.contacts[0].campaign, "orders") if plan.contacts else ""
    deadline = time.monotonic() + 15
    while marked and store.client.hlen(marked) < orders and time.monotonic() < deadline:
        time.sleep(0.05)  # the ingestion consumer marks the orders on the campaign
