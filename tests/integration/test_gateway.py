"""The gateway over real sockets, in front of real churn, recommend and contact services:
gRPC pass-through with keys, scopes and rate limits; REST/JSON from a plain HTTP client
checked against the served OpenAPI document; composition with a backend down; metrics."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import grpc
import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi
from prometheus_client import CollectorRegistry

from augur.churn.v1 import churn_pb2, churn_pb2_grpc
from augur.common.settings import ServerSettings
from augur.common.v1 import common_pb2
from augur.contact.v1 import contact_pb2, contact_pb2_grpc
from augur.features.store import RedisFeatureStore
from augur.gateway.keys import KeyStore
from augur.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from augur.recommend.v1 import recommend_pb2, recommend_pb2_grpc
from tests.integration.gateway_stack import (
    Stack,
    gateway_settings,
    http,
    running_gateway,
)
from tests.integration.rpc import expect

ROOT = Path(__file__).resolve().parents[2]
NODE_PACKAGES = (ROOT / "node_modules" / "@grpc" / "grpc-js").exists()


def key(token: str) -> tuple[tuple[str, str], ...]:
    return (("x-api-key", token),)


async def test_grpc_pass_through_checks_keys_and_scopes_and_changes_nothing(
    settings: ServerSettings, stack: Stack
) -> None:
    gs = gateway_settings(settings, stack)
    customer = stack.customers[0]
    async with (
        running_gateway(gs) as gw,
        grpc.aio.insecure_channel(f"127.0.0.1:{gw.ports.grpc}") as via,
        grpc.aio.insecure_channel(f"127.0.0.1:{stack.ports['churn']}") as direct,
    ):
        churn = churn_pb2_grpc.ChurnServiceStub(via)
        request = churn_pb2.ScoreRequest(customer_id=customer, include_reasons=True)
        await expect(grpc.StatusCode.UNAUTHENTICATED, churn.Score(request), "API key is required")
        forged = stack.tokens["crm"][:-4] + ("AAAA" if stack.tokens["crm"][-1] != "A" else "BBBB")
        await expect(
            grpc.StatusCode.UNAUTHENTICATED, churn.Score(request, metadata=key(forged)), "invalid"
        )
        await expect(
            grpc.StatusCode.UNAUTHENTICATED,
            churn.Score(request, metadata=key("ak_nothing")),
            "malformed",
        )
        await expect(
            grpc.StatusCode.PERMISSION_DENIED,
            churn.Score(request, metadata=key(stack.tokens["storefront"])),
            "may not call churn.Score: it needs scope churn or churn.Score",
        )
        await expect(
            grpc.StatusCode.PERMISSION_DENIED,
            churn.ReloadModel(churn_pb2.ReloadModelRequest(), metadata=key(stack.tokens["crm"])),
            "needs scope admin",
        )
        # the backend's answer, byte for byte, whichever header carries the key
        through = await churn.Score(request, metadata=key(stack.tokens["analyst"]))
        bearer = await churn.Score(
            request, metadata=(("authorization", f"Bearer {stack.tokens['crm']}"),)
        )
        plain = await churn_pb2_grpc.ChurnServiceStub(direct).Score(request)
        assert (
            through.SerializeToString() == plain.SerializeToString() == bearer.SerializeToString()
        )
        # the analyst may call Score only
        await expect(
            grpc.StatusCode.PERMISSION_DENIED,
            churn.ListAtRisk(
                churn_pb2.ListAtRiskRequest(page_size=5), metadata=key(stack.tokens["analyst"])
            ),
            "churn.ListAtRisk",
        )
        # a backend error comes back unchanged
        await expect(
            grpc.StatusCode.INVALID_ARGUMENT,
            churn.Score(churn_pb2.ScoreRequest(), metadata=key(stack.tokens["crm"])),
            "customer_id",
        )
        # server streaming passes through message by message
        recs = recommend_pb2_grpc.RecommendServiceStub(via)
        batch = recommend_pb2.BatchRecommendRequest(customer_ids=stack.customers[:1500], n=3)
        chunks = [c async for c in recs.BatchRecommend(batch, metadata=key(stack.tokens["ops"]))]
        assert len(chunks) == 2 and sum(len(c.items) for c in chunks) == 1500
        # a revoked key stops working within the refresh period
        keys = KeyStore(RedisFeatureStore.from_settings(settings))
        analyst = next(k for k in keys.list() if k.name == "analyst")
        keys.revoke(analyst.key_id)
        for _ in range(50):
            try:
                await churn.Score(request, metadata=key(stack.tokens["analyst"]))
            except grpc.aio.AioRpcError as exc:
                assert exc.code() is grpc.StatusCode.UNAUTHENTICATED
                assert "revoked" in (exc.details() or "")
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the revoked key kept working")


async def test_rate_limit_per_key_with_retry_after(settings: ServerSettings, stack: Stack) -> None:
    gs = gateway_settings(settings, stack, gateway_rate_per_second=2.0, gateway_burst=3)
    request = churn_pb2.ScoreRequest(customer_id=stack.customers[0])
    async with (
        running_gateway(gs) as gw,
        grpc.aio.insecure_channel(f"127.0.0.1:{gw.ports.grpc}") as via,
    ):
        churn = churn_pb2_grpc.ChurnServiceStub(via)
        codes, retry = [], None
        for _ in range(8):
            try:
                await churn.Score(request, metadata=key(stack.tokens["crm"]))
                codes.append("OK")
            except grpc.aio.AioRpcError as exc:
                codes.append(exc.code().name)
                assert "rate limit of API key" in (exc.details() or "")
                # nginx answers trailers-only: its headers arrive as trailing metadata
                retry = dict(exc.trailing_metadata() or ()).get("retry-after")
        assert codes[:4] == ["OK"] * 4  # the rate's token plus a burst of 3
        assert codes.count("RESOURCE_EXHAUSTED") >= 3
        assert retry is not None and float(retry) == pytest.approx(0.5)
        # another key has its own bucket
        await churn.Score(request, metadata=key(stack.tokens["analyst"]))
        # REST: 429 with Retry-After
        statuses = []
        for _ in range(8):
            status, headers, body = await asyncio.to_thread(
                http,
                gw.ports.http,
                "/v1/churn/Score",
                {"customerId": stack.customers[0]},
                stack.tokens["ops"],
            )
            statuses.append(status)
            if status == 429:
                assert json.loads(body)["error"]["status"] == "RESOURCE_EXHAUSTED"
                assert headers["Retry-After"] == "1"
        assert statuses.count(429) >= 3


async def test_rest_json_follows_the_served_openapi_document(
    settings: ServerSettings, stack: Stack
) -> None:
    gs = gateway_settings(settings, stack)
    async with running_gateway(gs) as gw:
        port = gw.ports.http
        status, _, raw = await asyncio.to_thread(http, port, "/openapi.json")
        assert status == 200
        spec = json.loads(raw)
        validate_openapi(spec)  # a real OpenAPI 3 validator
        assert "/v1/churn/Score" in spec["paths"] and "/v1/gateway/CustomerInsight" in spec["paths"]

        def conforms(body: bytes, schema_name: str) -> dict[str, Any]:
            doc = json.loads(body)
            jsonschema.validate(
                doc,
                {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]},
            )
            return doc

        crm = stack.tokens["crm"]
        customer = stack.customers[1]
        status, _, body = await asyncio.to_thread(
            http, port, "/v1/churn/Score", {"customerId": customer, "includeReasons": True}, crm
        )
        assert status == 200
        score = conforms(body, "augur.churn.v1.ScoreResponse")
        assert score["customerId"] == customer and 0 <= score["probability"] <= 1
        assert score["riskBand"].startswith("RISK_BAND_") and score["reasons"]
        # snake_case names are accepted too (standard protobuf JSON parsing)
        status, _, body = await asyncio.to_thread(
            http, port, "/v1/churn/Score", {"customer_id": customer}, crm
        )
        assert status == 200
        # errors: JSON with the HTTP status and the gRPC code name
        cases = [
            ("/v1/churn/Score", {"customerId": customer}, None, 401, "UNAUTHENTICATED"),
            ("/v1/churn/Score", {"customerId": customer}, stack.tokens["storefront"], 403, ""),
            ("/v1/churn/Score", {"customerId": customer, "nope": 1}, crm, 400, "nope"),
            ("/v1/churn/Score", {"customerId": 12}, crm, 400, "customerId"),
            ("/v1/churn/Score", {"customerId": "nobody-at-all"}, crm, 404, ""),
            # ids shaped like personal data: answered, never logged (test_log_privacy)
            ("/v1/churn/Score", {"customerId": "jane.doe@example.com"}, crm, 404, ""),
            ("/v1/churn/Score", {"customerId": "+4915112345678"}, crm, 404, ""),
            ("/v1/churn/Nothing", {}, stack.tokens["ops"], 404, "not a route"),
        ]
        for path, payload, token, want, text in cases:
            status, _, body = await asyncio.to_thread(http, port, path, payload, token)
            assert status == want, body
            error = conforms(body, "Error")["error"]
            assert error["code"] == want and text in error["message"] + error["status"]
        # server streaming: one JSON message per line
        status, headers, body = await asyncio.to_thread(
            http, port, "/v1/churn/ScoreBatch", {"customerIds": stack.customers[:30]}, crm
        )
        assert status == 200 and headers["Content-Type"].startswith("application/x-ndjson")
        lines = [conforms(line, "augur.churn.v1.ScoreBatchResponse") for line in body.splitlines()]
        assert sum(len(line["items"]) for line in lines) == 30
        # the health of the backends, readable without a key
        status, _, body = await asyncio.to_thread(http, port, "/healthz")
        health = json.loads(body)
        assert status == 200 and health["backends"] == {
            "churn": "SERVING",
            "recommend": "SERVING",
            "contact": "SERVING",
        }


async def test_customer_insight_and_next_best_action_with_a_backend_down(
    settings: ServerSettings, stack: Stack
) -> None:
    registry = CollectorRegistry()
    gs = gateway_settings(settings, stack, gateway_breaker_failures=2)
    crm = key(stack.tokens["crm"])
    async with (
        running_gateway(gs, registry) as gw,
        grpc.aio.insecure_channel(f"127.0.0.1:{gw.ports.grpc}") as via,
    ):
        stub = gateway_pb2_grpc.GatewayServiceStub(via)
        contact = contact_pb2_grpc.ContactServiceStub(via)
        customers = stack.customers[:40]
        for c in customers:
            await contact.SetConsent(
                contact_pb2.SetConsentRequest(
                    customer_id=c,
                    consents=[
                        contact_pb2.ChannelConsent(channel=common_pb2.CHANNEL_EMAIL, granted=True)
                    ],
                    timezone="Europe/Paris",
                ),
                metadata=crm,
            )
        insight = await stub.CustomerInsight(
            gateway_pb2.CustomerInsightRequest(
                customer_id=customers[0], n_recommendations=5, include_reasons=True
            ),
            metadata=crm,
        )
        assert not insight.missing
        assert insight.churn.customer_id == customers[0] and insight.churn.reasons
        assert len(insight.recommendations.items) == 5
        assert insight.contact.customer_id == customers[0]
        await expect(
            grpc.StatusCode.PERMISSION_DENIED,
            stub.CustomerInsight(
                gateway_pb2.CustomerInsightRequest(customer_id=customers[0]),
                metadata=key(stack.tokens["storefront"]),
            ),
            "needs scope gateway",
        )
        await expect(
            grpc.StatusCode.INVALID_ARGUMENT,
            stub.CustomerInsight(
                gateway_pb2.CustomerInsightRequest(customer_id=customers[0], n_recommendations=500),
                metadata=crm,
            ),
            "n_recommendations",
        )
        # every action type the customers lead to, each with its reason
        actions = {}
        for c in customers:
            reply = await stub.NextBestAction(
                gateway_pb2.NextBestActionRequest(customer_id=c), metadata=crm
            )
            assert reply.reason and not reply.missing
            actions.setdefault(gateway_pb2.ActionType.Name(reply.action), reply)
            if reply.action == gateway_pb2.ACTION_TYPE_RETENTION:
                assert reply.churn.probability >= gs.gateway_at_risk_probability
                assert reply.contact.contact and reply.items
            if reply.action == gateway_pb2.ACTION_TYPE_DO_NOTHING:
                assert not reply.items
        assert len(actions) >= 2, {k: v.reason for k, v in actions.items()}

        # the contact service goes away: a partial answer that says what is missing
        await stack.backends["contact"].stop(0)
        insight = await stub.CustomerInsight(
            gateway_pb2.CustomerInsightRequest(customer_id=customers[0]), metadata=crm
        )
        assert insight.HasField("churn") and insight.HasField("recommendations")
        assert not insight.HasField("contact")
        assert [(m.part, m.code) for m in insight.missing] == [("contact", "UNAVAILABLE")]
        assert "contact service is unavailable" in insight.missing[0].message
        # after two failures the circuit is open: the part fails at once, saying so
        insight = await stub.CustomerInsight(
            gateway_pb2.CustomerInsightRequest(customer_id=customers[0]), metadata=crm
        )
        assert "circuit is open" in insight.missing[0].message
        # every backend down: UNAVAILABLE listing each part
        await stack.backends["recommend"].stop(0)
        await stack.backends["churn"].stop(0)
        await expect(
            grpc.StatusCode.UNAVAILABLE,
            stub.CustomerInsight(
                gateway_pb2.CustomerInsightRequest(customer_id=customers[0]), metadata=crm
            ),
            "no part of the answer",
        )
        # pass-through to a stopped backend: UNAVAILABLE naming the service
        await expect(
            grpc.StatusCode.UNAVAILABLE,
            churn_pb2_grpc.ChurnServiceStub(via).Score(
                churn_pb2.ScoreRequest(customer_id=customers[0]), metadata=crm
            ),
            "the churn service is unavailable",
        )
        # health reflects the backends
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        health = health_pb2_grpc.HealthStub(via)
        for _ in range(40):
            reply = await health.Check(
                health_pb2.HealthCheckRequest(service="augur.churn.v1.ChurnService")
            )
            if reply.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                break
            await asyncio.sleep(0.1)
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
        await asyncio.sleep(0.3)  # the last access-log datagrams
    # metrics by route, key id and status, with backend latency
    key_id = stack.tokens["crm"].split(".")[0][3:]
    sample = registry.get_sample_value
    labels = {"route": "gateway.CustomerInsight", "protocol": "grpc", "key_id": key_id}
    assert sample("augur_gateway_requests_total", {**labels, "code": "OK"}) == 3
    assert sample("augur_gateway_requests_total", {**labels, "code": "UNAVAILABLE"}) == 1
    assert (
        sample(
            "augur_gateway_requests_total",
            {
                **labels,
                "key_id": stack.tokens["storefront"].split(".")[0][3:],
                "code": "PERMISSION_DENIED",
            },
        )
        == 1
    )
    assert (
        sample(
            "augur_gateway_backend_duration_seconds_count",
            {"route": "contact.SetConsent", "protocol": "grpc"},
        )
        == 40
    )


async def test_an_independent_node_grpc_client(settings: ServerSettings, stack: Stack) -> None:
    """Node.js @grpc/grpc-js + @grpc/proto-loader on Augur's .proto files: auth, scopes,
    rate limits and a partial composed answer, seen by a client that shares no code."""
    root = ROOT
    script = root / "tests" / "node" / "gateway_client.mjs"
    if shutil.which("node") is None or not NODE_PACKAGES:
        if os.environ.get("CI"):
            pytest.fail("node and the npm packages are required in CI (make install)")
        pytest.skip("node or node_modules/@grpc missing: run make install")
    keys = KeyStore(RedisFeatureStore.from_settings(settings))
    tokens = {
        "crm": stack.tokens["crm"],
        "storefront": stack.tokens["storefront"],
        "burst": keys.create("node-burst", ["churn"])[1],
    }
    gs = gateway_settings(settings, stack, gateway_rate_per_second=4.0, gateway_burst=5)
    await stack.backends["contact"].stop(0)
    async with running_gateway(gs) as gw:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(script),
            cwd=root,
            env={
                **os.environ,
                "AUGUR_GATEWAY": f"127.0.0.1:{gw.ports.grpc}",
                "AUGUR_PROTOS": str(root / "protos"),
                "AUGUR_TOKENS": json.dumps(tokens),
                "AUGUR_CUSTOMER": stack.customers[0],
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    out = json.loads(stdout)
    score = out["score"]
    assert score["code"] == 0 and score["reply"]["customerId"] == stack.customers[0]
    assert 0 <= score["reply"]["probability"] <= 1 and score["reply"]["reasons"]
    assert score["reply"]["riskBand"].startswith("RISK_BAND_")
    assert out["noKey"]["code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert "API key is required" in out["noKey"]["details"]
    assert out["wrongScope"]["code"] == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert out["badRequest"]["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    insight = out["insight"]
    assert insight["code"] == 0
    assert insight["reply"]["churn"]["customerId"] == stack.customers[0]
    assert len(insight["reply"]["recommendations"]["items"]) == 3
    assert [m["part"] for m in insight["reply"]["missing"]] == ["contact"]
    assert insight["reply"]["missing"][0]["code"] == "UNAVAILABLE"
    codes = out["burstCodes"]
    exhausted = grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert codes.count(0) >= 5 and codes.count(exhausted) >= 4, codes
    assert float(out["retryAfter"]) == pytest.approx(0.25)
