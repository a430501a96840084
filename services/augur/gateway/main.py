"""Wiring of the gateway: nginx in front, the gateway's Python server behind it.

The Python process (one; nginx's workers carry the pass-through load) serves the
composition RPCs and health over gRPC and REST/JSON + the OpenAPI document over HTTP, both
on loopback ports only nginx talks to; it starts nginx, keeps nginx's key map in step with
Redis, watches every backend's health, and turns nginx's access log into metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry

from augur.common.net import free_port
from augur.common.server import ServiceSpec, run
from augur.common.settings import GatewaySettings, load_settings
from augur.features.store import RedisFeatureStore
from augur.gateway.access import AccessMetrics, listen
from augur.gateway.backends import Backends
from augur.gateway.compose import Composer
from augur.gateway.front import Front, Ports
from augur.gateway.keys import KeyStore
from augur.gateway.planning import planner_over
from augur.gateway.rest import RestApi
from augur.gateway.routes import SERVICES
from augur.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from augur.outreach.plan import Planner

log = logging.getLogger("augur.gateway")
HEALTH_INTERVAL = 0.5


class GatewayServicer(gateway_pb2_grpc.GatewayServiceServicer):
    def __init__(self, composer: Composer, planner: Planner) -> None:
        self.composer = composer
        self.planner = planner

    async def CustomerInsight(
        self, request: gateway_pb2.CustomerInsightRequest, context: aio.ServicerContext
    ) -> gateway_pb2.CustomerInsightResponse:
        return await self.composer.customer_insight(request, context.time_remaining())

    async def NextBestAction(
        self, request: gateway_pb2.NextBestActionRequest, context: aio.ServicerContext
    ) -> gateway_pb2.NextBestActionResponse:
        return await self.composer.next_best_action(request, context.time_remaining())

    async def PlanOutreach(
        self, request: gateway_pb2.PlanOutreachRequest, context: aio.ServicerContext
    ) -> gateway_pb2.PlanOutreachResponse:
        return await self.planner.plan(request)


@dataclass
class GatewayPorts:
    """The public ports (nginx) and the loopback ports of the Python server."""

    grpc: int
    http: int
    core_grpc: int
    core_http: int


class Gateway:
    """One gateway: its nginx front, its Python server, its background duties."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.public = settings
        self.ports = GatewayPorts(
            settings.grpc_port or free_port(),
            settings.gateway_http_port or free_port(),
            free_port(),
            free_port(),
        )
        # the Python server: loopback, plaintext (nginx terminates TLS), one process
        self.core = settings.model_copy(
            update={
                "grpc_host": "127.0.0.1",
                "grpc_port": self.ports.core_grpc,
                "processes": 1,
                "tls_cert_file": "",
                "tls_key_file": "",
                "tls_client_ca_file": "",
            }
        )
        self.store = RedisFeatureStore.from_settings(settings)
        self.keys = KeyStore(self.store)
        self.backend_health: dict[str, str] = {name: "UNKNOWN" for name in settings.backends()}
        self.front: Front | None = None
        self._runner: web.AppRunner | None = None
        self._receiver: Any = None

    async def spec(self, registry: CollectorRegistry) -> ServiceSpec:
        self.metrics = AccessMetrics(registry)
        # gRPC channels belong to the running event loop: made here, not in __init__
        self.backends = Backends(self.public)
        self.composer = Composer(self.public, self.backends)
        self.planner = planner_over(self.backends, self.store)
        rest = RestApi(
            self.public,
            self.backends,
            {
                "gateway.CustomerInsight": self.composer.customer_insight,
                "gateway.NextBestAction": self.composer.next_best_action,
                "gateway.PlanOutreach": lambda request, _remaining: self.planner.plan(request),
            },
            lambda: dict(self.backend_health),
        )

        def register(server: aio.Server) -> None:
            gateway_pb2_grpc.add_GatewayServiceServicer_to_server(
                GatewayServicer(self.composer, self.planner), server
            )

        async def ready() -> bool:
            return self.front is not None and self.front.alive() and self.store.ping()

        def dependencies() -> dict[str, bool]:
            return {
                SERVICES[name]: state == "SERVING" for name, state in self.backend_health.items()
            }

        async def duties() -> None:
            await self._start(rest)
            await self._watch()

        return ServiceSpec(
            "gateway",
            [SERVICES["gateway"]],
            register,
            ready,
            self.close,
            [duties],
            dependencies,
        )

    async def _start(self, rest: RestApi) -> None:
        self._receiver, access_port = await listen(self.metrics)
        self._runner = web.AppRunner(rest.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.ports.core_http).start()
        host = self.public.grpc_host
        ports = Ports(
            f"{host}:{self.ports.grpc}",
            f"{host}:{self.ports.http}",
            f"127.0.0.1:{self.ports.core_grpc}",
            f"127.0.0.1:{self.ports.core_http}",
            f"127.0.0.1:{access_port}",
        )
        prefix = self.public.state_dir / "gateway" / f"front-{self.ports.grpc}"
        self.front = Front(self.public, ports, prefix)
        records = await asyncio.to_thread(self.keys.records)
        self.front.start(records)
        log.info(
            "front started",
            extra={"grpc_port": self.ports.grpc, "http_port": self.ports.http, "prefix": prefix},
        )

    async def _watch(self) -> None:
        """Backend health every HEALTH_INTERVAL; the key map every key-refresh period."""
        assert self.front is not None
        stubs = {
            name: health_pb2_grpc.HealthStub(channel)
            for name, channel in self.backends.channels.items()
        }
        loop = asyncio.get_running_loop()
        next_keys = loop.time() + self.public.gateway_key_refresh_seconds
        while True:
            for name, stub in stubs.items():
                try:
                    reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                    state = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
                except aio.AioRpcError as exc:
                    state = exc.code().name
                self.backend_health[name] = state
                self.metrics.backend_serving.labels(name).set(int(state == "SERVING"))
            if loop.time() >= next_keys:
                next_keys = loop.time() + self.public.gateway_key_refresh_seconds
                with contextlib.suppress(Exception):  # Redis away: keep the last key map
                    if self.front.update_keys(await asyncio.to_thread(self.keys.records)):
                        log.info("key map reloaded")
            await asyncio.sleep(HEALTH_INTERVAL)

    async def close(self) -> None:
        if self.front is not None:
            await asyncio.to_thread(self.front.stop)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._receiver is not None:
            self._receiver.close()
        if hasattr(self, "backends"):
            await self.backends.close()
        self.store.close()


def serve() -> None:
    """Entry point of `augur serve gateway`."""
    gateway = Gateway(load_settings(GatewaySettings))

    async def build(settings: object, registry: CollectorRegistry) -> ServiceSpec:
        return await gateway.spec(registry)

    run(gateway.core, build, "gateway")
