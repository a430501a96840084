"""Prometheus metrics of the gRPC chassis, on an injected registry.

Labels are bounded: service, method and status code only (never a customer id).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (
    0.0002,
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class ServerMetrics:
    """Request count and latency per RPC, and readiness."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "augur_grpc_requests_total",
            "gRPC requests handled, by service, method and status code.",
            ["service", "method", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            "augur_grpc_request_duration_seconds",
            "gRPC handling time in seconds, by service and method.",
            ["service", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "augur_grpc_requests_in_flight",
            "gRPC requests being handled now.",
            ["service"],
            registry=registry,
        )
        self.ready = Gauge(
            "augur_service_ready",
            "1 when the service reports SERVING, 0 otherwise.",
            ["service"],
            registry=registry,
        )


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> int:
    """Start the /metrics HTTP endpoint in a daemon thread; returns the bound port."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return int(server.server_port)
