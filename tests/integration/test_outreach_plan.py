"""Outreach planning over real sockets: the gateway's PlanOutreach in front of real churn,
recommend and contact services, with the at-risk snapshot and contact state in Redis."""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp

from augur.cli.main import main
from augur.cli.outreach import schedule_rows, write_schedule
from augur.common.settings import ServerSettings
from augur.common.v1 import common_pb2
from augur.contact.state import ContactState
from augur.contact.v1 import contact_pb2, contact_pb2_grpc
from augur.features.store import RedisFeatureStore
from augur.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from augur.outreach.delivery import Deliverer, DeliveryQueue
from augur.outreach.main import delivery_outcomes
from augur.training.contact.materialise import load_contact_state
from augur.training.data.loader import load_dataset
from augur.training.retrain import score_all
from tests.integration.gateway_stack import (
    Stack,
    gateway_settings,
    http,
    running_gateway,
)
from tests.integration.rpc import expect

COSTS = {
    common_pb2.CHANNEL_EMAIL: 0.02,
    common_pb2.CHANNEL_SMS: 0.08,
    common_pb2.CHANNEL_PUSH: 0.01,
    common_pb2.CHANNEL_PHONE: 1.5,
}


@pytest.fixture
async def planning(
    stack: Stack, settings: ServerSettings, shop_data: Path, churn_trained: Any
) -> Stack:
    """The gateway test stack plus contact state and an at-risk snapshot."""
    store = RedisFeatureStore.from_settings(settings)
    load_contact_state(load_dataset(shop_data), ContactState(store))
    uri, root, _ = churn_trained
    assert score_all(uri, root, store) is not None
    return stack


def _day(offset: int) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(
        datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        + timedelta(days=offset)
    )
    return ts


def _request(campaign: str, day: int = 1, **extra: Any) -> gateway_pb2.PlanOutreachRequest:
    request = gateway_pb2.PlanOutreachRequest(
        campaign=campaign, plan_date=_day(day), **{"items_per_contact": 3, **extra}
    )
    for channel, cost in COSTS.items():
        request.channel_costs.add(channel=channel, cost=cost)
    return request


