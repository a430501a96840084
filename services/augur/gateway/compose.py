"""The composition RPCs: answers built from several services in one call.

Parts are fetched in parallel, each with its own deadline (``gateway_part_timeout_ms``,
capped by the caller's). A part that fails is left out and listed in ``missing`` with the
backend's status and message; the call fails only when every part failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from augur.churn.v1 import churn_pb2
from augur.common.errors import AugurError, InvalidArgument, Upstream
from augur.common.ids import check_id
from augur.common.settings import GatewaySettings
from augur.common.v1 import common_pb2
from augur.contact.v1 import contact_pb2
from augur.gateway.backends import Backends
from augur.gateway.routes import ROUTES
from augur.gateway.v1 import gateway_pb2
from augur.recommend.v1 import recommend_pb2

DEFAULT_ITEMS = 10
ACTION_ITEMS = 5
REPLENISH_DAYS = 7
REPLENISH_MIN_PROBABILITY = 0.3


class Part:
    """The outcome of one backend call: its reply, or why it is missing."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reply: Any = None
        self.missing: gateway_pb2.MissingPart | None = None

    async def fetch(self, call: Awaitable[Any]) -> Part:
        try:
            self.reply = await call
        except AugurError as exc:
            self.missing = gateway_pb2.MissingPart(
                part=self.name, code=exc.code.name, message=exc.message
            )
        return self


def _all_failed(parts: list[Part], customer_id: str) -> None:
    """Every part failed: one error, with the most telling code."""
    codes = {p.missing.code for p in parts if p.missing is not None}
    detail = "; ".join(
        f"{p.name}: {p.missing.code} {p.missing.message}" for p in parts if p.missing is not None
    )
    code = grpc.StatusCode.UNAVAILABLE
    if len(codes) == 1 and next(iter(codes)) in ("NOT_FOUND", "INVALID_ARGUMENT"):
        code = grpc.StatusCode[next(iter(codes))]
    raise Upstream(code, f"no part of the answer for {customer_id} could be fetched: {detail}")


