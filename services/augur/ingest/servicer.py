"""Thin gRPC servicer of augur.features.v1: converts, calls the core, converts back."""

from __future__ import annotations

import redis
from grpc import aio

from augur.common.convert import timestamp
from augur.common.errors import NotFound, Unavailable
from augur.common.ids import check_id
from augur.features.definitions import FEATURE_NAMES
from augur.features.store import RedisFeatureStore
from augur.features.v1 import features_pb2, features_pb2_grpc
from augur.ingest.consumer import GROUP
from augur.ingest.ingest import Ingestor

_ACCEPTED = features_pb2.INGEST_STATUS_ACCEPTED
_DUPLICATE = features_pb2.INGEST_STATUS_DUPLICATE


class FeatureServicer(features_pb2_grpc.FeatureServiceServicer):
    """IngestEvents, GetFeatures, GetIngestionStatus."""

    def __init__(self, ingestor: Ingestor, store: RedisFeatureStore, shards: int) -> None:
        self.ingestor = ingestor
        self.store = store
        self.shards = shards

    async def IngestEvents(
        self, request: features_pb2.IngestEventsRequest, context: aio.ServicerContext
    ) -> features_pb2.IngestEventsResponse:
        result = self.ingestor.ingest(request.events)
        response = features_pb2.IngestEventsResponse()
        for event, ok in zip(request.events, result.accepted, strict=True):
            response.results.add(event_id=event.event_id, status=_ACCEPTED if ok else _DUPLICATE)
        response.accepted = sum(result.accepted)
        response.duplicates = len(result.accepted) - response.accepted
        return response

    async def GetFeatures(
        self, request: features_pb2.GetFeaturesRequest, context: aio.ServicerContext
    ) -> features_pb2.GetFeaturesResponse:
        check_id(request.customer_id, "customer_id")
        vector = self.store.get(request.customer_id)
        if vector is None:
            raise NotFound("no online features for this customer")
        return features_pb2.GetFeaturesResponse(
            customer_id=request.customer_id,
            feature_set_version=vector.version,
            names=FEATURE_NAMES,
            values=vector.values.tolist(),
            as_of=timestamp(vector.as_of),
        )

    async def GetIngestionStatus(
        self, request: features_pb2.GetIngestionStatusRequest, context: aio.ServicerContext
    ) -> features_pb2.GetIngestionStatusResponse:
        response = features_pb2.GetIngestionStatusResponse()
        client = self.store.client
        try:
            for shard in range(self.shards):
                key = self.store.keys.stream(shard)
                length = int(client.xlen(key))
                lag, pending = length, 0  # no consumer group yet: nothing was consumed
                if length or client.exists(key):
                    for group in client.xinfo_groups(key):
                        if group["name"] in (GROUP, GROUP.encode()):
                            lag, pending = int(group.get("lag") or 0), int(group["pending"])
                response.shards.add(shard=shard, length=length, lag=lag, pending=pending)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            raise Unavailable("the event stream (Redis) is unreachable") from None
        return response
