"""The gRPC server chassis shared by every Augur service.

``AugurServer`` is built from settings and a ``ServiceSpec`` (the service's
servicers, its readiness check and its clean-up), so tests start the very
class production runs, on port 0. ``run`` adds signal handling and, with
``processes > 1``, forks worker processes that share the port through
SO_REUSEPORT before any gRPC object exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from augur.common.errors import InvalidArgument
from augur.common.interceptors import ChassisInterceptor
from augur.common.logs import configure_logging
from augur.common.metrics import ServerMetrics, serve_metrics
from augur.common.settings import ServerSettings
from augur.common.v1 import common_pb2, common_pb2_grpc

log = logging.getLogger("augur.server")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
ECHO_MAX_BYTES = 65536


async def _always_ready() -> bool:
    return True


async def _nothing_to_close() -> None:
    return None


@dataclass
class ServiceSpec:
    """What a service plugs into the chassis."""

    name: str
    """Short name used in logs and metric labels, e.g. "features"."""
    service_names: list[str]
    """Full proto service names, e.g. "augur.features.v1.FeatureService"."""
    register: Callable[[aio.Server], None]
    """Adds the servicers to the server."""
    readiness: Callable[[], Awaitable[bool]] = _always_ready
    """True when every dependency (Redis, model) is usable; polled for health."""
    close: Callable[[], Awaitable[None]] = _nothing_to_close
    """Closes clients after the server has stopped."""
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    """Long-running tasks (watchers) started with the server and cancelled at stop."""
    dependencies: Callable[[], dict[str, bool]] | None = None
    """Health of further service names (the gateway's backends), set at every readiness poll."""


def bind(server: aio.Server, settings: ServerSettings, address: str) -> int:
    """Add the listening port: TLS when a certificate is configured (client certificates
    required when a client CA is), plaintext otherwise."""
    if not settings.tls_cert_file:
        return int(server.add_insecure_port(address))
    pair = (Path(settings.tls_key_file).read_bytes(), Path(settings.tls_cert_file).read_bytes())
    client_ca = (
        Path(settings.tls_client_ca_file).read_bytes() if settings.tls_client_ca_file else None
    )
    credentials = grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )
    return int(server.add_secure_port(address, credentials))


class DiagnosticsServicer(common_pb2_grpc.DiagnosticsServiceServicer):
    """Echo: the latency floor of the chassis."""

    def __init__(self, served_by: str) -> None:
        self.served_by = served_by

    async def Echo(
        self, request: common_pb2.EchoRequest, context: aio.ServicerContext
    ) -> common_pb2.EchoResponse:
        if len(request.payload) > ECHO_MAX_BYTES:
            raise InvalidArgument(f"payload is {len(request.payload)} bytes; at most 65536")
        return common_pb2.EchoResponse(payload=request.payload, served_by=self.served_by)


class AugurServer:
    """One gRPC server process: servicers, health, reflection, metrics, shutdown."""

    def __init__(
        self,
        settings: ServerSettings,
        spec: ServiceSpec,
        registry: CollectorRegistry | None = None,
        readiness_interval: float = 0.5,
    ) -> None:
        self.settings = settings
        self.spec = spec
        self.registry = registry or CollectorRegistry()
        self.metrics = ServerMetrics(self.registry)
        self.readiness_interval = readiness_interval
        self.health = health.aio.HealthServicer()
        self.port = 0
        self.metrics_port = 0
        self._server: aio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self, serve_metrics_endpoint: bool = True) -> int:
        """Bind, start serving (NOT_SERVING until ready) and return the gRPC port."""
        opts = [
            ("grpc.max_receive_message_length", self.settings.max_message_bytes),
            ("grpc.max_send_message_length", self.settings.max_message_bytes),
            ("grpc.so_reuseport", 1 if self.settings.processes > 1 else 0),
        ]
        server = aio.server(
            interceptors=[ChassisInterceptor(self.spec.name, self.metrics)], options=opts
        )
        self.spec.register(server)
        common_pb2_grpc.add_DiagnosticsServiceServicer_to_server(
            DiagnosticsServicer(self.spec.name), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        names = [*self.spec.service_names, "augur.common.v1.DiagnosticsService"]
        for name in ["", *names]:
            await self.health.set(name, NOT_SERVING)
        reflection.enable_server_reflection(
            [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        address = f"{self.settings.grpc_host}:{self.settings.grpc_port}"
        self.port = bind(server, self.settings, address)
        if self.port == 0:
            raise RuntimeError(f"could not bind gRPC to {address}")
        await server.start()
        self._server = server
        if serve_metrics_endpoint:
            self.metrics_port = serve_metrics(
                self.registry, self.settings.grpc_host, self.settings.metrics_port
            )
        self._tasks.append(asyncio.create_task(self._watch_readiness(names)))
        for job in self.spec.background:
            self._tasks.append(asyncio.create_task(job()))
        log.info(
            "started",
            extra={"service": self.spec.name, "port": self.port, "metrics_port": self.metrics_port},
        )
        return self.port

    async def _watch_readiness(self, names: list[str]) -> None:
        current: bool | None = None
        while not self._stopping:
            try:
                ready = await self.spec.readiness()
            except Exception:
                ready = False
            if ready != current and not self._stopping:
                for name in ["", *names]:
                    await self.health.set(name, SERVING if ready else NOT_SERVING)
                self.metrics.ready.labels(self.spec.name).set(1 if ready else 0)
                log.info("readiness", extra={"ready": ready})
                current = ready
            if self.spec.dependencies is not None and not self._stopping:
                for name, ok in self.spec.dependencies().items():
                    await self.health.set(name, SERVING if ok else NOT_SERVING)
            await asyncio.sleep(self.readiness_interval)

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting calls, let in-flight calls finish within grace, then close clients."""
        if self._server is None or self._stopping:
            return
        self._stopping = True
        await self.health.enter_graceful_shutdown()
        grace = self.settings.grace_seconds if grace is None else grace
        log.info("stopping", extra={"grace_seconds": grace})
        await self._server.stop(grace)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.spec.close()
        log.info("stopped")

    async def wait(self) -> None:
        """Block until the server has terminated."""
        if self._server is not None:
            await self._server.wait_for_termination()


SpecFactory = Callable[[ServerSettings, CollectorRegistry], Awaitable[ServiceSpec]]


async def _serve_one(settings: ServerSettings, build: SpecFactory) -> None:
    registry = CollectorRegistry()
    spec = await build(settings, registry)
    server = AugurServer(settings, spec, registry)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def run(settings: ServerSettings, build: SpecFactory, service: str) -> None:
    """Run a service until SIGTERM/SIGINT, in ``settings.processes`` processes."""
    configure_logging(service, settings.log_level)
    if settings.processes == 1:
        asyncio.run(_serve_one(settings, build))
        return
    children: list[int] = []
    for i in range(settings.processes):
        pid = os.fork()
        if pid == 0:  # child: no gRPC object exists before this point
            child = settings.model_copy(update={"metrics_port": settings.metrics_port + i})
            try:
                asyncio.run(_serve_one(child, build))
            finally:
                os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for pid in children:
        _, code = os.waitpid(pid, 0)
        status = status or os.waitstatus_to_exitcode(code)
    sys.exit(status)