async def test_plan_respects_budget_consent_caps_and_holdout_exactly(
    settings: ServerSettings, planning: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = planning
    store = RedisFeatureStore.from_settings(settings)
    keys = store.keys
    crm = (("x-api-key", stack.tokens["crm"]),)
    async with running_gateway(gateway_settings(settings, stack)) as gw:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{gw.ports.grpc}")
        gateway = gateway_pb2_grpc.GatewayServiceStub(channel)
        contact = contact_pb2_grpc.ContactServiceStub(
            grpc.aio.insecure_channel(f"127.0.0.1:{stack.ports['contact']}")
        )
        # the three customers with the highest value at risk already have a contact booked
        # in tomorrow's window: the 1-per-24 h cap must keep them out of the plan
        top = [
            r.decode()
            for r in store.client.zrevrange(
                keys.churn_rank(store.client.hget(keys.churn_snapshot(), "id").decode()), 0, 40
            )
        ]
        booked = []
        for customer in top:
            state = store.client.hgetall(keys.contact(customer, "consent"))
            consented = [ch for ch in range(4) if state.get(f"c{ch}".encode()) == b"1"]
            if not consented:
                continue
            send = Timestamp()
            send.FromDatetime(_day(1).ToDatetime(UTC) + timedelta(hours=12))
            reply = await contact.RecordContact(
                contact_pb2.RecordContactRequest(
                    contact_id=f"pre-{customer}",
                    customer_id=customer,
                    channel=consented[0] + 1,
                    send_at=send,
                    campaign="earlier",
                ),
                timeout=5,
            )
            assert reply.reserved
            booked.append(customer)
            if len(booked) == 3:
                break

        request = _request("winback", max_contacts=40, holdout_share=0.2, min_probability=0.3)
        dry = gateway_pb2.PlanOutreachRequest()
        dry.CopyFrom(request)
        dry.dry_run = True
        preview = await gateway.PlanOutreach(dry, metadata=crm, timeout=60)
        assert not preview.contacts
        assert not store.client.exists(keys.experiment("winback", "members"))
        assert not store.client.exists(keys.outreach_plan("winback", preview.plan_day))

        plan = await gateway.PlanOutreach(request, metadata=crm, timeout=60)
        counts = {c.key: c.count for c in plan.counts}
        n = plan.treatment + plan.holdout
        # budget and exact holdout share
        assert plan.treatment == 40
        assert plan.holdout == math.floor(n * 0.2)
        assert {c.key: c.count for c in preview.counts} == counts  # the dry run foresaw it
        assert (preview.treatment, preview.holdout) == (plan.treatment, plan.holdout)
        # caps and consent: the booked customers are excluded, every treated contact consented
        planned = {c.customer_id: c for c in plan.contacts}
        assert not planned.keys() & set(booked)
        assert counts["excluded=FREQUENCY_CAP"] >= len(booked)
        assert counts.get("excluded=NO_CONSENT", 0) > 0
        assert counts["candidates"] >= counts["eligible"] >= n
        cost = 0.0
        for row in plan.contacts:
            assert row.probability >= 0.3
            if row.arm == contact_pb2.ARM_TREATMENT:
                ch = row.option.channel
                consent = store.client.hget(keys.contact(row.customer_id, "consent"), f"c{ch - 1}")
                assert consent == b"1"
                assert (
                    store.client.get(keys.contact_owner(row.contact_id)).decode() == row.customer_id
                )
                assert row.cost == COSTS[ch]
                assert row.reasons and len(row.items) == 3
                start = _day(1).ToSeconds()
                assert start <= row.option.send_at.ToSeconds() < start + 86400
                cost += row.cost
            else:
                assert row.arm == contact_pb2.ARM_HOLDOUT and not row.contact_id and row.cost == 0
        assert plan.total_cost == pytest.approx(cost)
        # the contact service holds the same arms (its holdout mechanism)
        held = await contact.EnrollExperiment(
            contact_pb2.EnrollExperimentRequest(
                experiment="winback",
                enrolments=[contact_pb2.Enrolment(customer_id=c) for c in planned],
                dry_run=True,
            ),
            timeout=5,
        )
        assert held.holdout_share == pytest.approx(0.2)
        assert {e.customer_id: e.arm for e in held.enrolments} == {
            c: row.arm for c, row in planned.items()
        }
        # a holdout customer asked about later is still refused as holdout
        holdout_customer = next(
            c for c, row in planned.items() if row.arm == contact_pb2.ARM_HOLDOUT
        )
        decision = await contact.NextBestContact(
            contact_pb2.NextBestContactRequest(customer_id=holdout_customer, experiment="winback"),
            timeout=5,
        )
        assert decision.arm == contact_pb2.ARM_HOLDOUT and not decision.contact

        # idempotent: the same request returns the stored plan and reserves nothing new
        owners = len(list(store.client.scan_iter(match=keys.contact_owner("*"), count=1000)))
        again = await gateway.PlanOutreach(request, metadata=crm, timeout=60)
        assert again.replayed
        assert list(again.contacts) == list(plan.contacts)
        assert (
            len(list(store.client.scan_iter(match=keys.contact_owner("*"), count=1000))) == owners
        )
        changed = gateway_pb2.PlanOutreachRequest()
        changed.CopyFrom(request)
        changed.max_contacts = 10
        await expect(
            grpc.StatusCode.FAILED_PRECONDITION,
            gateway.PlanOutreach(changed, metadata=crm, timeout=60),
            "different parameters",
        )
        # the next day's plan leaves out everyone already in the campaign
        next_day = _request(
            "winback", day=2, max_contacts=40, holdout_share=0.2, min_probability=0.3
        )
        later = await gateway.PlanOutreach(next_day, metadata=crm, timeout=60)
        assert not {c.customer_id for c in later.contacts} & planned.keys()
        assert {c.key: c.count for c in later.counts}["excluded=ALREADY_IN_CAMPAIGN"] == n

        # the same RPC over REST/JSON (a dry run)
        status, _, body = await asyncio.to_thread(
            http,
            gw.ports.http,
            "/v1/gateway/PlanOutreach",
            # a plan date of its own: "today" has less than an hour left late in the UTC day
            {
                "campaign": "rest-check",
                "planDate": _day(1).ToJsonString(),
                "maxContacts": 5,
                "dryRun": True,
                "holdoutShare": 0.2,
            },
            stack.tokens["crm"],
        )
        assert status == 200, body
        assert json.loads(body)["treatment"] == "5"
        status, _, body = await asyncio.to_thread(
            http,
            gw.ports.http,
            "/v1/gateway/PlanOutreach",
            {"campaign": "rest-check", "planDate": _day(1).ToJsonString(), "holdoutShare": 0.9},
            stack.tokens["crm"],
        )
        assert status == 400 and b"holdout_share" in body

        # a cost budget and a segment filter
        cheap = _request(
            "cheap", max_total_cost=0.5, holdout_share=0.1, segments=["europe"], deliver=True
        )
        by_cost = await gateway.PlanOutreach(cheap, metadata=crm, timeout=60)
        assert 0 < by_cost.total_cost <= 0.5 + 1e-9
        for row in by_cost.contacts:
            assert store.client.hget(keys.contact(row.customer_id, "consent"), "seg") == b"europe"

        # delivery of that plan to a provider's webhook; results come back as outcomes
        treated = [r for r in by_cost.contacts if r.contact_id]
        received: list[dict[str, Any]] = []

        async def hook(request: web.Request) -> web.Response:
            received.append(json.loads(await request.read()))
            return web.json_response({"ok": True})

        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        hook_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        queue = DeliveryQueue(store.client, keys)
        # due tomorrow: make them due now for the test
        store.client.zadd(keys.outreach("deliveries"), {r.contact_id: time.time() for r in treated})
        deliverer = Deliverer(
            queue,
            f"http://127.0.0.1:{hook_port}/hook",
            "s3cret",
            on_result=delivery_outcomes(ContactState(store)),
        )
        async with aiohttp.ClientSession() as session:
            while queue.depth()[:2] != (0, 0):
                await deliverer.run_once(session)
        await runner.cleanup()
        assert sorted(m["contact_id"] for m in received) == sorted(r.contact_id for r in treated)
        assert all(m["campaign"] == "cheap" and m["option"]["channel"] for m in received)
        for r in treated:
            record = store.client.hgetall(keys.contact_record(r.customer_id, r.contact_id))
            assert b"o_delivered" in record
        # erasure reaches the plan, the queue and the campaign's records
        gone = treated[0]
        erased = await contact.ForgetCustomer(
            contact_pb2.ForgetCustomerRequest(customer_id=gone.customer_id), timeout=10
        )
        assert "outreach" in erased.removed_kinds
        plan_key = keys.outreach_plan("cheap", by_cost.plan_day)
        assert not store.client.hexists(plan_key, gone.customer_id)
        assert not store.client.hexists(keys.outreach("delivery"), gone.contact_id)
        assert store.client.hlen(plan_key) == len(by_cost.contacts)  # the others and _meta

        # the schedule files
        csv_path, jsonl_path = write_schedule(plan, "winback", tmp_path / "out")
        lines = jsonl_path.read_text().splitlines()
        assert len(lines) == n and len(csv_path.read_text().splitlines()) == n + 1
        rows = schedule_rows(plan)
        treated = [r for r in rows if r["arm"] == "treatment"]
        assert all(r["channel"] and r["send_at_local"][-6] in "+-" for r in treated)
        assert all(r["campaign"] == "winback" and r["reasons"] for r in treated)

        # bad input
        for bad, words in (
            (_request("bad name!"), "campaign"),
            (_request("x", holdout_share=0.7), "holdout_share"),
            (_request("x", day=-3), "plan a later day"),
            (_request("x", items_per_contact=50), "items_per_contact"),
        ):
            await expect(
                grpc.StatusCode.INVALID_ARGUMENT,
                gateway.PlanOutreach(bad, metadata=crm, timeout=10),
                words,
            )
        # the CLI runs the same planner against the services `augur up` recorded
        record = settings.state_dir.resolve() / "run" / "stack.json"
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(
            json.dumps(
                {
                    "redis_url": settings.redis_url,
                    "redis_prefix": settings.redis_prefix,
                    "mlflow_tracking_uri": "",
                    "processes": [
                        {"name": n, "pid": os.getpid(), "log": "", "port": port}
                        for n, port in stack.ports.items()
                    ],
                }
            )
        )
        monkeypatch.setenv("AUGUR_STATE_DIR", str(settings.state_dir.resolve()))
        day = _day(3).ToDatetime(UTC).date().isoformat()
        argv = ["outreach", "plan", "--campaign", "cli-plan", "--date", day, "--max-contacts"]
        argv += ["5", "--holdout-share", "0.2", "--out", str(tmp_path / "cli")]
        assert await asyncio.to_thread(main, argv) == 0
        lines = (tmp_path / "cli" / f"cli-plan-{day}.csv").read_text().splitlines()
        assert lines[0].startswith("campaign,arm,customer_id") and len(lines) == 1 + 6
        storefront = (("x-api-key", stack.tokens["storefront"]),)
        await expect(
            grpc.StatusCode.PERMISSION_DENIED,
            gateway.PlanOutreach(request, metadata=storefront, timeout=10),
            "",
        )
        await channel.close()
