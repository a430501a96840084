"""The gateway part of `make demo`: one API key, then the same customer through gRPC
(CustomerInsight, NextBestAction) and REST/JSON, and a call the key's scopes refuse."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import grpc

from augur.common.settings import ServerSettings
from augur.devtools.runtime import StackState
from augur.features.store import RedisFeatureStore
from augur.gateway.keys import KeyStore
from augur.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from augur.recommend.v1 import recommend_pb2, recommend_pb2_grpc


def show_gateway(state: StackState, settings: ServerSettings, customers: list[str]) -> None:
    customer = customers[0]
    gateway = next(p for p in state.processes if p.name == "gateway")
    _, token = KeyStore(RedisFeatureStore.from_settings(settings)).create(
        "demo-crm", ["churn", "contact", "gateway"]
    )
    key = (("x-api-key", token),)
    print(f"  API key 'demo-crm' (scopes churn, contact, gateway): {token[:16]}...")
    with grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        request = gateway_pb2.CustomerInsightRequest(
            customer_id=customer, n_recommendations=3, include_reasons=True
        )
        deadline = time.monotonic() + 5  # a new key reaches the gateway within a second
        while True:
            try:
                started = time.perf_counter()
                insight = stub.CustomerInsight(request, metadata=key, timeout=5)
                took = (time.perf_counter() - started) * 1000
                break
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNAUTHENTICATED or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        print(f"  CustomerInsight {customer} (gRPC, {took:.1f} ms, three services in parallel):")
        print(
            f"    churn p={insight.churn.probability:.2f} "
            f"value at risk {insight.churn.value_at_risk:,.0f}; "
            f"items {[i.item_id for i in insight.recommendations.items]}; "
            f"contact: {insight.contact.reason_text or 'yes'}"
        )
        missing = ", ".join(f"{m.part} ({m.code})" for m in insight.missing) or "none"
        print(f"    missing parts: {missing}")
        action = stub.NextBestAction(
            gateway_pb2.NextBestActionRequest(customer_id=customer), metadata=key, timeout=5
        )
        print(f"  NextBestAction: {gateway_pb2.ActionType.Name(action.action)} - {action.reason}")
        try:
            recommend_pb2_grpc.RecommendServiceStub(channel).Recommend(
                recommend_pb2.RecommendRequest(customer_id=customer), metadata=key, timeout=5
            )
        except grpc.RpcError as exc:
            print(f"  Recommend with the same key: {exc.code().name} - {exc.details()}")
    if gateway.http_port:
        http = gateway.http_port
        body = json.dumps({"customerId": customer}).encode()
        request_http = urllib.request.Request(
            f"http://127.0.0.1:{http}/v1/churn/Score",
            data=body,
            headers={"x-api-key": token, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request_http, timeout=5) as reply:
            score = json.loads(reply.read())
        print(
            f"  REST POST /v1/churn/Score -> {reply.status}: probability "
            f"{score['probability']:.2f}, band {score['riskBand']}"
        )
