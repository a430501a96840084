"""Thin gRPC servicer of augur.churn.v1."""

from __future__ import annotations

from collections.abc import AsyncIterator

from grpc import aio

from augur.churn.core import ChurnCore, Score
from augur.churn.model import ChurnModel, Reason
from augur.churn.v1 import churn_pb2, churn_pb2_grpc
from augur.common.convert import ModelInfoCache, timestamp
from augur.common.models import ModelWatcher
from augur.common.v1 import common_pb2

_DIRECTION = {True: churn_pb2.DIRECTION_INCREASES_RISK, False: churn_pb2.DIRECTION_DECREASES_RISK}


def to_proto(score: Score, info: common_pb2.ModelInfo) -> churn_pb2.ScoreResponse:
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
    _add_reasons(response, score.reasons)
    return response


def _add_reasons(response: churn_pb2.ScoreResponse, reasons: list[Reason]) -> None:
    for r in reasons:
        response.reasons.add(
            feature=r.feature,
            value=r.value,
            direction=_DIRECTION[r.contribution > 0],
            contribution=abs(r.contribution),
            text=r.text,
        )


class ChurnServicer(churn_pb2_grpc.ChurnServiceServicer):
    def __init__(self, core: ChurnCore, watcher: ModelWatcher[ChurnModel]) -> None:
        self.core = core
        self.watcher = watcher
        self._info = ModelInfoCache(lambda model: model.feature_set_version)

    async def Score(
        self, request: churn_pb2.ScoreRequest, context: aio.ServicerContext
    ) -> churn_pb2.ScoreResponse:
        score, loaded = self.core.score(
            request.customer_id, request.include_reasons, request.max_reasons
        )
        return to_proto(score, self._info(loaded))

    async def ScoreBatch(
        self, request: churn_pb2.ScoreBatchRequest, context: aio.ServicerContext
    ) -> AsyncIterator[churn_pb2.ScoreBatchResponse]:
        loaded, chunks = self.core.score_batch(
            list(request.customer_ids), request.include_reasons, request.max_reasons
        )
        info = self._info(loaded)
        horizon = loaded.model.horizon_days
        for chunk in chunks:
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
                score.horizon_days = horizon
                score.model.CopyFrom(info)
                as_of = float(chunk.as_of[j])
                score.features_as_of.seconds = int(as_of)
                score.features_as_of.nanos = int((as_of % 1) * 1e9)
                if chunk.reasons is not None:
                    _add_reasons(score, chunk.reasons[j])
                j += 1
            yield response

    async def ListAtRisk(
        self, request: churn_pb2.ListAtRiskRequest, context: aio.ServicerContext
    ) -> churn_pb2.ListAtRiskResponse:
        page = self.core.list_at_risk(
            request.min_probability, request.page_size, request.page_token, list(request.risk_bands)
        )
        loaded = self.watcher.current
        thresholds = self.core._thresholds(loaded.model) if loaded else (0.3, 0.6)
        response = churn_pb2.ListAtRiskResponse(
            next_page_token=page.next_token,
            scored_at=timestamp(page.scored_at),
            total=page.total,
            model=common_pb2.ModelInfo(name=page.model_name, version=page.model_version),
        )
        for c in page.customers:
            band = (
                3 if c.probability >= thresholds[1] else 2 if c.probability >= thresholds[0] else 1
            )
            response.customers.add(
                customer_id=c.customer_id,
                probability=c.probability,
                risk_band=band,
                expected_value=c.value_at_risk / c.probability if c.probability > 0 else 0.0,
                value_at_risk=c.value_at_risk,
                rank=c.rank,
            )
        return response

    async def ReloadModel(
        self, request: churn_pb2.ReloadModelRequest, context: aio.ServicerContext
    ) -> churn_pb2.ReloadModelResponse:
        changed = await self.watcher.refresh()
        return churn_pb2.ReloadModelResponse(
            model=self._info(self.watcher.require()), changed=changed
        )
