"""Gateway scenario of `make bench`: the same GetFeatures calls at the same rates, once
straight to the features service and once through an `augur serve gateway` process
(API key checked, token bucket, raw-bytes pass-through), to read the gateway's overhead."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections.abc import Awaitable

import grpc

from augur.features.v1 import features_pb2, features_pb2_grpc
from services.common.features.store import RedisFeatureStore
from services.gateway.keys import KeyStore
from services.runtime import StackState, free_port, wait_serving
from training.bench.harness import Result, open_loop

RATES = (500, 1000)


def overhead(
    state: StackState,
    store: RedisFeatureStore,
    ids: list[str],
    duration: float,
    results: list[Result],
) -> None:
    backends = ",".join(f"{p.name}=127.0.0.1:{p.port}" for p in state.processes if p.port)
    port = free_port(50199)
    _, token = KeyStore(store).create("bench", ["admin"])
    env = {
        **os.environ,
        "AUGUR_REDIS_URL": state.redis_url,
        "AUGUR_REDIS_PREFIX": state.redis_prefix,
        "AUGUR_GRPC_PORT": str(port),
        "AUGUR_METRICS_PORT": str(free_port(9199)),
        "AUGUR_GATEWAY_BACKENDS": backends,
        "AUGUR_GATEWAY_RATE_PER_SECOND": "1000000",
        "AUGUR_GATEWAY_BURST": "1000000",
        "AUGUR_PROCESSES": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "training.cli", "serve", "gateway"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if not wait_serving(port, 30):
            print("gateway did not become SERVING; gateway scenario skipped", file=sys.stderr)
            return
        asyncio.run(_drive(state, port, token, ids, duration, results))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


async def _drive(
    state: StackState, port: int, token: str, ids: list[str], duration: float, results: list[Result]
) -> None:
    key = (("x-api-key", token),)
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{state.port_of('features')}") as direct,
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as via,
    ):
        for name, channel, metadata in (
            ("direct", direct, ()),
            ("via gateway", via, key),
        ):
            stub = features_pb2_grpc.FeatureServiceStub(channel)

            def get(stub=stub, metadata=metadata) -> Awaitable[object]:  # type: ignore[no-untyped-def]
                req = features_pb2.GetFeaturesRequest(customer_id=random.choice(ids))
                return stub.GetFeatures(req, timeout=2, metadata=metadata)

            for _ in range(300):
                await get()
            for rate in RATES:
                load = await open_loop(get, rate, duration)
                results.append(
                    load.result(f"GetFeatures {name} @{rate}/s", note="gateway overhead")
                )
