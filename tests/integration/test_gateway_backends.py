"""The gateway's own calls to a backend over real gRPC: retries wait a jittered back-off, and
a backend that answers UNAVAILABLE itself (its Redis is down) never opens its circuit, while
one that does not answer at all does."""

from __future__ import annotations

import time

import pytest
from grpc import aio

from augur.churn.v1 import churn_pb2, churn_pb2_grpc
from augur.common.errors import Unavailable, Upstream
from augur.common.net import free_port
from augur.common.server import AugurServer, ServiceSpec
from augur.common.settings import GatewaySettings, ServerSettings, load_settings
from augur.gateway.backends import MAX_RETRIES, Backends
from augur.gateway.routes import ROUTES


class _Flaky(churn_pb2_grpc.ChurnServiceServicer):
    """Score says the feature store is unreachable for the first ``failing`` calls."""

    def __init__(self, failing: int) -> None:
        self.failing = failing
        self.calls: list[float] = []

    async def Score(
        self, request: churn_pb2.ScoreRequest, context: aio.ServicerContext
    ) -> churn_pb2.ScoreResponse:
        self.calls.append(time.monotonic())
        if len(self.calls) <= self.failing:
            raise Unavailable("the feature store (Redis) is unreachable; retry shortly")
        return churn_pb2.ScoreResponse(customer_id=request.customer_id, probability=0.5)


def _spec(servicer: _Flaky) -> ServiceSpec:
    def register(server: aio.Server) -> None:
        churn_pb2_grpc.add_ChurnServiceServicer_to_server(servicer, server)

    async def ready() -> bool:
        return True

    return ServiceSpec("churn", ["augur.churn.v1.ChurnService"], register, ready)


def _gateway(settings: ServerSettings, churn_port: int) -> GatewaySettings:
    return load_settings(
        GatewaySettings,
        **{
            **settings.model_dump(),
            "gateway_backends": f"churn=127.0.0.1:{churn_port}",
            "gateway_breaker_failures": 2,
        },
    )


async def test_retries_back_off_and_an_answering_backend_keeps_its_circuit_closed(
    settings: ServerSettings,
) -> None:
    route = ROUTES["churn.Score"]
    request = churn_pb2.ScoreRequest(customer_id="C1")
    servicer = _Flaky(failing=MAX_RETRIES)
    server = AugurServer(settings, _spec(servicer))
    port = await server.start(serve_metrics_endpoint=False)
    backends = Backends(_gateway(settings, port))
    try:
        # one call: its retries (each after a jittered back-off) reach the backend, which answers
        reply = await backends.unary(route, request, 5.0)
        assert reply.probability == 0.5 and len(servicer.calls) == MAX_RETRIES + 1
        assert backends.breakers["churn"].state == "closed"
        # the backend keeps saying its Redis is down: every call still reaches it (never
        # the open circuit's fast failure), each retried at most MAX_RETRIES times
        servicer.failing = 10_000
        before = len(servicer.calls)
        for _ in range(5):
            with pytest.raises(Upstream, match="feature store"):
                await backends.unary(route, request, 5.0)
        assert backends.breakers["churn"].state == "closed"
        assert 5 <= len(servicer.calls) - before <= 5 * (MAX_RETRIES + 1)
    finally:
        await backends.close()
        await server.stop(0)


async def test_a_backend_that_does_not_answer_opens_its_circuit(settings: ServerSettings) -> None:
    backends = Backends(_gateway(settings, free_port()))  # nothing listens there
    route = ROUTES["churn.Score"]
    try:
        with pytest.raises((Upstream, Unavailable)):  # its last retry finds the circuit open
            await backends.unary(route, churn_pb2.ScoreRequest(customer_id="C1"), 2.0)
        assert backends.breakers["churn"].state == "open"
        started = time.monotonic()
        with pytest.raises(Unavailable, match="circuit is open"):
            await backends.unary(route, churn_pb2.ScoreRequest(customer_id="C1"), 2.0)
        assert time.monotonic() - started < 0.5  # the open circuit fails at once
    finally:
        await backends.close()
