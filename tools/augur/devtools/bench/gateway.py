"""Gateway scenario of `make bench`: the same client calls churn Score straight at the churn
service and through the gateway (nginx front, API key checked, rate limit, access log), at
the same rates and then flat out, so the gateway's overhead and throughput loss read as
differences of one run; then CustomerInsight (three services composed) at 300/s.

The client keeps two HTTP/2 connections (round robin), straight or through the gateway, so
both churn processes (SO_REUSEPORT) get work either way.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import random
from collections.abc import Awaitable
from typing import Any

import grpc

from augur.churn.v1 import churn_pb2, churn_pb2_grpc
from augur.devtools.bench.harness import Result, channels, open_loop, saturate
from augur.devtools.runtime import StackState
from augur.features.store import RedisFeatureStore
from augur.gateway.keys import KeyStore
from augur.gateway.v1 import gateway_pb2, gateway_pb2_grpc

RATES = (500, 1000, 1500)
CONNECTIONS = 2
CONCURRENCY = 32


async def overhead(
    state: StackState,
    store: RedisFeatureStore,
    ids: list[str],
    duration: float,
    results: list[Result],
) -> None:
    running = {p.name: p for p in state.processes}
    if "gateway" not in running or "churn" not in running:
        print("no gateway or churn service in the stack; gateway scenario skipped")
        return
    _, token = KeyStore(store).create("bench", ["admin"])
    key = (("x-api-key", token),)
    direct = channels(running["churn"].port, CONNECTIONS)
    via = channels(running["gateway"].port, CONNECTIONS)
    try:
        stubs = {
            "direct": (itertools.cycle([churn_pb2_grpc.ChurnServiceStub(c) for c in direct]), ()),
            "via gateway": (
                itertools.cycle([churn_pb2_grpc.ChurnServiceStub(c) for c in via]),
                key,
            ),
        }

        def score(name: str) -> Awaitable[Any]:
            ring, metadata = stubs[name]
            request = churn_pb2.ScoreRequest(customer_id=random.choice(ids))
            return next(ring).Score(request, timeout=2, metadata=metadata)

        for _ in range(50):  # a new key reaches the gateway's key map within a second
            try:
                await score("via gateway")
                break
            except grpc.aio.AioRpcError as exc:
                if exc.code() is not grpc.StatusCode.UNAUTHENTICATED:
                    raise
                await asyncio.sleep(0.1)
        for name in stubs:  # warm both paths (connections, nginx upstream keep-alive)
            for _ in range(400):
                await score(name)
        for rate in RATES:
            for name in stubs:
                load = await open_loop(functools.partial(score, name), rate, duration)
                results.append(load.result(f"Score {name} @{rate}/s", note="gateway overhead"))
        for name in stubs:
            load = await saturate(functools.partial(score, name), CONCURRENCY, duration)
            results.append(
                load.result(
                    f"Score {name} flat out",
                    note=f"throughput; {CONCURRENCY} calls in flight",
                )
            )
        if not {"recommend", "contact"} <= running.keys():
            print("recommend or contact not running; CustomerInsight skipped")
            return
        gateway = gateway_pb2_grpc.GatewayServiceStub(via[0])

        def insight() -> Awaitable[Any]:
            request = gateway_pb2.CustomerInsightRequest(
                customer_id=random.choice(ids), n_recommendations=10
            )
            return gateway.CustomerInsight(request, timeout=2, metadata=key)

        for _ in range(200):
            await insight()
        load = await open_loop(insight, 300, duration)
        missing: dict[str, int] = {}
        for _ in range(100):
            reply = await insight()
            for part in reply.missing:
                missing[f"{part.part} {part.code}"] = missing.get(f"{part.part} {part.code}", 0) + 1
        parts = ", ".join(f"{k} {v}%" for k, v in sorted(missing.items())) or "none"
        results.append(
            load.result(
                "CustomerInsight @300/s",
                note=f"churn + recommend + contact in parallel; parts missing: {parts}",
            )
        )
    finally:
        for channel in (*direct, *via):
            await channel.close()
