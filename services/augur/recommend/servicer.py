"""Thin gRPC servicer of augur.recommend.v1."""

from __future__ import annotations

from collections.abc import AsyncIterator

from grpc import aio

from augur.common.convert import ModelInfoCache, chunks_in_thread, reload_model, timestamp
from augur.common.models import Loaded, ModelWatcher
from augur.common.v1 import common_pb2
from augur.recommend.core import BatchResult, RecommendCore
from augur.recommend.index import DAY, Answer, RecommendIndex
from augur.recommend.v1 import recommend_pb2, recommend_pb2_grpc

STOCK_UNKNOWN = common_pb2.Degradation(
    degraded=True,
    reason="STOCK_UNKNOWN",
    message="stock state is unreachable (Redis); out-of-stock items may be listed",
)


class RecommendServicer(recommend_pb2_grpc.RecommendServiceServicer):
    def __init__(self, core: RecommendCore, watcher: ModelWatcher[RecommendIndex]) -> None:
        self.core = core
        self.watcher = watcher
        self._info = ModelInfoCache()

    def _fill(
        self,
        response: recommend_pb2.RecommendResponse,
        answer: Answer,
        loaded: Loaded[RecommendIndex],
    ) -> None:
        index = loaded.model
        ids, categories, add = index.item_ids, index.item_category_names, response.items.add
        for item, score, source, reason in answer.picks:  # the hot loop of BatchRecommend
            add(
                item_id=ids[item],
                score=score,
                source=source,  # type: ignore[arg-type]
                reason=reason,
                category=categories[item],
            )
        for new in answer.added:  # catalogue additions the model does not know
            add(
                item_id=new.item_id,
                score=new.score,
                source=recommend_pb2.SOURCE_NEW_IN_CATALOGUE,
                reason=new.reason,
                category=new.category,
            )
        response.model.CopyFrom(self._info(loaded))
        response.cold_start = answer.cold_start
        if not answer.stock_known:
            response.degradation.CopyFrom(STOCK_UNKNOWN)

    async def Recommend(
        self, request: recommend_pb2.RecommendRequest, context: aio.ServicerContext
    ) -> recommend_pb2.RecommendResponse:
        answer, loaded = self.core.recommend(
            request.customer_id,
            request.n,
            request.context_item_ids,
            request.exclude_item_ids,
            request.categories,
            request.include_repeat if request.HasField("include_repeat") else True,
        )
        response = recommend_pb2.RecommendResponse(customer_id=request.customer_id)
        self._fill(response, answer, loaded)
        return response

    async def SimilarItems(
        self, request: recommend_pb2.SimilarItemsRequest, context: aio.ServicerContext
    ) -> recommend_pb2.SimilarItemsResponse:
        picks, loaded = self.core.similar(request.item_id, request.n)
        response = recommend_pb2.SimilarItemsResponse(
            item_id=request.item_id, model=self._info(loaded)
        )
        ids = loaded.model.item_ids
        for pick in picks:
            response.items.add(item_id=ids[pick.item], score=pick.score, reason=pick.reason)
        return response

    async def AnticipateNext(
        self, request: recommend_pb2.AnticipateNextRequest, context: aio.ServicerContext
    ) -> recommend_pb2.AnticipateNextResponse:
        now = request.now.seconds + request.now.nanos / 1e9 if request.HasField("now") else None
        due, loaded = self.core.anticipate(
            request.customer_id, request.horizon_days, request.n, now
        )
        response = recommend_pb2.AnticipateNextResponse(
            customer_id=request.customer_id, model=self._info(loaded)
        )
        ids = loaded.model.item_ids
        for d in due:
            every = max(round(d.interval_days), 1)
            response.items.add(
                item_id=ids[d.item],
                expected_at=timestamp(d.expected_day * DAY),
                window_start=timestamp(d.window_start_day * DAY),
                window_end=timestamp(d.window_end_day * DAY),
                probability=d.probability,
                last_purchased_at=timestamp(d.last_day * DAY),
                typical_interval_days=d.interval_days,
                reason=f"Bought about every {every} days",
            )
        return response

    async def BatchRecommend(
        self, request: recommend_pb2.BatchRecommendRequest, context: aio.ServicerContext
    ) -> AsyncIterator[recommend_pb2.BatchRecommendResponse]:
        loaded, chunks = self.core.batch(
            list(request.customer_ids),
            request.n,
            list(request.categories),
            request.include_repeat if request.HasField("include_repeat") else True,
        )

        def response(chunk: list[BatchResult]) -> recommend_pb2.BatchRecommendResponse:
            out = recommend_pb2.BatchRecommendResponse()
            for result in chunk:
                item = out.items.add(customer_id=result.customer_id)
                if result.answer is None:
                    item.error.code = "INVALID_ARGUMENT"
                    item.error.message = result.error
                    continue
                item.recommendations.customer_id = result.customer_id
                self._fill(item.recommendations, result.answer, loaded)
            return out

        async for chunk in chunks_in_thread(map(response, chunks)):  # built in the thread too
            yield chunk

    async def ReloadModel(
        self, request: recommend_pb2.ReloadModelRequest, context: aio.ServicerContext
    ) -> recommend_pb2.ReloadModelResponse:
        info, changed = await reload_model(self.watcher, self._info)
        return recommend_pb2.ReloadModelResponse(model=info, changed=changed)
