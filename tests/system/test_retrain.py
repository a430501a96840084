"""`augur retrain --all` against an MLflow tracking server backed by PostgreSQL (the one on
127.0.0.1:5432, a database of its own): the three models trained, gated and promoted, the
at-risk snapshot and the drift report written; a churn service watching that server picks the
champion up by itself and swaps versions under load with no failed request."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from augur.churn.main import build_spec as build_churn
from augur.churn.v1 import churn_pb2, churn_pb2_grpc
from augur.common.net import free_port
from augur.common.server import AugurServer
from augur.common.settings import ChurnSettings, ServerSettings, load_settings
from augur.features.store import RedisFeatureStore
from augur.training.data.loader import load_dataset
from augur.training.drift import psi
from augur.training.offline.batch import materialise
from augur.training.offline.stream import compute_features
from augur.training.retrain import retrain_all
from tests.integration.hot_swap import swap_under_load
from tests.stack_fixtures import wait_http


@pytest.fixture
async def mlflow_on_postgres(mlflow_database: str, tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    mlflow = shutil.which("mlflow") or str(Path(os.sys.executable).parent / "mlflow")
    log = tmp_path / "mlflow-server.log"
    proc = await asyncio.create_subprocess_exec(
        mlflow,
        "server",
        "--backend-store-uri",
        mlflow_database,
        "--artifacts-destination",
        str(tmp_path / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_http(f"{url}/health", 90, proc, log)
        yield url
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 15)


def test_psi_reads_stable_and_shifted_distributions() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=20_000)
    assert psi(base, rng.normal(size=20_000)) < 0.01
    assert 0.1 < psi(base, rng.normal(0.5, 1, size=20_000)) < 0.5
    assert psi(base, rng.normal(2, 1, size=20_000)) > 1.0
    with_gaps = np.where(rng.random(20_000) < 0.1, np.nan, base)
    assert psi(with_gaps, base) > psi(with_gaps, with_gaps) + 0.05


async def test_retrain_all_on_postgres_backed_mlflow_reaches_a_running_service(
    settings: ServerSettings, shop_data: Path, tmp_path: Path, mlflow_on_postgres: str
) -> None:
    uri = mlflow_on_postgres
    store = RedisFeatureStore.from_settings(settings)
    ds = load_dataset(shop_data)
    materialise(compute_features(ds, ds.orders["timestamp"].max()), store)
    churn_settings = load_settings(
        ChurnSettings,
        **{
            **settings.model_dump(),
            "mlflow_tracking_uri": uri,
            "model_poll_seconds": 0.3,
            "state_dir": tmp_path / "churn-state",
        },
    )
    server = AugurServer(churn_settings, await build_churn(churn_settings), readiness_interval=0.05)
    port = await server.start(serve_metrics_endpoint=False)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = churn_pb2_grpc.ChurnServiceStub(channel)
    customers = sorted(set(ds.orders["customer_id"]))
    try:
        with pytest.raises(grpc.aio.AioRpcError) as err:  # no champion anywhere yet
            await stub.Score(churn_pb2.ScoreRequest(customer_id=customers[0]), timeout=5)
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE

        summary = await asyncio.to_thread(
            retrain_all, shop_data, uri, tmp_path / "retrain-state", store, False, lambda _: None
        )
        assert summary.ok, [s.error for s in summary.steps]
        assert [s.kind for s in summary.steps] == ["churn", "recommend", "contact"]
        assert all(s.report is not None and s.report.promoted for s in summary.steps)
        assert summary.snapshot is not None and summary.snapshot[1] >= len(customers)
        assert summary.drift is not None and summary.drift.score < 0.1  # same data both sides
        assert set(store.client.hkeys(store.keys.drift())) >= {b"score", b"_at", b"orders_total"}
        assert summary.peak_rss_mib > 0

        version = summary.steps[0].report.version  # type: ignore[union-attr]
        deadline = time.monotonic() + 20
        while True:  # the running service finds the champion by itself
            try:
                reply = await stub.Score(
                    churn_pb2.ScoreRequest(customer_id=customers[0]), timeout=5
                )
                break
            except grpc.aio.AioRpcError:
                assert time.monotonic() < deadline, "the service never loaded the champion"
                await asyncio.sleep(0.2)
        assert reply.model.version == version

        async def call(_: int) -> Any:
            request = churn_pb2.ScoreRequest(customer_id=random.choice(customers))
            return await stub.Score(request, timeout=5)

        versions, failures, copy = await swap_under_load(uri, "augur-churn", version, call)
        assert not failures
        assert {version, copy} <= versions
    finally:
        await channel.close()
        await server.stop(0)
