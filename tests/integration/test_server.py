"""The gRPC chassis: health transitions, graceful shutdown, metrics, reflection."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from augur.common.net import free_port
from augur.common.server import AugurServer
from augur.common.settings import ServerSettings
from augur.common.v1 import common_pb2, common_pb2_grpc
from tests.integration.slow_service import slow_spec


async def test_health_is_not_serving_until_dependencies_are_ready(settings: ServerSettings) -> None:
    ready = asyncio.Event()
    server = AugurServer(settings, slow_spec(ready), readiness_interval=0.05)
    port = await server.start(serve_metrics_endpoint=False)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest(service="augur.test.Slow")
            reply = await health.Check(request, timeout=2)
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
            ready.set()
            deadline = time.monotonic() + 2
            while reply.status != health_pb2.HealthCheckResponse.SERVING:
                assert time.monotonic() < deadline, "never became SERVING"
                await asyncio.sleep(0.02)
                reply = await health.Check(request, timeout=2)
            ready.clear()  # a dependency going away flips it back
            await asyncio.sleep(0.2)
            reply = await health.Check(request, timeout=2)
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        await server.stop(0)


async def test_in_flight_call_completes_during_stop(settings: ServerSettings) -> None:
    server = AugurServer(settings, slow_spec())
    port = await server.start(serve_metrics_endpoint=False)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        sleep = channel.unary_unary("/augur.test.Slow/Sleep")
        call = asyncio.ensure_future(sleep(b"0.5", timeout=5))
        await asyncio.sleep(0.1)
        stopping = asyncio.ensure_future(server.stop(grace=3))
        assert await call == b"done"
        await stopping
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await sleep(b"0", timeout=1)
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE


def test_sigterm_lets_the_in_flight_call_finish(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "slow.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.slow_service", str(port)], stderr=log, stdout=log
    )
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=15)
        sleep = channel.unary_unary("/augur.test.Slow/Sleep")
        future = sleep.future(b"1.0", timeout=10)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        assert future.result() == b"done"
        assert proc.wait(10) == 0
        channel.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    logged = (tmp_path / "slow.log").read_text()
    assert '"msg": "stopping"' in logged and '"msg": "stopped"' in logged


async def test_metrics_count_calls_but_not_health_checks(settings: ServerSettings) -> None:
    server = AugurServer(settings, slow_spec())
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            echo = common_pb2_grpc.DiagnosticsServiceStub(channel)
            for _ in range(3):
                reply = await echo.Echo(common_pb2.EchoRequest(payload=b"hi"), timeout=2)
                assert reply.payload == b"hi" and reply.served_by == "slow"
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await echo.Echo(common_pb2.EchoRequest(payload=b"x" * 70000), timeout=2)
            assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
            refl = reflection_pb2_grpc.ServerReflectionStub(channel)
            answers = refl.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")])
            )
            names = [s.name async for a in answers for s in a.list_services_response.service]
            assert (
                "augur.common.v1.DiagnosticsService" in names and "grpc.health.v1.Health" in names
            )
        url = f"http://127.0.0.1:{server.metrics_port}/metrics"
        text = await asyncio.to_thread(
            lambda: urllib.request.urlopen(url, timeout=5).read().decode()
        )
        assert 'augur_grpc_requests_total{code="OK",method="Echo",service="slow"} 3.0' in text
        assert 'code="INVALID_ARGUMENT",method="Echo"' in text
        assert "Check" not in text and "ServerReflectionInfo" not in text
        assert "augur_grpc_request_duration_seconds_bucket" in text
    finally:
        await server.stop(0)
