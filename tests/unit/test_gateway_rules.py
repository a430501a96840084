"""The gateway's client-side rules: circuit breaker, retry budget, access-log parsing."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry

from augur.gateway.access import AccessMetrics
from augur.gateway.backends import CircuitBreaker, RetryBudget
from augur.gateway.routes import ROUTES


def test_breaker_opens_after_consecutive_failures_and_lets_one_trial_through() -> None:
    breaker = CircuitBreaker(failures=3, reset_seconds=0.05)
    for _ in range(2):
        assert breaker.admit()
        breaker.failure()
    breaker.success()  # a success resets the count
    for _ in range(3):
        assert breaker.admit()
        breaker.failure()
    assert breaker.state == "open" and not breaker.admit()
    time.sleep(0.06)
    assert breaker.state == "half-open"
    assert breaker.admit() and not breaker.admit()  # one trial at a time
    breaker.failure()  # the trial failed: open again for a full period
    assert breaker.state == "open" and not breaker.admit()
    time.sleep(0.06)
    assert breaker.admit()
    breaker.success()
    assert breaker.state == "closed" and breaker.admit()


def test_retry_budget_is_a_share_of_calls_plus_a_reserve() -> None:
    budget = RetryBudget(0.1, reserve=2)
    assert budget.take() and budget.take() and not budget.take()
    for _ in range(10):
        budget.called()
    assert budget.take() and not budget.take()
    assert not RetryBudget(0.0).take()


def test_access_lines_become_metrics_by_route_key_and_code() -> None:
    registry = CollectorRegistry()
    metrics = AccessMetrics(registry)
    path = ROUTES["churn.Score"].grpc_path
    metrics.record(f"churn {path} abc123 200 0|-|- 0.002 0.001")
    metrics.record(f"churn {path} abc123 200 -|5|- 0.001 0.001")  # trailers-only error
    metrics.record(f"churn {path} - 204 -|-|16 0.000 -")  # refused by the gateway itself
    metrics.record(f"churn {path} abc123 502 -|-|14 0.003 0.001, 0.002")  # retried, then down
    metrics.record("rest /v1/churn/Score abc123 429 -|-|- 0.000 -")
    metrics.record("health /grpc.health.v1.Health/Check - 200 0|-|- 0.001 0.001")
    get = registry.get_sample_value
    grpc_labels = {"route": "churn.Score", "protocol": "grpc"}
    assert (
        get("augur_gateway_requests_total", {**grpc_labels, "key_id": "abc123", "code": "OK"}) == 1
    )
    assert (
        get(
            "augur_gateway_requests_total", {**grpc_labels, "key_id": "abc123", "code": "NOT_FOUND"}
        )
        == 1
    )
    assert (
        get(
            "augur_gateway_requests_total", {**grpc_labels, "key_id": "", "code": "UNAUTHENTICATED"}
        )
        == 1
    )
    assert (
        get(
            "augur_gateway_requests_total",
            {**grpc_labels, "key_id": "abc123", "code": "UNAVAILABLE"},
        )
        == 1
    )
    rest = {
        "route": "churn.Score",
        "protocol": "rest",
        "key_id": "abc123",
        "code": "RESOURCE_EXHAUSTED",
    }
    assert get("augur_gateway_requests_total", rest) == 1
    assert get("augur_gateway_backend_duration_seconds_count", grpc_labels) == 3
    assert get("augur_gateway_backend_duration_seconds_sum", grpc_labels) == 0.005
    assert get("augur_gateway_request_duration_seconds_count", grpc_labels) == 4
