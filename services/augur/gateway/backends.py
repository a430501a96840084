"""The gateway's own calls to the backends (REST/JSON and the composition RPCs).

Each call gets a deadline (the caller's, capped), is retried only when it is an
idempotent read that failed with UNAVAILABLE, at most ``MAX_RETRIES`` times after a
jittered exponential back-off and while the retry budget allows it, and goes through the
backend's circuit breaker: after ``gateway_breaker_failures`` consecutive failures the
circuit opens and calls fail at once with UNAVAILABLE for ``gateway_breaker_reset_seconds``;
then one trial call decides whether it closes again. Only a backend that did not answer
counts as a failure (no connection, a deadline passed): an error the service raised itself
(marked ``augur-answered``, e.g. UNAVAILABLE because its Redis is down) says it is up, so
it never opens the circuit of a backend whose health check says SERVING.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc import aio

from augur.common.errors import Unavailable, Upstream
from augur.common.interceptors import ANSWERED
from augur.common.settings import GatewaySettings
from augur.gateway.routes import Route

# failures that say the backend is in trouble (an INVALID_ARGUMENT says nothing about it)
_FAILURES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN}
)
MAX_RETRIES = 2  # per call
BACKOFF_SECONDS = 0.025  # the first retry waits up to this, the next up to twice as long


def backoff(attempt: int) -> float:
    """The pause before retry ``attempt`` (0-based): full jitter over an exponential cap, so
    the retries of many callers spread out instead of arriving together."""
    return random.uniform(0.0, BACKOFF_SECONDS * 2**attempt)


def answered(exc: aio.AioRpcError) -> bool:
    """Whether the backend itself raised the error (it is up)."""
    return any(k == ANSWERED for k, _ in (exc.trailing_metadata() or ()))


class CircuitBreaker:
    """Closed -> open after N consecutive failures -> one trial after the reset time."""

    def __init__(self, failures: int, reset_seconds: float) -> None:
        self.threshold = failures
        self.reset_seconds = reset_seconds
        self.failures = 0
        self.opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at >= self.reset_seconds:
            return "half-open"
        return "open"

    def admit(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial:
            self._trial = True
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial = False

    def failure(self) -> None:
        self.failures += 1
        self._trial = False
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = time.monotonic()


class RetryBudget:
    """Retries may add at most ``ratio`` of the calls, plus a small reserve."""

    def __init__(self, ratio: float, reserve: float = 10.0) -> None:
        self.ratio = ratio
        self.cap = reserve
        self.tokens = reserve if ratio > 0 else 0.0

    def called(self) -> None:
        self.tokens = min(self.cap, self.tokens + self.ratio)

    def take(self) -> bool:
        if self.tokens >= 1.0 - 1e-9:  # ten calls at 0.1 make one retry
            self.tokens -= 1.0
            return True
        return False


def channel_to(address: str, settings: GatewaySettings) -> aio.Channel:
    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
    ]
    if not settings.gateway_backend_ca_file:
        return aio.insecure_channel(address, options=options)
    key = cert = None
    if settings.gateway_backend_cert_file:
        key = Path(settings.gateway_backend_key_file).read_bytes()
        cert = Path(settings.gateway_backend_cert_file).read_bytes()
    credentials = grpc.ssl_channel_credentials(
        Path(settings.gateway_backend_ca_file).read_bytes(), key, cert
    )
    return aio.secure_channel(address, credentials, options=options)


class Backends:
    """One channel, breaker and retry budget per backend service."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.channels = {name: channel_to(a, settings) for name, a in settings.backends().items()}
        self.breakers = {
            name: CircuitBreaker(
                settings.gateway_breaker_failures, settings.gateway_breaker_reset_seconds
            )
            for name in self.channels
        }
        self.budgets = {name: RetryBudget(settings.gateway_retry_budget) for name in self.channels}

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()

    def _channel(self, route: Route) -> aio.Channel:
        channel = self.channels.get(route.service)
        if channel is None:
            raise Unavailable(f"no backend is configured for the {route.service} service")
        return channel

    def _admit(self, route: Route) -> CircuitBreaker:
        breaker = self.breakers[route.service]
        if not breaker.admit():
            raise Unavailable(
                f"the {route.service} service is unavailable: its circuit is open after "
                f"{breaker.failures} consecutive failures; next trial within "
                f"{self.settings.gateway_breaker_reset_seconds:g} s"
            )
        return breaker

    async def unary(self, route: Route, request: Message, seconds: float) -> Any:
        """One unary call with deadline, retry policy and breaker; errors as ``Upstream``."""
        self._channel(route)
        budget = self.budgets[route.service]
        budget.called()
        deadline = time.monotonic() + seconds
        attempt = 0
        while True:
            breaker = self._admit(route)
            call = self._channel(route).unary_unary(
                route.grpc_path,
                request_serializer=route.request.SerializeToString,
                response_deserializer=route.response.FromString,
            )
            try:
                reply = await call(request, timeout=max(0.001, deadline - time.monotonic()))
            except aio.AioRpcError as exc:
                code = exc.code()
                if code in _FAILURES and not answered(exc):
                    breaker.failure()
                else:
                    breaker.success()
                pause = backoff(attempt)
                retry = (
                    route.read
                    and code is grpc.StatusCode.UNAVAILABLE
                    and attempt < MAX_RETRIES
                    and deadline - time.monotonic() > pause + 0.002
                    and budget.take()
                )
                if retry:
                    attempt += 1
                    await asyncio.sleep(pause)
                    continue
                raise Upstream(code, _message(exc, route)) from None
            breaker.success()
            return reply

    async def stream(self, route: Route, request: Message, seconds: float) -> AsyncIterator[Any]:
        """A server-streaming call (never retried: part of it may have been delivered)."""
        breaker = self._admit(route)
        call = self._channel(route).unary_stream(
            route.grpc_path,
            request_serializer=route.request.SerializeToString,
            response_deserializer=route.response.FromString,
        )
        try:
            async for reply in call(request, timeout=seconds):
                yield reply
        except aio.AioRpcError as exc:
            if exc.code() in _FAILURES and not answered(exc):
                breaker.failure()
            raise Upstream(exc.code(), _message(exc, route)) from None
        breaker.success()


def _message(exc: aio.AioRpcError, route: Route) -> str:
    if exc.code() is grpc.StatusCode.UNAVAILABLE:
        return f"the {route.service} service is unavailable: {exc.details() or 'no connection'}"
    if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"the {route.service} service did not answer within the deadline"
    return exc.details() or ""
