"""The churn service over real gRPC: scores, reasons, batch, at-risk list, hot swap, errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from augur.churn.main import MODEL_NAME, build_spec
from augur.churn.model import ChurnModel
from augur.churn.snapshot import RedisSnapshots
from augur.churn.v1 import churn_pb2, churn_pb2_grpc
from augur.common.server import AugurServer
from augur.common.settings import ChurnSettings, ServerSettings, load_settings
from augur.features.store import RedisFeatureStore
from augur.training import registry
from augur.training.data.loader import load_dataset
from augur.training.offline.batch import materialise
from augur.training.offline.stream import compute_features
from augur.training.registry import TrainReport
from tests.integration.hot_swap import swap_under_load


def churn_settings(settings: ServerSettings, uri: str, tmp: Path, **extra: object) -> ChurnSettings:
    return load_settings(
        ChurnSettings,
        **{
            **settings.model_dump(),
            "mlflow_tracking_uri": uri,
            "state_dir": tmp / "state",
            "model_poll_seconds": 0.2,
            **extra,
        },
    )


@pytest.fixture
async def churn(
    settings: ServerSettings,
    churn_trained: tuple[str, Path, TrainReport],
    shop_data: Path,
    tmp_path: Path,
) -> AsyncIterator[tuple[churn_pb2_grpc.ChurnServiceStub, ChurnSettings]]:
    uri, _, _ = churn_trained
    cs = churn_settings(settings, uri, tmp_path)
    ds = load_dataset(shop_data)
    materialise(
        compute_features(ds, ds.orders["timestamp"].max()), RedisFeatureStore.from_settings(cs)
    )
    server = AugurServer(cs, await build_spec(cs), readiness_interval=0.05)
    port = await server.start(serve_metrics_endpoint=False)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield churn_pb2_grpc.ChurnServiceStub(channel), cs
    await server.stop(0)


async def test_score_with_reasons_and_errors(
    churn: tuple[churn_pb2_grpc.ChurnServiceStub, ChurnSettings],
    churn_trained: tuple[str, Path, TrainReport],
) -> None:
    stub, _ = churn
    reply = await stub.Score(
        churn_pb2.ScoreRequest(customer_id="C0000001", include_reasons=True, max_reasons=4),
        timeout=5,
    )
    assert 0 < reply.probability < 1 and reply.risk_band != churn_pb2.RISK_BAND_UNSPECIFIED
    assert reply.value_at_risk == pytest.approx(reply.probability * reply.expected_value)
    assert reply.model.name == MODEL_NAME and reply.model.version == churn_trained[2].version
    assert len(reply.reasons) == 4 and all(r.text for r in reply.reasons)
    assert reply.features_as_of.seconds > 0 and reply.horizon_days == 90
    plain = await stub.Score(churn_pb2.ScoreRequest(customer_id="C0000001"), timeout=5)
    assert not plain.reasons and plain.probability == reply.probability
    cases = [
        (churn_pb2.ScoreRequest(customer_id="nobody"), grpc.StatusCode.NOT_FOUND, "no features"),
        (churn_pb2.ScoreRequest(customer_id=""), grpc.StatusCode.INVALID_ARGUMENT, "required"),
        (
            churn_pb2.ScoreRequest(customer_id="C0000001", include_reasons=True, max_reasons=21),
            grpc.StatusCode.INVALID_ARGUMENT,
            "max_reasons",
        ),
    ]
    for request, code, text in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Score(request, timeout=5)
        assert err.value.code() is code and text in (err.value.details() or "")


async def test_score_batch_streams_in_order_with_item_errors(
    churn: tuple[churn_pb2_grpc.ChurnServiceStub, ChurnSettings],
) -> None:
    stub, _ = churn
    ids = [f"C{i:07d}" for i in range(1500)] + ["ghost"]
    chunks = [
        r async for r in stub.ScoreBatch(churn_pb2.ScoreBatchRequest(customer_ids=ids), timeout=20)
    ]
    assert len(chunks) == 2 and len(chunks[0].items) == 1000
    items = [item for chunk in chunks for item in chunk.items]
    assert [r.customer_id for r in items] == ids
    assert items[-1].WhichOneof("result") == "error" and items[-1].error.code == "NOT_FOUND"
    assert sum(r.WhichOneof("result") == "score" for r in items) >= 1400
    for bad in ([], ["x"] * 10_001):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for _ in stub.ScoreBatch(
                churn_pb2.ScoreBatchRequest(customer_ids=bad), timeout=5
            ):
                pass
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_at_risk_list_pages_by_value_at_risk(
    churn: tuple[churn_pb2_grpc.ChurnServiceStub, ChurnSettings],
    churn_trained: tuple[str, Path, TrainReport],
) -> None:
    stub, cs = churn
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListAtRisk(churn_pb2.ListAtRiskRequest(), timeout=5)
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "augur score --all" in (err.value.details() or "")
    store = RedisFeatureStore.from_settings(cs)
    uri, root, report = churn_trained
    registry.configure(uri, root, "augur-churn")
    model = ChurnModel.load(
        registry.download(MODEL_NAME, report.version, root / "models") / "artifacts" / "model"
    )
    _, count = RedisSnapshots(store.client, store.keys).publish(model, MODEL_NAME, report.version)
    assert count == 2000
    seen, token, values = [], "", []
    for _ in range(3):
        page = await stub.ListAtRisk(
            churn_pb2.ListAtRiskRequest(min_probability=0.5, page_size=50, page_token=token),
            timeout=5,
        )
        assert all(c.probability >= 0.5 for c in page.customers)
        seen += [c.customer_id for c in page.customers]
        values += [c.value_at_risk for c in page.customers]
        token = page.next_page_token
    assert len(seen) == len(set(seen)) == 150
    assert values == sorted(values, reverse=True)
    assert page.total >= 150 and page.model.version == report.version
    high = await stub.ListAtRisk(
        churn_pb2.ListAtRiskRequest(risk_bands=[churn_pb2.RISK_BAND_HIGH], page_size=1000),
        timeout=5,
    )
    assert all(c.risk_band == churn_pb2.RISK_BAND_HIGH for c in high.customers)
    for request in (
        churn_pb2.ListAtRiskRequest(page_size=5000),
        churn_pb2.ListAtRiskRequest(page_token="not-a-token!"),
        churn_pb2.ListAtRiskRequest(min_probability=1.5),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListAtRisk(request, timeout=5)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_hot_swap_under_load_fails_no_request(
    churn: tuple[churn_pb2_grpc.ChurnServiceStub, ChurnSettings],
    churn_trained: tuple[str, Path, TrainReport],
) -> None:
    stub, _ = churn
    uri, _, report = churn_trained
    versions, failures, copy = await swap_under_load(
        uri,
        MODEL_NAME,
        report.version,
        lambda i: stub.Score(
            churn_pb2.ScoreRequest(customer_id=f"C{i:07d}", include_reasons=True), timeout=5
        ),
    )
    assert not failures
    assert versions == {report.version, copy}
    final = await stub.Score(churn_pb2.ScoreRequest(customer_id="C0000001"), timeout=5)
    assert final.model.version == report.version


async def test_no_model_means_not_serving_and_unavailable(
    settings: ServerSettings, tmp_path: Path
) -> None:
    cs = churn_settings(settings, f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    server = AugurServer(cs, await build_spec(cs), readiness_interval=0.05)
    port = await server.start(serve_metrics_endpoint=False)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await asyncio.sleep(0.2)
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="augur.churn.v1.ChurnService"), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await churn_pb2_grpc.ChurnServiceStub(channel).Score(
                    churn_pb2.ScoreRequest(customer_id="C0000001"), timeout=5
                )
            assert err.value.code() is grpc.StatusCode.UNAVAILABLE
            assert "no model loaded" in (err.value.details() or "")
    finally:
        await server.stop(0)


async def test_redis_down_is_unavailable_never_a_made_up_score(
    settings: ServerSettings, churn_trained: tuple[str, Path, TrainReport], tmp_path: Path
) -> None:
    cs = churn_settings(settings, churn_trained[0], tmp_path, redis_url="redis://127.0.0.1:1/0")
    server = AugurServer(cs, await build_spec(cs), readiness_interval=0.05)
    port = await server.start(serve_metrics_endpoint=False)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = churn_pb2_grpc.ChurnServiceStub(channel)
            started = time.monotonic()
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Score(churn_pb2.ScoreRequest(customer_id="C0000001"), timeout=5)
            assert err.value.code() is grpc.StatusCode.UNAVAILABLE
            assert time.monotonic() - started < 1.0
    finally:
        await server.stop(0)
