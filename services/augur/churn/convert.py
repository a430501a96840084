"""Churn core results -> augur.churn.v1 messages."""

from __future__ import annotations

from augur.churn.core import Score, ScoredChunk
from augur.churn.model import Reason
from augur.churn.snapshot import Page
from augur.churn.v1 import churn_pb2
from augur.common.convert import timestamp
from augur.common.v1 import common_pb2

_DIRECTION = {True: churn_pb2.DIRECTION_INCREASES_RISK, False: churn_pb2.DIRECTION_DECREASES_RISK}


def score_response(score: Score, info: common_pb2.ModelInfo) -> churn_pb2.ScoreResponse:
    response = churn_pb2.ScoreResponse(
        customer_id=score.customer_id,
        probability=score.probability,
        risk_band=score.risk_band,  # type: ignore[arg-type]
        expected_value=score.expected_value,
        value_at_risk=score.value_at_risk,
        model=info,
        features_as_of=timestamp(score.features_as_of),
        horizon_days=score.horizon_days,
    )
    add_reasons(response, score.reasons)
    return response


def add_reasons(response: churn_pb2.ScoreResponse, reasons: list[Reason]) -> None:
    for r in reasons:
        response.reasons.add(
            feature=r.feature,
            value=r.value,
            direction=_DIRECTION[r.contribution > 0],
            contribution=abs(r.contribution),
            text=r.text,
        )


def batch_response(
    chunk: ScoredChunk, info: common_pb2.ModelInfo, horizon_days: int
) -> churn_pb2.ScoreBatchResponse:
    """One streamed message: every id of the chunk, in order, scored or NOT_FOUND."""
    response = churn_pb2.ScoreBatchResponse()
    j = 0
    for cid, found in zip(chunk.customer_ids, chunk.found, strict=True):
        item = response.items.add(customer_id=cid)
        if not found:
            item.error.code = "NOT_FOUND"
            item.error.message = "no features for this customer"
            continue
        score = item.score
        p, value = float(chunk.probability[j]), float(chunk.expected_value[j])
        score.customer_id = cid
        score.probability = p
        score.risk_band = int(chunk.band[j])  # type: ignore[assignment]
        score.expected_value = value
        score.value_at_risk = p * value
        score.horizon_days = horizon_days
        score.model.CopyFrom(info)
        as_of = float(chunk.as_of[j])
        score.features_as_of.seconds = int(as_of)
        score.features_as_of.nanos = int((as_of % 1) * 1e9)
        if chunk.reasons is not None:
            add_reasons(score, chunk.reasons[j])
        j += 1
    return response


def at_risk_response(page: Page) -> churn_pb2.ListAtRiskResponse:
    """A page of the snapshot; each row banded by the thresholds the snapshot was scored with."""
    response = churn_pb2.ListAtRiskResponse(
        next_page_token=page.next_token,
        scored_at=timestamp(page.scored_at),
        total=page.total,
        model=common_pb2.ModelInfo(name=page.model_name, version=page.model_version),
    )
    for c in page.customers:
        response.customers.add(
            customer_id=c.customer_id,
            probability=c.probability,
            risk_band=page.bands.of(c.probability),  # type: ignore[arg-type]
            expected_value=c.value_at_risk / c.probability if c.probability > 0 else 0.0,
            value_at_risk=c.value_at_risk,
            rank=c.rank,
        )
    return response
