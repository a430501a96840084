"""A real stack for the gateway tests: churn, recommend and contact services on their own
ports (trained models, features in Redis), and a gateway (nginx + its Python server) in front."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry

from augur.churn.main import build_spec as build_churn
from augur.common.server import AugurServer
from augur.common.settings import (
    ChurnSettings,
    ContactSettings,
    GatewaySettings,
    RecommendSettings,
    ServerSettings,
    load_settings,
)
from augur.contact.main import build_spec as build_contact
from augur.features.store import RedisFeatureStore
from augur.gateway.keys import KeyStore
from augur.gateway.main import Gateway
from augur.ingest.main import build_spec as build_features
from augur.recommend.main import build_spec as build_recommend
from augur.training.data.loader import load_dataset
from augur.training.offline.batch import materialise
from augur.training.offline.stream import compute_features


@dataclass
class Stack:
    backends: dict[str, AugurServer]
    ports: dict[str, int]
    tokens: dict[str, str] = field(default_factory=dict)
    customers: list[str] = field(default_factory=list)


def _with(settings: ServerSettings, cls: type[Any], **extra: object) -> Any:
    return load_settings(cls, **{**settings.model_dump(), **extra})


async def start_backends(
    settings: ServerSettings,
    tmp: Path,
    shop_data: Path,
    churn_uri: str,
    recommend_uri: str,
    contact_uri: str,
) -> Stack:
    ds = load_dataset(shop_data)
    as_of = ds.orders["timestamp"].max()
    materialise(compute_features(ds, as_of), RedisFeatureStore.from_settings(settings))
    specs = {
        "churn": (ChurnSettings, build_churn, {"mlflow_tracking_uri": churn_uri}),
        "recommend": (
            RecommendSettings,
            build_recommend,
            {
                "mlflow_tracking_uri": recommend_uri,
                "recommend_as_of": as_of.isoformat(),
                "recommend_stock_filter": False,
                # the rankers' compile (its own test) would only add seconds to the stack's start
                "recommend_compile_ranker": False,
            },
        ),
        "contact": (ContactSettings, build_contact, {"mlflow_tracking_uri": contact_uri}),
    }
    servers, ports = {}, {}
    for name, (cls, build, extra) in specs.items():
        s = _with(settings, cls, state_dir=tmp / f"state-{name}", **extra)
        server = AugurServer(s, await build(s), readiness_interval=0.05)
        ports[name] = await server.start(serve_metrics_endpoint=False)
        servers[name] = server
    for port in ports.values():
        await wait_serving(port)
    customers = sorted(set(ds.orders["customer_id"]))
    return Stack(servers, ports, customers=customers)


async def start_features(settings: ServerSettings, tmp: Path, stack: Stack) -> AugurServer:
    """The features service beside the stack's model services (added to its ports)."""
    fs = load_settings(ServerSettings, **{**settings.model_dump(), "state_dir": tmp / "features"})
    server = AugurServer(fs, await build_features(fs), readiness_interval=0.05)
    stack.ports["features"] = await server.start(serve_metrics_endpoint=False)
    await wait_serving(stack.ports["features"])
    return server


def gateway_settings(settings: ServerSettings, stack: Stack, **extra: object) -> GatewaySettings:
    backends = ",".join(f"{n}=127.0.0.1:{p}" for n, p in stack.ports.items() if n != "gateway")
    return load_settings(
        GatewaySettings,
        **{
            **settings.model_dump(),
            "grpc_port": 0,
            "gateway_http_port": 0,
            "gateway_backends": backends,
            "gateway_key_refresh_seconds": 0.2,
            **extra,
        },
    )


@contextlib.asynccontextmanager
async def running_gateway(
    gs: GatewaySettings,
    registry: CollectorRegistry | None = None,
    credentials: grpc.ChannelCredentials | None = None,
) -> AsyncIterator[Gateway]:
    """A gateway (nginx front included) until the block ends; SERVING when entered."""
    gateway = Gateway(gs)
    registry = registry or CollectorRegistry()
    server = AugurServer(gateway.core, await gateway.spec(registry), registry, 0.05)
    await server.start(serve_metrics_endpoint=False)
    try:
        try:
            await wait_serving(gateway.ports.grpc, credentials=credentials)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; {_front_state(gateway)}") from None
        yield gateway
    finally:
        await server.stop(0)


def _front_state(gateway: Gateway) -> str:
    """What a gateway that never served shows: its front's process and nginx's own words."""
    front = gateway.front
    if front is None:
        return "the front never started"
    files = [front.prefix / "nginx.out", front.prefix / "error.log"]
    said = " | ".join(f.read_text()[-2000:] for f in files if f.exists())
    return f"nginx alive: {front.alive()}, redis ping: {gateway.store.ping()}; nginx said: {said}"


async def wait_serving(
    port: int, within: float = 60.0, credentials: grpc.ChannelCredentials | None = None
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    address = f"127.0.0.1:{port}"
    channel = (
        grpc.aio.secure_channel(address, credentials)
        if credentials is not None
        else grpc.aio.insecure_channel(address)
    )
    async with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while loop.time() < deadline:
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            await asyncio.sleep(0.05)
    raise TimeoutError(f"the server on port {port} did not become SERVING")


def create_keys(settings: ServerSettings) -> dict[str, str]:
    """The keys of the tests' users: a storefront, a CRM, an operator, an analyst."""
    keys = KeyStore(RedisFeatureStore.from_settings(settings))
    return {
        "storefront": keys.create("storefront", ["recommend"])[1],
        "crm": keys.create("crm", ["churn", "contact", "gateway"])[1],
        "ops": keys.create("ops", ["admin"])[1],
        "analyst": keys.create("analyst", ["churn.Score"])[1],
    }


def http(
    port: int, path: str, body: object | None = None, token: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP/1.1 request (urllib): status, headers, body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data)
    if token:
        request.add_header("x-api-key", token)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()
