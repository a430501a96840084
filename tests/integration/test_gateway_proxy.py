"""The gateway's gRPC pass-through over real sockets: API keys, scopes, rate limits,
deadlines and an unreachable backend, in front of a real features service."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from augur.contact.v1 import contact_pb2, contact_pb2_grpc
from augur.features.v1 import features_pb2, features_pb2_grpc
from services.common.features.store import RedisFeatureStore
from services.common.server import AugurServer
from services.common.settings import GatewaySettings, ServerSettings, load_settings
from services.features.main import build_spec as build_features
from services.gateway.keys import KeyStore
from services.gateway.main import build_spec as build_gateway
from tests.integration.rpc import expect

pytestmark = pytest.mark.integration


async def test_pass_through_with_keys_scopes_limits_and_a_missing_backend(
    settings: ServerSettings, tmp_path: Path
) -> None:
    backend = AugurServer(settings, await build_features(settings))
    bport = await backend.start(serve_metrics_endpoint=False)
    gs = load_settings(
        GatewaySettings,
        **{
            **settings.model_dump(),
            "gateway_backends": f"features=127.0.0.1:{bport},contact=127.0.0.1:1",
            "gateway_rate_per_second": 5.0,
            "gateway_burst": 5,
            "gateway_key_cache_seconds": 0.0,
        },
    )
    keys = KeyStore(RedisFeatureStore.from_settings(gs))
    _, reader = keys.create("analytics", ["features.GetFeatures", "contact"])
    _, shop = keys.create("storefront", ["recommend"])
    gateway = AugurServer(gs, await build_gateway(gs))
    gport = await gateway.start(serve_metrics_endpoint=False)
    request = features_pb2.GetFeaturesRequest(customer_id="nobody-here")
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{gport}") as via,
        grpc.aio.insecure_channel(f"127.0.0.1:{bport}") as direct,
    ):
        stub = features_pb2_grpc.FeatureServiceStub(via)
        await expect(
            grpc.StatusCode.UNAUTHENTICATED, stub.GetFeatures(request), "API key is required"
        )
        await expect(
            grpc.StatusCode.PERMISSION_DENIED,
            stub.GetFeatures(request, metadata=(("x-api-key", shop),)),
            "needs scope features",
        )
        # the backend's own answer comes back unchanged (here NOT_FOUND for an unknown id)
        with pytest.raises(grpc.aio.AioRpcError) as direct_err:
            await features_pb2_grpc.FeatureServiceStub(direct).GetFeatures(request)
        with pytest.raises(grpc.aio.AioRpcError) as via_err:
            await stub.GetFeatures(request, metadata=(("authorization", f"Bearer {reader}"),))
        assert via_err.value.code() == direct_err.value.code()
        assert via_err.value.details() == direct_err.value.details()
        # burst of 5, then RESOURCE_EXHAUSTED with retry-after
        await asyncio.sleep(1.1)
        codes, retry = [], None
        for _ in range(8):
            try:
                await stub.GetFeatures(request, metadata=(("x-api-key", reader),))
                codes.append(grpc.StatusCode.OK)
            except grpc.aio.AioRpcError as exc:
                codes.append(exc.code())
                if exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                    retry = dict(exc.trailing_metadata() or ()).get("retry-after")
        assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 2 and retry is not None
        assert float(retry) > 0
        await asyncio.sleep(1.0)
        # a configured backend that is down: UNAVAILABLE naming the service
        await expect(
            grpc.StatusCode.UNAVAILABLE,
            contact_pb2_grpc.ContactServiceStub(via).GetContactPolicy(
                contact_pb2.GetContactPolicyRequest(), metadata=(("x-api-key", reader),), timeout=3
            ),
            "contact service is unavailable",
        )
        # a service with no backend at all
        _, ops = keys.create("ops", ["admin"])
        from augur.churn.v1 import churn_pb2, churn_pb2_grpc

        await expect(
            grpc.StatusCode.UNAVAILABLE,
            churn_pb2_grpc.ChurnServiceStub(via).Score(
                churn_pb2.ScoreRequest(customer_id="c"), metadata=(("x-api-key", ops),)
            ),
            "no backend is configured for the churn service",
        )
    await gateway.stop(0)
    await backend.stop(0)


async def test_server_streaming_rpcs_pass_through_unchanged(
    settings: ServerSettings, recommend_trained, shop_data: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from augur.recommend.v1 import recommend_pb2, recommend_pb2_grpc
    from services.common.settings import RecommendSettings
    from services.recommend.main import build_spec as build_recommend
    from training.data.loader import load_dataset

    ds = load_dataset(shop_data)
    rs = load_settings(
        RecommendSettings,
        **{
            **settings.model_dump(),
            "mlflow_tracking_uri": recommend_trained[0],
            "state_dir": tmp_path / "state",
            "recommend_as_of": ds.orders["timestamp"].max().isoformat(),
            "recommend_stock_filter": False,
        },
    )
    backend = AugurServer(rs, await build_recommend(rs))
    bport = await backend.start(serve_metrics_endpoint=False)
    gs = load_settings(
        GatewaySettings,
        **{**settings.model_dump(), "gateway_backends": f"recommend=127.0.0.1:{bport}"},
    )
    _, token = KeyStore(RedisFeatureStore.from_settings(gs)).create("shop", ["recommend"])
    gateway = AugurServer(gs, await build_gateway(gs))
    gport = await gateway.start(serve_metrics_endpoint=False)
    customers = sorted(set(ds.orders["customer_id"]))
    request = recommend_pb2.BatchRecommendRequest(customer_ids=customers, n=5)
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{gport}") as via,
        grpc.aio.insecure_channel(f"127.0.0.1:{bport}") as direct,
    ):
        through = [
            c
            async for c in recommend_pb2_grpc.RecommendServiceStub(via).BatchRecommend(
                request, metadata=(("x-api-key", token),)
            )
        ]
        plain = [
            c async for c in recommend_pb2_grpc.RecommendServiceStub(direct).BatchRecommend(request)
        ]
    assert len(through) == len(plain) >= 2  # chunks of 1,000
    for a, b in zip(through, plain, strict=True):
        assert [i.customer_id for i in a.items] == [i.customer_id for i in b.items]
        assert [[r.item_id for r in i.recommendations.items] for i in a.items] == [
            [r.item_id for r in i.recommendations.items] for i in b.items
        ]
    await gateway.stop(0)
    await backend.stop(0)
