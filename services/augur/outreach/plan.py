"""Outreach planning: from the at-risk snapshot to scheduled, reserved contacts.

One plan per campaign and day. The steps:

1. **Select** customers from the at-risk snapshot (``ListAtRisk``) in value-at-risk order,
   filtered by probability, value at risk, risk band and segment; customers already enrolled
   in the campaign (an earlier day's plan, a trigger) are left out.
2. **Eligibility before assignment**: next-best-contact decides for every selected customer
   whether and when a retention contact is allowed (consent, caps, quiet hours, suppression)
   *before* arms are drawn, so treated and holdout customers are equally contactable and
   the holdout measures the contact, not the policy.
3. **Assignment** with an exact share: eligible customers form blocks of similar rank, each
   shuffled by the campaign's hash; position j of that order is held out when
   floor((j+1)·share) > floor(j·share), so any prefix of n holds exactly floor(n·share).
4. **Budget**: the order is walked; holdout customers cost nothing, a treated customer costs
   its channel's cost; the walk stops at the first treated customer that would break
   ``max_contacts`` or ``max_total_cost``.
5. **Commit** (not in a dry run): the plan is stored as *pending*, customers are enrolled in
   the contact service's experiment with their arms, treated contacts are reserved under ids
   derived from (campaign, day, customer) — idempotent — then the plan is stored as
   *complete*. A re-run for the same campaign and day returns the stored plan; a run that
   died half-way is finished from the stored pending plan, never planned twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc
import redis
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from augur.churn.v1 import churn_pb2
from augur.common.errors import AugurError, FailedPrecondition, InvalidArgument, Upstream
from augur.common.keys import Keys
from augur.common.v1 import common_pb2
from augur.contact.experiments import holdout_position, stratified_order
from augur.contact.v1 import contact_pb2
from augur.gateway.v1 import gateway_pb2
from augur.outreach.delivery import DeliveryQueue, payload_of
from augur.recommend.v1 import recommend_pb2

T = TypeVar("T")

CAMPAIGN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
PAGE = 500
BLOCK = 20
MAX_SEGMENTS = 100
MAX_ITEMS = 20
MAX_WINDOW_DAYS = 7
META = "_meta"
LOCK_SECONDS = 600
CHANNEL_NAMES = {c: common_pb2.Channel.Name(c).removeprefix("CHANNEL_") for c in (1, 2, 3, 4)}
Unary = Callable[[str, Message, float], Awaitable[Any]]
Stream = Callable[[str, Message, float], Any]


def contact_id_of(campaign: str, day: str, customer_id: str) -> str:
    """The planned contact's id: the same for the same campaign, day and customer."""
    digest = hashlib.sha256(f"{campaign}\x00{day}\x00{customer_id}".encode()).hexdigest()
    return f"o-{digest[:32]}"


@dataclass
class Spec:
    """A validated request."""

    request: gateway_pb2.PlanOutreachRequest
    day: str
    start: float  # window start (s)
    end: float  # window end (s), not included: the next day's midnight belongs to the next plan
    costs: dict[int, float]
    fingerprint: str
    share: float = 0.0  # the campaign's holdout share (registered, asked for, or default)


@dataclass
class Candidate:
    at_risk: churn_pb2.AtRiskCustomer
    option: contact_pb2.ContactOption | None = None
    exclusion: str = ""


@dataclass
class Draft:
    rows: list[gateway_pb2.ScheduledContact] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)


def _finite(value: float, what: str, low: float, high: float = math.inf) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        bound = f"{low:g}..{high:g}" if math.isfinite(high) else f">= {low:g}"
        raise InvalidArgument(f"{what} must be {bound} (got {value})")


