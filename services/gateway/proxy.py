"""The gateway's gRPC pass-through: every ``augur.<service>.v1`` RPC, authenticated,
authorised, rate-limited, and forwarded as raw bytes to the service's backend.

Messages are never decoded: the request bytes go to the backend and the
reply bytes come back, so the gateway costs one extra hop and the checks.
The client's deadline is passed on (or ``gateway_default_timeout_ms`` when
it set none); a backend's status and message come back unchanged; a backend
that cannot be reached is UNAVAILABLE. Rate limits are token buckets per API
key, per gateway process.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from grpc import aio

from services.common.errors import ResourceExhausted, Unauthenticated, Unavailable, Upstream
from services.common.settings import GatewaySettings
from services.gateway.keys import ApiKey, KeyStore

# importing the generated modules registers every Augur service in the descriptor pool
from augur.churn.v1 import churn_pb2  # noqa: F401  # isort: skip
from augur.contact.v1 import contact_pb2  # noqa: F401  # isort: skip
from augur.features.v1 import features_pb2  # noqa: F401  # isort: skip
from augur.recommend.v1 import recommend_pb2  # noqa: F401  # isort: skip

_ROUTED = re.compile(r"^/(augur\.(churn|recommend|contact|features)\.v1\.[A-Za-z]+)/([A-Za-z]+)$")


class TokenBuckets:
    """One token bucket per API key: ``rate`` per second, up to ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key_id: str) -> float:
        """0 when the call may go; otherwise the seconds until a token is available."""
        now = time.monotonic()
        tokens, last = self._buckets.get(key_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key_id] = (tokens - 1.0, now)
        return 0.0


class Gateway(grpc.GenericRpcHandler):
    """Routes ``/augur.<service>.v1.<Service>/<Rpc>`` to the service's backend."""

    def __init__(self, settings: GatewaySettings, keys: KeyStore) -> None:
        self.settings = settings
        self.keys = keys
        self.limits = TokenBuckets(settings.gateway_rate_per_second, settings.gateway_burst)
        self.channels = {
            name: aio.insecure_channel(
                address,
                options=[
                    ("grpc.max_receive_message_length", settings.max_message_bytes),
                    ("grpc.max_send_message_length", settings.max_message_bytes),
                ],
            )
            for name, address in settings.backends().items()
        }
        self._verified: dict[tuple[str, str], tuple[ApiKey, float]] = {}
        self._handlers: dict[str, grpc.RpcMethodHandler | None] = {}

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        if method in self._handlers:
            return self._handlers[method]
        handler = self._build(method)
        self._handlers[method] = handler
        return handler

    def _build(self, method: str) -> grpc.RpcMethodHandler | None:
        m = _ROUTED.match(method)
        if m is None:
            return None  # health, reflection, echo, the gateway's own RPCs
        try:
            desc = descriptor_pool.Default().FindServiceByName(m.group(1))
            rpc = desc.methods_by_name[m.group(3)]
        except KeyError:
            return None  # unknown method: UNIMPLEMENTED
        service = m.group(2)
        if rpc.server_streaming:
            return grpc.unary_stream_rpc_method_handler(self._stream(method, service))
        return grpc.unary_unary_rpc_method_handler(self._unary(method, service))

    # ------------------------------------------------------------ checks
    async def _admit(self, method: str, context: aio.ServicerContext) -> None:
        token = ""
        for key, value in context.invocation_metadata() or ():
            if key == "x-api-key":
                token = str(value)
            elif key == "authorization" and str(value).lower().startswith("bearer "):
                token = str(value)[7:].strip()
        if not token:
            raise Unauthenticated(
                "an API key is required: send metadata 'x-api-key: ak_<id>.<secret>' "
                "(or 'authorization: Bearer ...')"
            )
        now = time.monotonic()
        cached = self._verified.get((token, method))
        if cached is not None and cached[1] > now:
            key = cached[0]
        else:
            key = self.keys.authorize(token, method)
            if len(self._verified) > 100_000:
                self._verified.clear()
            self._verified[(token, method)] = (key, now + self.settings.gateway_key_cache_seconds)
        wait = self.limits.take(key.key_id)
        if wait > 0:
            context.set_trailing_metadata((("retry-after", f"{wait:.3f}"),))
            raise ResourceExhausted(
                f"rate limit of API key {key.key_id} ({key.name}) reached "
                f"({self.settings.gateway_rate_per_second:g}/s, burst "
                f"{self.settings.gateway_burst}); retry after {wait:.3f} s"
            )

    def _target(self, service: str) -> aio.Channel:
        channel = self.channels.get(service)
        if channel is None:
            raise Unavailable(f"no backend is configured for the {service} service")
        return channel

    def _timeout(self, context: aio.ServicerContext) -> float:
        remaining = context.time_remaining()
        default = self.settings.gateway_default_timeout_ms / 1000
        return default if remaining is None else max(remaining, 0.0)

    # ------------------------------------------------------------ forwarding
    def _unary(
        self, method: str, service: str
    ) -> Callable[[bytes, aio.ServicerContext], Awaitable[bytes]]:
        async def forward(request: bytes, context: aio.ServicerContext) -> bytes:
            await self._admit(method, context)
            call = self._target(service).unary_unary(method)
            try:
                reply: Any = await call(request, timeout=self._timeout(context))
            except aio.AioRpcError as exc:
                raise Upstream(exc.code(), _upstream_message(exc, service)) from None
            return bytes(reply)

        return forward

    def _stream(
        self, method: str, service: str
    ) -> Callable[[bytes, aio.ServicerContext], AsyncIterator[bytes]]:
        async def forward(request: bytes, context: aio.ServicerContext) -> AsyncIterator[bytes]:
            await self._admit(method, context)
            call = self._target(service).unary_stream(method)
            try:
                async for reply in call(request, timeout=self._timeout(context)):
                    yield bytes(reply)
            except aio.AioRpcError as exc:
                raise Upstream(exc.code(), _upstream_message(exc, service)) from None

        return forward


def _upstream_message(exc: aio.AioRpcError, service: str) -> str:
    if exc.code() is grpc.StatusCode.UNAVAILABLE:
        return f"the {service} service is unavailable: {exc.details() or 'no connection'}"
    return exc.details() or ""