class Composer:
    def __init__(self, settings: GatewaySettings, backends: Backends) -> None:
        self.settings = settings
        self.backends = backends

    def _timeout(self, remaining: float | None) -> float:
        part = self.settings.gateway_part_timeout_ms / 1000
        return part if remaining is None else max(0.001, min(part, remaining))

    def _call(self, rpc: str, request: Message, timeout: float) -> Awaitable[Any]:
        return self.backends.unary(ROUTES[rpc], request, timeout)

    async def customer_insight(
        self, request: gateway_pb2.CustomerInsightRequest, remaining: float | None
    ) -> gateway_pb2.CustomerInsightResponse:
        check_id(request.customer_id, "customer_id")
        n = request.n_recommendations or DEFAULT_ITEMS
        if not 1 <= n <= 100:
            raise InvalidArgument(f"n_recommendations must be 1..100 (0 means 10), got {n}")
        timeout = self._timeout(remaining)
        cid = request.customer_id
        churn, recs, contact = await asyncio.gather(
            Part("churn").fetch(
                self._call(
                    "churn.Score",
                    churn_pb2.ScoreRequest(
                        customer_id=cid, include_reasons=request.include_reasons
                    ),
                    timeout,
                )
            ),
            Part("recommendations").fetch(
                self._call(
                    "recommend.Recommend",
                    recommend_pb2.RecommendRequest(customer_id=cid, n=n),
                    timeout,
                )
            ),
            Part("contact").fetch(
                self._call(
                    "contact.NextBestContact",
                    contact_pb2.NextBestContactRequest(customer_id=cid, purpose=request.purpose),
                    timeout,
                )
            ),
        )
        parts = [churn, recs, contact]
        if all(p.missing is not None for p in parts):
            _all_failed(parts, cid)
        return gateway_pb2.CustomerInsightResponse(
            customer_id=cid,
            churn=churn.reply,
            recommendations=recs.reply,
            contact=contact.reply,
            missing=[p.missing for p in parts if p.missing is not None],
        )

    async def next_best_action(
        self, request: gateway_pb2.NextBestActionRequest, remaining: float | None
    ) -> gateway_pb2.NextBestActionResponse:
        check_id(request.customer_id, "customer_id")
        started = time.monotonic()
        timeout = self._timeout(remaining)
        cid = request.customer_id
        now = request.now if request.HasField("now") else None
        churn, due, recs = await asyncio.gather(
            Part("churn").fetch(
                self._call(
                    "churn.Score",
                    churn_pb2.ScoreRequest(customer_id=cid, include_reasons=True),
                    timeout,
                )
            ),
            Part("replenishment").fetch(
                self._call(
                    "recommend.AnticipateNext",
                    recommend_pb2.AnticipateNextRequest(
                        customer_id=cid, horizon_days=REPLENISH_DAYS, n=ACTION_ITEMS, now=now
                    ),
                    timeout,
                )
            ),
            Part("recommendations").fetch(
                self._call(
                    "recommend.Recommend",
                    recommend_pb2.RecommendRequest(customer_id=cid, n=ACTION_ITEMS),
                    timeout,
                )
            ),
        )
        parts = [churn, due, recs]
        if all(p.missing is not None for p in parts):
            _all_failed(parts, cid)
        action, purpose, items, reason = self._choose(churn, due, recs, now)
        out = gateway_pb2.NextBestActionResponse(
            customer_id=cid, churn=churn.reply, items=items, reason=reason
        )
        if action == gateway_pb2.ACTION_TYPE_DO_NOTHING:
            out.action = action
            out.missing.extend(p.missing for p in parts if p.missing is not None)
            return out
        left = None if remaining is None else remaining - (time.monotonic() - started)
        contact = await Part("contact").fetch(
            self._call(
                "contact.NextBestContact",
                contact_pb2.NextBestContactRequest(customer_id=cid, purpose=purpose, now=now),
                self._timeout(left),
            )
        )
        parts.append(contact)
        out.missing.extend(p.missing for p in parts if p.missing is not None)
        out.action = action
        if contact.reply is not None:
            out.contact.CopyFrom(contact.reply)
            if not contact.reply.contact:
                out.action = gateway_pb2.ACTION_TYPE_DO_NOTHING
                out.reason = f"{reason}; but do not contact now: {contact.reply.reason_text}"
                del out.items[:]
        return out

    def _choose(
        self, churn: Part, due: Part, recs: Part, now: Timestamp | None
    ) -> tuple[
        gateway_pb2.ActionType,
        common_pb2.Purpose,
        list[recommend_pb2.RecommendedItem],
        str,
    ]:
        """(action, contact purpose, items, reason) from the fetched parts."""
        threshold = self.settings.gateway_at_risk_probability
        score = churn.reply
        rec_items = list(recs.reply.items) if recs.reply is not None else []
        if score is not None and score.probability >= threshold:
            drivers = ", ".join(r.feature for r in score.reasons[:2])
            why = f"churn probability {score.probability:.2f} >= {threshold:g}" + (
                f" (driven by {drivers})" if drivers else ""
            )
            return (
                gateway_pb2.ACTION_TYPE_RETENTION,
                common_pb2.PURPOSE_RETENTION,
                rec_items[:ACTION_ITEMS],
                f"at risk: {why}",
            )
        risk = (
            f"churn probability {score.probability:.2f} < {threshold:g}"
            if score is not None
            else "churn score missing"
        )
        horizon = (now.ToDatetime() if now is not None else _utcnow()) + timedelta(
            days=REPLENISH_DAYS
        )
        due_items = [
            recommend_pb2.RecommendedItem(
                item_id=a.item_id,
                score=a.probability,
                source=recommend_pb2.SOURCE_REPEAT,
                reason=f"usually bought again around {a.expected_at.ToDatetime():%Y-%m-%d}",
            )
            for a in (due.reply.items if due.reply is not None else [])
            if a.probability >= REPLENISH_MIN_PROBABILITY and a.window_start.ToDatetime() <= horizon
        ]
        if due_items:
            return (
                gateway_pb2.ACTION_TYPE_REPLENISH,
                common_pb2.PURPOSE_PROMOTION,
                due_items[:ACTION_ITEMS],
                f"{risk}; {len(due_items)} item(s) due for repurchase within {REPLENISH_DAYS} days",
            )
        if rec_items:
            return (
                gateway_pb2.ACTION_TYPE_CROSS_SELL,
                common_pb2.PURPOSE_PROMOTION,
                rec_items[:ACTION_ITEMS],
                f"{risk}; nothing due for repurchase; {len(rec_items)} recommended item(s)",
            )
        return (
            gateway_pb2.ACTION_TYPE_DO_NOTHING,
            common_pb2.PURPOSE_UNSPECIFIED,
            [],
            f"{risk}; nothing due for repurchase and nothing to recommend",
        )


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