def validate(request: gateway_pb2.PlanOutreachRequest, now: float) -> Spec:
    r = request
    if not CAMPAIGN.match(r.campaign):
        raise InvalidArgument(
            "campaign must be 1..64 characters of letters, digits, '_', '.' or '-' "
            f"(got {r.campaign[:80]!r})"
        )
    _finite(r.min_probability, "min_probability", 0.0, 1.0)
    _finite(r.min_value_at_risk, "min_value_at_risk", 0.0)
    if r.max_contacts < 0:
        raise InvalidArgument(f"max_contacts must be >= 0 (got {r.max_contacts})")
    _finite(r.max_total_cost, "max_total_cost", 0.0)
    _finite(r.holdout_share, "holdout_share", 0.0, 0.5)
    if not 0 <= r.items_per_contact <= MAX_ITEMS:
        raise InvalidArgument(
            f"items_per_contact must be 0..{MAX_ITEMS} (got {r.items_per_contact})"
        )
    if not 0 <= r.window_days <= MAX_WINDOW_DAYS:
        raise InvalidArgument(f"window_days must be 0..{MAX_WINDOW_DAYS} (got {r.window_days})")
    for i, band in enumerate(r.risk_bands):
        if band not in (1, 2, 3):
            raise InvalidArgument(f"risk_bands[{i}] must be LOW, MEDIUM or HIGH (got {band})")
    if len(r.segments) > MAX_SEGMENTS:
        raise InvalidArgument(f"at most {MAX_SEGMENTS} segments (got {len(r.segments)})")
    for i, segment in enumerate(r.segments):
        if not segment or len(segment) > 64 or not segment.isprintable():
            raise InvalidArgument(f"segments[{i}] must be 1..64 printable characters")
    costs: dict[int, float] = {}
    for i, cc in enumerate(r.channel_costs):
        if cc.channel not in CHANNEL_NAMES:
            raise InvalidArgument(
                f"channel_costs[{i}].channel must be a channel (got {cc.channel})"
            )
        if cc.channel in costs:
            raise InvalidArgument(f"channel_costs[{i}]: {CHANNEL_NAMES[cc.channel]} given twice")
        _finite(cc.cost, f"channel_costs[{i}].cost", 0.0)
        costs[cc.channel] = cc.cost
    when = (
        r.plan_date.ToDatetime(UTC) if r.HasField("plan_date") else datetime.fromtimestamp(now, UTC)
    )
    day_start = datetime(when.year, when.month, when.day, tzinfo=UTC)
    end = (day_start + timedelta(days=r.window_days or 1)).timestamp()
    start = max(day_start.timestamp(), now)
    if end <= start + 3600:
        raise InvalidArgument(
            f"the plan window {day_start.date()} + {r.window_days or 1} day(s) is over (or has "
            "less than an hour left); plan a later day"
        )
    canonical = gateway_pb2.PlanOutreachRequest()
    canonical.CopyFrom(r)
    canonical.ClearField("plan_date")
    canonical.dry_run = False
    fingerprint = hashlib.sha256(canonical.SerializeToString(deterministic=True)).hexdigest()
    return Spec(r, day_start.date().isoformat(), start, end, costs, fingerprint[:16])


