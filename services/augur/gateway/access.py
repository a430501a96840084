"""Per-request metrics of the gateway, from nginx's access log.

nginx sends one syslog datagram per request (format ``augur_access`` in ``front.py``) to
this receiver on loopback, which counts it by route, API key id (never the secret) and
status, and observes the request's total time and its backend's time.
"""

from __future__ import annotations

import asyncio
import contextlib

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from augur.common.metrics import LATENCY_BUCKETS
from augur.gateway.routes import BY_GRPC_PATH, BY_REST_PATH

_CODE_NAMES = {str(c.value[0]): c.name for c in grpc.StatusCode}
# HTTP status of a REST answer -> the gRPC code it stands for
HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}
_FROM_HTTP = {
    "200": "OK",
    "400": "INVALID_ARGUMENT",
    "401": "UNAUTHENTICATED",
    "403": "PERMISSION_DENIED",
    "404": "NOT_FOUND",
    "409": "ABORTED",
    "429": "RESOURCE_EXHAUSTED",
    "499": "CANCELLED",
    "500": "INTERNAL",
    "501": "UNIMPLEMENTED",
    "503": "UNAVAILABLE",
    "504": "DEADLINE_EXCEEDED",
}


class AccessMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "augur_gateway_requests_total",
            "Requests through the gateway, by route, protocol, API key id and status code.",
            ["route", "protocol", "key_id", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            "augur_gateway_request_duration_seconds",
            "Time from the request's first byte to the answer's last, by route.",
            ["route", "protocol"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.backend = Histogram(
            "augur_gateway_backend_duration_seconds",
            "Time the backend took to answer a routed request, by route.",
            ["route", "protocol"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.backend_serving = Gauge(
            "augur_gateway_backend_serving",
            "1 while a backend answers SERVING to the gateway's health checks, else 0.",
            ["backend"],
            registry=registry,
        )

    def record(self, line: str) -> None:
        """Count one access-log line (``service uri key status g1|g2|g3 t upstream``)."""
        fields = line.split(" ", 6)
        if len(fields) < 7:
            return
        service, uri, key, status, grpc_codes, total, upstream = fields
        if service == "health":
            return
        protocol = "rest" if uri.startswith("/v1/") or service == "rest" else "grpc"
        route = BY_GRPC_PATH.get(uri) or BY_REST_PATH.get(uri)
        name = route.rpc if route is not None else "other"
        if protocol == "grpc":
            code = next((c for c in grpc_codes.split("|") if c and c != "-"), "")
            label = _CODE_NAMES.get(code, code or _FROM_HTTP.get(status, "UNKNOWN"))
        else:
            label = _FROM_HTTP.get(status, status)
        self.requests.labels(name, protocol, key if key != "-" else "", label).inc()
        with contextlib.suppress(ValueError):
            self.latency.labels(name, protocol).observe(float(total))
        # retried calls log "t1, t2": the backend's time is their sum
        times = [t for t in upstream.replace(",", " ").split() if t not in ("-", "")]
        if times:
            with contextlib.suppress(ValueError):
                self.backend.labels(name, protocol).observe(sum(float(t) for t in times))


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, metrics: AccessMetrics) -> None:
        self.metrics = metrics

    def datagram_received(self, data: bytes, addr: object) -> None:
        text = data.decode("utf-8", "replace")
        _, sep, line = text.partition("augur: ")
        if sep:
            self.metrics.record(line.strip())


async def listen(metrics: AccessMetrics, host: str = "127.0.0.1") -> tuple[object, int]:
    """Start the receiver on a free loopback port: (transport, port)."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Receiver(metrics), local_addr=(host, 0)
    )
    port = int(transport.get_extra_info("sockname")[1])
    return transport, port
