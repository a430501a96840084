"""Thin gRPC servicer of augur.churn.v1: convert, call the core, convert back."""

from __future__ import annotations

from collections.abc import AsyncIterator

from grpc import aio

from augur.churn.convert import at_risk_response, batch_response, score_response
from augur.churn.core import ChurnCore
from augur.churn.model import ChurnModel
from augur.churn.v1 import churn_pb2, churn_pb2_grpc
from augur.common.convert import ModelInfoCache, chunks_in_thread, reload_model
from augur.common.models import ModelWatcher


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
        return score_response(score, self._info(loaded))

    async def ScoreBatch(
        self, request: churn_pb2.ScoreBatchRequest, context: aio.ServicerContext
    ) -> AsyncIterator[churn_pb2.ScoreBatchResponse]:
        loaded, chunks = self.core.score_batch(
            list(request.customer_ids), request.include_reasons, request.max_reasons
        )
        info, horizon = self._info(loaded), loaded.model.horizon_days
        async for chunk in chunks_in_thread(chunks):
            yield batch_response(chunk, info, horizon)

    async def ListAtRisk(
        self, request: churn_pb2.ListAtRiskRequest, context: aio.ServicerContext
    ) -> churn_pb2.ListAtRiskResponse:
        page = self.core.list_at_risk(
            request.min_probability, request.page_size, request.page_token, list(request.risk_bands)
        )
        return at_risk_response(page)

    async def ReloadModel(
        self, request: churn_pb2.ReloadModelRequest, context: aio.ServicerContext
    ) -> churn_pb2.ReloadModelResponse:
        info, changed = await reload_model(self.watcher, self._info)
        return churn_pb2.ReloadModelResponse(model=info, changed=changed)