def _ts(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


async def _bounded(limit: int, calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


class Planner:
    """Plans campaigns through the services' RPCs; plans live in Redis."""

    def __init__(
        self,
        unary: Unary,
        stream: Stream,
        client: redis.Redis,
        keys: Keys,
        call_seconds: float = 5.0,
        concurrency: int = 16,
    ) -> None:
        self.unary = unary
        self.stream = stream
        self.client = client
        self.keys = keys
        self.call_seconds = call_seconds
        self.concurrency = concurrency
        self.deliveries = DeliveryQueue(client, keys)

    # ------------------------------------------------------------ entry point
    async def plan(
        self, request: gateway_pb2.PlanOutreachRequest, now: float | None = None
    ) -> gateway_pb2.PlanOutreachResponse:
        now = time.time() if now is None else now
        spec = validate(request, now)
        if request.dry_run:
            draft = await self._draft(spec)
            return self._response(spec, draft, rows=False)
        key = self.keys.outreach_plan(request.campaign, spec.day)
        stored = self._load(key, spec)
        if stored is not None and stored[0]["status"] == "complete":
            return self._response(spec, stored[1], replayed=True)
        lock = self.keys.outreach_lock(request.campaign, spec.day)
        if not self.client.set(lock, spec.fingerprint, nx=True, ex=LOCK_SECONDS):
            raise Upstream(
                grpc.StatusCode.ABORTED,
                f"campaign '{request.campaign}' is being planned for {spec.day} right now; "
                "retry when that run has finished",
            )
        try:
            stored = self._load(key, spec)  # another run may have finished meanwhile
            if stored is not None and stored[0]["status"] == "complete":
                return self._response(spec, stored[1], replayed=True)
            if stored is None:
                draft = await self._draft(spec)
                await self._enrich(spec, draft)
                self._save(key, spec, draft, "pending")
            else:
                draft = stored[1]
                spec.share = float(stored[0]["share"])
            await self._commit(spec, draft)
            self._save(key, spec, draft, "complete")
            self.client.sadd(self.keys.outreach_days(request.campaign), spec.day)
            return self._response(spec, draft)
        finally:
            self.client.delete(lock)

    # ------------------------------------------------------------ selection
    async def _draft(self, spec: Spec) -> Draft:
        r = spec.request
        eligible: list[Candidate] = []
        counts: Counter[str] = Counter()
        token = ""
        walk: tuple[list[int], bool] = ([], False)
        while True:
            page = await self.unary(
                "churn.ListAtRisk",
                churn_pb2.ListAtRiskRequest(
                    min_probability=r.min_probability,
                    page_size=PAGE,
                    page_token=token,
                    risk_bands=r.risk_bands,
                ),
                self.call_seconds,
            )
            rows = [c for c in page.customers if c.value_at_risk >= r.min_value_at_risk]
            below = len(rows) < len(page.customers)  # ranked by value at risk: no more above
            rows = self._in_segments(rows, list(r.segments))
            counts["candidates"] += len(rows)
            eligible.extend(await self._eligible(spec, rows, counts))
            token = page.next_page_token
            last = below or not token
            walk = self._walk(spec, eligible, final=last)
            if last or walk[1]:
                break
        order, _ = walk
        counts["eligible"] = len(eligible)
        counts["excluded=BUDGET"] = len(eligible) - len(order)
        draft = Draft(counts=counts)
        for position, index in enumerate(order):
            c = eligible[index]
            holdout = holdout_position(position, spec.share)
            draft.rows.append(self._row(spec, c, holdout))
        for row in draft.rows:
            arm = contact_pb2.Arm.Name(row.arm).removeprefix("ARM_")
            counts[f"arm={arm}"] += 1
            if row.arm == contact_pb2.ARM_TREATMENT:
                counts[f"channel={CHANNEL_NAMES[row.option.channel]}"] += 1
        draft.rows.sort(key=lambda row: -row.value_at_risk)
        return draft

    def _in_segments(
        self, rows: list[churn_pb2.AtRiskCustomer], segments: list[str]
    ) -> list[churn_pb2.AtRiskCustomer]:
        if not segments or not rows:
            return rows
        pipe = self.client.pipeline(transaction=False)
        for c in rows:
            pipe.hget(self.keys.contact(c.customer_id, "consent"), "seg")
        wanted = {s.encode() for s in segments}
        return [c for c, seg in zip(rows, pipe.execute(), strict=True) if seg in wanted]

    async def _eligible(
        self, spec: Spec, rows: list[churn_pb2.AtRiskCustomer], counts: Counter[str]
    ) -> list[Candidate]:
        if not rows:
            return []
        enrolled = await self.unary(
            "contact.EnrollExperiment",
            contact_pb2.EnrollExperimentRequest(
                experiment=spec.request.campaign,
                holdout_share=spec.request.holdout_share,
                enrolments=[contact_pb2.Enrolment(customer_id=c.customer_id) for c in rows],
                dry_run=True,
            ),
            self.call_seconds,
        )
        spec.share = enrolled.holdout_share
        fresh = [
            c
            for c, e in zip(rows, enrolled.enrolments, strict=True)
            if e.arm == contact_pb2.ARM_UNSPECIFIED
        ]
        counts["excluded=ALREADY_IN_CAMPAIGN"] += len(rows) - len(fresh)

        def ask(c: churn_pb2.AtRiskCustomer) -> Callable[[], Awaitable[Candidate]]:
            async def call() -> Candidate:
                try:
                    reply = await self.unary(
                        "contact.NextBestContact",
                        contact_pb2.NextBestContactRequest(
                            customer_id=c.customer_id,
                            purpose=common_pb2.PURPOSE_RETENTION,
                            earliest=_ts(spec.start),
                            latest=_ts(spec.end - 1.0),  # latest is inclusive; the window not
                        ),
                        self.call_seconds,
                    )
                except AugurError as exc:
                    if exc.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                        raise
                    return Candidate(c, exclusion=f"CONTACT_{exc.code.name}")
                if not reply.contact:
                    name = contact_pb2.SuppressionReason.Name(reply.reason)
                    return Candidate(c, exclusion=name.removeprefix("SUPPRESSION_REASON_"))
                return Candidate(c, option=reply.best)

            return call

        decided = await _bounded(self.concurrency, [ask(c) for c in fresh])
        for c in decided:
            if c.exclusion:
                counts[f"excluded={c.exclusion}"] += 1
        return [c for c in decided if c.option is not None]

    def _walk(self, spec: Spec, eligible: list[Candidate], final: bool) -> tuple[list[int], bool]:
        """(indexes of the included customers in assignment order, stopped by a budget).
        Unless final, only complete blocks are walked (later customers may join the last).

        Arms are positional (``holdout_position`` over the included list), so the holdout
        share stays exact. A customer whose advised contact would not fit the remaining cost
        budget is left out of both arms (whichever arm the position would give), so treatment
        and holdout stay comparable, and the walk goes on to customers with cheaper contacts;
        it stops when the contact budget is reached or no channel fits what is left."""
        r = spec.request
        ranked = [c.at_risk.customer_id for c in eligible]
        usable = len(ranked) if final else len(ranked) - len(ranked) % BLOCK
        order = stratified_order(r.campaign, ranked[:usable], BLOCK)
        cheapest = min(spec.costs.get(channel, 0.0) for channel in CHANNEL_NAMES)
        kept: list[int] = []
        treated = 0
        cost = 0.0
        for index in order:
            option = eligible[index].option
            assert option is not None
            price = spec.costs.get(option.channel, 0.0)
            if r.max_total_cost and cost + price > r.max_total_cost + 1e-9:
                if cost + cheapest > r.max_total_cost + 1e-9:
                    return kept, True  # nothing fits any more
                continue  # this one does not fit; a cheaper contact may
            if holdout_position(len(kept), spec.share):
                kept.append(index)
                continue
            if r.max_contacts and treated + 1 > r.max_contacts:
                return kept, True
            treated += 1
            cost += price
            kept.append(index)
        return kept, False

    def _row(self, spec: Spec, c: Candidate, holdout: bool) -> gateway_pb2.ScheduledContact:
        a = c.at_risk
        assert c.option is not None
        row = gateway_pb2.ScheduledContact(
            customer_id=a.customer_id,
            campaign=spec.request.campaign,
            arm=contact_pb2.ARM_HOLDOUT if holdout else contact_pb2.ARM_TREATMENT,
            probability=a.probability,
            value_at_risk=a.value_at_risk,
            risk_band=a.risk_band,
            eligible_channel=c.option.channel,
        )
        if not holdout:
            row.contact_id = contact_id_of(spec.request.campaign, spec.day, a.customer_id)
            row.option.CopyFrom(c.option)
            row.cost = spec.costs.get(c.option.channel, 0.0)
        return row

    # ------------------------------------------------------------ message content
    async def _enrich(self, spec: Spec, draft: Draft) -> None:
        treated = [row for row in draft.rows if row.arm == contact_pb2.ARM_TREATMENT]
        if not treated:
            return
        by_id = {row.customer_id: row for row in treated}
        ids = list(by_id)
        for start in range(0, len(ids), 10_000):
            try:
                async for chunk in self.stream(
                    "churn.ScoreBatch",
                    churn_pb2.ScoreBatchRequest(
                        customer_ids=ids[start : start + 10_000],
                        include_reasons=True,
                        max_reasons=3,
                    ),
                    self.call_seconds * 4,
                ):
                    for item in chunk.items:
                        if item.HasField("score"):
                            by_id[item.customer_id].reasons.extend(item.score.reasons)
            except AugurError as exc:
                draft.counts[f"reasons_missing={exc.code.name}"] += len(ids[start : start + 10_000])
        n = spec.request.items_per_contact
        if not n:
            return

        def items(row: gateway_pb2.ScheduledContact) -> Callable[[], Awaitable[None]]:
            async def call() -> None:
                try:
                    reply = await self.unary(
                        "recommend.Recommend",
                        recommend_pb2.RecommendRequest(customer_id=row.customer_id, n=n),
                        self.call_seconds,
                    )
                    row.items.extend(reply.items)
                except AugurError as exc:
                    draft.counts[f"items_missing={exc.code.name}"] += 1

            return call

        await _bounded(self.concurrency, [items(row) for row in treated])

    # ------------------------------------------------------------ commit
    async def _commit(self, spec: Spec, draft: Draft) -> None:
        r = spec.request
        rows = draft.rows
        for start in range(0, len(rows), 10_000):
            chunk = rows[start : start + 10_000]
            reply = await self.unary(
                "contact.EnrollExperiment",
                contact_pb2.EnrollExperimentRequest(
                    experiment=r.campaign,
                    holdout_share=spec.share,
                    enrolments=[
                        contact_pb2.Enrolment(customer_id=row.customer_id, arm=row.arm)
                        for row in chunk
                    ],
                ),
                self.call_seconds,
            )
            for row, held in zip(chunk, reply.enrolments, strict=True):
                if held.arm != row.arm:  # enrolled by someone else meanwhile: that arm holds
                    draft.counts["arm_changed_by_earlier_enrolment"] += 1
                    row.arm = held.arm
                    row.ClearField("option")
                    row.contact_id = ""
                    row.cost = 0.0

        def reserve(row: gateway_pb2.ScheduledContact) -> Callable[[], Awaitable[None]]:
            async def call() -> None:
                reply = await self.unary(
                    "contact.RecordContact",
                    contact_pb2.RecordContactRequest(
                        contact_id=row.contact_id,
                        customer_id=row.customer_id,
                        channel=row.option.channel,
                        purpose=common_pb2.PURPOSE_RETENTION,
                        send_at=row.option.send_at,
                        campaign=r.campaign,
                        experiment=r.campaign,
                    ),
                    self.call_seconds,
                )
                if not reply.reserved:  # the policy changed since the decision
                    name = contact_pb2.SuppressionReason.Name(reply.reason)
                    draft.counts[f"not_reserved={name.removeprefix('SUPPRESSION_REASON_')}"] += 1
                    row.ClearField("option")
                    row.contact_id = ""
                    row.cost = 0.0

            return call

        await _bounded(self.concurrency, [reserve(row) for row in rows if row.contact_id])
        if r.deliver:
            self.deliveries.enqueue_many(
                [
                    (row.contact_id, payload_of(row), row.option.send_at.ToNanoseconds() / 1e9)
                    for row in rows
                    if row.contact_id
                ]
            )

    # ------------------------------------------------------------ storage
    def _load(self, key: str, spec: Spec) -> tuple[dict[str, Any], Draft] | None:
        raw: Any = self.client.hgetall(key)
        if not raw:
            return None
        meta = json.loads(raw.pop(META.encode()))
        if meta["fingerprint"] != spec.fingerprint:
            raise FailedPrecondition(
                f"campaign '{spec.request.campaign}' already has a plan for {spec.day} made with "
                "different parameters; use another campaign name or day"
            )
        rows = [gateway_pb2.ScheduledContact.FromString(v) for v in raw.values()]
        rows.sort(key=lambda row: (-row.value_at_risk, row.customer_id))
        return meta, Draft(rows, Counter(meta["counts"]))

    def _save(self, key: str, spec: Spec, draft: Draft, status: str) -> None:
        meta = {
            "status": status,
            "fingerprint": spec.fingerprint,
            "share": spec.share,
            "counts": dict(draft.counts),
            "day": spec.day,
            "saved_at": time.time(),
        }
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, META, json.dumps(meta))
        for start in range(0, len(draft.rows), 1000):
            pipe.hset(
                key,
                mapping={
                    row.customer_id: row.SerializeToString()
                    for row in draft.rows[start : start + 1000]
                },
            )
        pipe.execute()

    def _response(
        self, spec: Spec, draft: Draft, replayed: bool = False, rows: bool = True
    ) -> gateway_pb2.PlanOutreachResponse:
        arms = Counter(row.arm for row in draft.rows)
        return gateway_pb2.PlanOutreachResponse(
            contacts=draft.rows if rows else [],
            counts=[
                gateway_pb2.PlanCount(key=k, count=v) for k, v in sorted(draft.counts.items()) if v
            ],
            total_cost=sum(row.cost for row in draft.rows),
            replayed=replayed,
            plan_day=spec.day,
            treatment=arms[contact_pb2.ARM_TREATMENT],
            holdout=arms[contact_pb2.ARM_HOLDOUT],
        )
