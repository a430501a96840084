"""`make bench` scenario ``rpcs``: every unary RPC of every service, each with a valid request
on the bench shop, at a light fixed rate (p50/p99) and then at rising rates until p99 passes
10 ms (the highest rate that held is its maximum sustainable rate). The streaming RPCs
(ScoreBatch, BatchRecommend) are measured in customers/s by their own scenarios.

Service RPCs are called straight at the service; the gateway's own RPCs through the gateway
(nginx, API key, access log). One Python client on the same 2 cores drives the load: past
~3,000 calls/s the client, not the service, is the limit, and the figures say so.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from augur.churn.v1 import churn_pb2, churn_pb2_grpc
from augur.common.v1 import common_pb2, common_pb2_grpc
from augur.contact.v1 import contact_pb2, contact_pb2_grpc
from augur.devtools.bench.harness import P99_LIMIT_MS, Result, capacity, open_loop
from augur.devtools.runtime import StackState
from augur.features.store import RedisFeatureStore
from augur.features.v1 import features_pb2, features_pb2_grpc
from augur.gateway.keys import KeyStore
from augur.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from augur.recommend.v1 import recommend_pb2, recommend_pb2_grpc

LIGHT_RATE = 100  # calls/s: the fixed-rate p50/p99 of every RPC
HEAVY_CALLS = 5


@dataclass
class Rpc:
    name: str  # service.Method
    call: Callable[[], Awaitable[Any]]
    light_rate: float = LIGHT_RATE
    sweep: bool = True  # False: too heavy per call for a rate sweep to mean anything
    note: str = ""


def _now(offset_days: float = 0.0) -> Timestamp:
    ts = Timestamp()
    ts.FromSeconds(int(time.time() + offset_days * 86400))
    return ts


def catalogue(
    state: StackState,
    store: RedisFeatureStore,
    churn_ids: list[str],
    buyers: list[str],
    items: list[str],
    contact_customers: list[str],
    policy: contact_pb2.ContactPolicy,
    reserved: list[str],
) -> tuple[list[Rpc], list[grpc.aio.Channel]]:
    """One valid call per unary RPC; the channels to close afterwards. ``policy``: the
    contact policy in force, which UpdateContactPolicy writes back unchanged; ``reserved``:
    contacts recorded beforehand, whose outcomes RecordOutcome reports."""
    port = state.port_of
    opened: dict[str, grpc.aio.Channel] = {}

    def channel(name: str) -> grpc.aio.Channel:
        if name not in opened:
            opened[name] = grpc.aio.insecure_channel(f"127.0.0.1:{port(name)}")
        return opened[name]

    _, token = KeyStore(store).create("bench-rpcs", ["admin"])
    key = (("x-api-key", token),)
    churn = churn_pb2_grpc.ChurnServiceStub(channel("churn"))
    rec = recommend_pb2_grpc.RecommendServiceStub(channel("recommend"))
    contact = contact_pb2_grpc.ContactServiceStub(channel("contact"))
    feats = features_pb2_grpc.FeatureServiceStub(channel("features"))
    gateway = gateway_pb2_grpc.GatewayServiceStub(channel("gateway"))
    echo = common_pb2_grpc.DiagnosticsServiceStub(channel("churn"))
    serial = itertools.count()
    run = f"{time.time():.0f}"
    experiment = f"bench-{run}"

    def timed(
        stub_call: Callable[..., Awaitable[Any]], request: Callable[[], Message], **kw: Any
    ) -> Callable[[], Awaitable[Any]]:
        return lambda: stub_call(request(), timeout=2, **kw)

    def by_customer(
        stub_call: Callable[..., Awaitable[Any]],
        message: Callable[..., Message],
        ids: list[str],
        metadata: tuple[tuple[str, str], ...] = (),
        **fields: Any,
    ) -> Callable[[], Awaitable[Any]]:
        """A call about a random customer of ``ids``."""
        return timed(
            stub_call,
            lambda: message(customer_id=random.choice(ids), **fields),
            metadata=metadata,
        )

    def record() -> Message:
        return contact_pb2.RecordContactRequest(
            contact_id=f"bench-rpcs-{run}-{next(serial)}",
            customer_id=random.choice(contact_customers),
            channel=common_pb2.CHANNEL_EMAIL,
            send_at=_now(random.uniform(0, 30)),
        )

    outcomes = itertools.cycle(reserved or ["none-reserved"])  # NOT_FOUND says so

    def outcome() -> Message:
        return contact_pb2.RecordOutcomeRequest(
            contact_id=next(outcomes), outcome=common_pb2.OUTCOME_TYPE_OPENED, occurred_at=_now()
        )

    def enrol() -> Message:
        return contact_pb2.EnrollExperimentRequest(
            experiment=experiment,
            holdout_share=0.1,
            enrolments=[
                contact_pb2.Enrolment(
                    customer_id=random.choice(contact_customers), arm=contact_pb2.ARM_TREATMENT
                )
            ],
        )

    rpcs = [
        Rpc("common.Echo", timed(echo.Echo, lambda: common_pb2.EchoRequest(payload=b"x" * 64))),
        Rpc(
            "churn.Score",
            by_customer(churn.Score, churn_pb2.ScoreRequest, churn_ids),
        ),
        Rpc(
            "churn.Score+reasons",
            by_customer(churn.Score, churn_pb2.ScoreRequest, churn_ids, include_reasons=True),
        ),
        Rpc(
            "churn.ListAtRisk",
            timed(churn.ListAtRisk, lambda: churn_pb2.ListAtRiskRequest(page_size=50)),
            note="a page of 50 from the at-risk snapshot",
        ),
        Rpc("churn.ReloadModel", timed(churn.ReloadModel, churn_pb2.ReloadModelRequest), 20),
        Rpc(
            "features.GetFeatures",
            by_customer(feats.GetFeatures, features_pb2.GetFeaturesRequest, churn_ids),
        ),
        Rpc(
            "features.GetIngestionStatus",
            timed(feats.GetIngestionStatus, features_pb2.GetIngestionStatusRequest),
        ),
        Rpc(
            "recommend.Recommend",
            by_customer(rec.Recommend, recommend_pb2.RecommendRequest, buyers, n=10),
        ),
        Rpc(
            "recommend.SimilarItems",
            timed(
                rec.SimilarItems,
                lambda: recommend_pb2.SimilarItemsRequest(item_id=random.choice(items), n=10),
            ),
        ),
        Rpc(
            "recommend.AnticipateNext",
            by_customer(
                rec.AnticipateNext, recommend_pb2.AnticipateNextRequest, buyers, horizon_days=30
            ),
        ),
        Rpc("recommend.ReloadModel", timed(rec.ReloadModel, recommend_pb2.ReloadModelRequest), 20),
        Rpc(
            "contact.NextBestContact",
            by_customer(
                contact.NextBestContact,
                contact_pb2.NextBestContactRequest,
                contact_customers,
                alternatives=2,
            ),
            note="4 channels x 169 hours scored per call",
        ),
        Rpc("contact.RecordContact", timed(contact.RecordContact, record)),
        Rpc("contact.RecordOutcome", timed(contact.RecordOutcome, outcome)),
        Rpc(
            "contact.SetConsent",
            timed(
                contact.SetConsent,
                lambda: contact_pb2.SetConsentRequest(
                    customer_id=random.choice(contact_customers),
                    consents=[
                        contact_pb2.ChannelConsent(channel=c, granted=True)
                        for c in (common_pb2.CHANNEL_EMAIL, common_pb2.CHANNEL_SMS)
                    ],
                ),
            ),
        ),
        Rpc(
            "contact.GetContactPolicy",
            timed(contact.GetContactPolicy, contact_pb2.GetContactPolicyRequest),
        ),
        Rpc(
            "contact.UpdateContactPolicy",
            timed(
                contact.UpdateContactPolicy,
                lambda: contact_pb2.UpdateContactPolicyRequest(policy=policy),
            ),
            note="writes back the policy in force",
        ),
        Rpc("contact.EnrollExperiment", timed(contact.EnrollExperiment, enrol)),
        Rpc(
            "contact.UpliftReport",
            timed(
                contact.UpliftReport,
                lambda: contact_pb2.UpliftReportRequest(
                    experiment=experiment,
                    outcome=common_pb2.OUTCOME_TYPE_ORDERED,
                    window_days=30,
                    confidence=0.95,
                ),
            ),
        ),
        Rpc(
            "contact.ForgetCustomer",
            lambda: contact.ForgetCustomer(
                contact_pb2.ForgetCustomerRequest(customer_id=f"bench-gone-{next(serial)}"),
                timeout=30,
            ),
            sweep=False,
            note="erasure of a customer never seen: every stream not yet trimmed is read",
        ),
        Rpc("contact.ReloadModel", timed(contact.ReloadModel, contact_pb2.ReloadModelRequest), 20),
        Rpc(
            "gateway.CustomerInsight",
            by_customer(
                gateway.CustomerInsight, gateway_pb2.CustomerInsightRequest, churn_ids, key
            ),
            note="through the gateway: churn + recommend + contact composed",
        ),
        Rpc(
            "gateway.NextBestAction",
            by_customer(gateway.NextBestAction, gateway_pb2.NextBestActionRequest, churn_ids, key),
            note="through the gateway",
        ),
        Rpc(
            "gateway.PlanOutreach",
            lambda: gateway.PlanOutreach(
                gateway_pb2.PlanOutreachRequest(
                    campaign=f"bench-{next(serial)}", max_contacts=100, min_probability=0.5
                ),
                timeout=30,
                metadata=key,
            ),
            sweep=False,
            note="through the gateway: plans over the at-risk list (up to 100 contacts)",
        ),
    ]
    return rpcs, list(opened.values())


async def every_rpc(
    state: StackState,
    store: RedisFeatureStore,
    churn_ids: list[str],
    buyers: list[str],
    items: list[str],
    contact_customers: list[str],
    duration: float,
    results: list[Result],
) -> None:
    reserved: list[str] = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{state.port_of('contact')}") as ch:
        contact = contact_pb2_grpc.ContactServiceStub(ch)
        current = await contact.GetContactPolicy(contact_pb2.GetContactPolicyRequest(), timeout=5)
        for i, customer in enumerate(contact_customers[:300]):
            request = contact_pb2.RecordContactRequest(
                contact_id=f"bench-outcome-{time.time():.0f}-{i}",
                customer_id=customer,
                channel=common_pb2.CHANNEL_EMAIL,
                send_at=_now(),
            )
            if (await contact.RecordContact(request, timeout=5)).reserved:
                reserved.append(request.contact_id)
    rpcs, opened = catalogue(
        state, store, churn_ids, buyers, items, contact_customers, current.policy, reserved
    )
    try:
        await _wait_for_key(rpcs)
        for rpc in rpcs:
            results.append(await _measure(rpc, duration))
            print(f"   {results[-1].scenario}: {results[-1].note}")
    finally:
        for ch in opened:
            await ch.close()


async def _wait_for_key(rpcs: list[Rpc], within: float = 15) -> None:
    """The gateway reads new API keys on its refresh period."""
    insight = next(r for r in rpcs if r.name == "gateway.CustomerInsight")
    deadline = time.monotonic() + within
    while True:
        try:
            await insight.call()
            return
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.UNAUTHENTICATED or time.monotonic() > deadline:
                return
        await asyncio.sleep(0.5)


async def _measure(rpc: Rpc, duration: float) -> Result:
    try:
        for _ in range(20 if rpc.sweep else 1):
            await rpc.call()
    except grpc.aio.AioRpcError as err:
        why = f"{err.code().name} {err.details()}"
        return Result.from_latencies(f"rpc {rpc.name}", [], 1, 0.0, note=f"not measured: {why}")
    if not rpc.sweep:  # heavy per call: a few calls one after another
        latencies = []
        for _ in range(HEAVY_CALLS):
            started = time.perf_counter()
            await rpc.call()
            latencies.append(time.perf_counter() - started)
        note = f"{HEAVY_CALLS} calls one after another; not swept (heavy per call)"
        if rpc.note:
            note += f"; {rpc.note}"
        return Result.from_latencies(f"rpc {rpc.name}", latencies, 0, 0.0, note=note)
    light = await open_loop(rpc.call, rpc.light_rate, max(duration, 200 / rpc.light_rate))
    note = f"p50/p99 at {rpc.light_rate:g}/s"
    rate, at = await capacity(rpc.call, duration=duration)
    if at is not None:
        p99 = float(np.percentile(at.latencies, 99)) * 1000
        note += f"; max sustainable {rate:,.0f}/s at p99 {p99:.2f} ms"
    else:
        note += f"; p99 over {P99_LIMIT_MS:g} ms already at 250/s"
    if rpc.note:
        note += f"; {rpc.note}"
    result = light.result(f"rpc {rpc.name}", note=note)
    result.rps = round(rate, 1)  # the table's rate column: the maximum sustainable rate
    return result
