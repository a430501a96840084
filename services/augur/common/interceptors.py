"""The chassis interceptor: request id, JSON access log, metrics, error mapping.

One interceptor does all four so a call pays for one wrapper. Health and
reflection calls are passed through untouched (not counted, not logged).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import redis.exceptions
from grpc import aio

from augur.common.errors import AugurError, InvalidArgument
from augur.common.logs import request_id_var
from augur.common.metrics import ServerMetrics

log = logging.getLogger("augur.access")
ANSWERED = "augur-answered"  # trailing metadata of every error a service raises itself

_PASS_THROUGH = ("/grpc.health.v1.", "/grpc.reflection.")


def _status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """Map an exception raised by a handler to a status code and a message."""
    if isinstance(exc, AugurError):
        return exc.code, exc.message
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return grpc.StatusCode.UNAVAILABLE, "the feature store (Redis) is unreachable; retry later"
    if isinstance(exc, TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, "a dependency did not answer in time"
    return grpc.StatusCode.INTERNAL, "internal error; see the service log for this request id"


class ChassisInterceptor(aio.ServerInterceptor):
    """Wraps every unary-unary and unary-stream handler of an Augur service."""

    def __init__(self, service_name: str, metrics: ServerMetrics) -> None:
        self.service_name = service_name
        self.metrics = metrics
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}
        self._counters: dict[tuple[str, grpc.StatusCode], Any] = {}
        self._histograms: dict[str, Any] = {}
        self._in_flight = metrics.in_flight.labels(service_name)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method_path: str = handler_call_details.method  # type: ignore[attr-defined]
        cached = self._wrapped.get(method_path)
        if cached is not None:  # wrapping once per method, not once per call
            return cached
        handler = await continuation(handler_call_details)
        if handler is None or method_path.startswith(_PASS_THROUGH):
            return handler
        method = method_path.rsplit("/", 1)[-1]
        wrapped = handler
        # requests arrive as bytes and are parsed inside the wrapper: a body that is not the
        # request message (bad wire format, invalid UTF-8 in a string) is INVALID_ARGUMENT
        # with the parser's reason, where grpc's own deserialisation would answer UNKNOWN
        parse = handler.request_deserializer
        if handler.unary_unary is not None:
            wrapped = grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, method, parse),
                response_serializer=handler.response_serializer,
            )
        elif handler.unary_stream is not None:
            wrapped = grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method, parse),
                response_serializer=handler.response_serializer,
            )
        self._wrapped[method_path] = wrapped
        return wrapped

    def _begin(self, context: aio.ServicerContext) -> str:
        rid = ""
        for key, value in context.invocation_metadata() or ():
            if key == "x-request-id" and isinstance(value, str) and 0 < len(value) <= 64:
                rid = value
                break
        rid = rid or uuid.uuid4().hex[:16]
        request_id_var.set(rid)
        self._in_flight.inc()
        return rid

    def _finish(self, method: str, code: grpc.StatusCode, started: float) -> None:
        elapsed = time.perf_counter() - started
        self._in_flight.dec()
        counter = self._counters.get((method, code))
        if counter is None:  # label lookups take a lock: resolve each child once
            counter = self.metrics.requests.labels(self.service_name, method, code.name)
            self._counters[(method, code)] = counter
        histogram = self._histograms.get(method)
        if histogram is None:
            histogram = self.metrics.latency.labels(self.service_name, method)
            self._histograms[method] = histogram
        counter.inc()
        histogram.observe(elapsed)
        if code is not grpc.StatusCode.OK or log.isEnabledFor(logging.DEBUG):
            level = logging.ERROR if code is grpc.StatusCode.INTERNAL else logging.INFO
            log.log(
                level,
                "rpc",
                extra={"method": method, "code": code.name, "ms": round(elapsed * 1000, 3)},
            )

    def _wrap_unary(
        self, behaviour: Callable[..., Any], method: str, parse: Callable[[bytes], Any] | None
    ) -> Callable[..., Awaitable[Any]]:
        async def wrapped(raw: Any, context: aio.ServicerContext) -> Any:
            started = time.perf_counter()
            rid = self._begin(context)
            code = grpc.StatusCode.OK
            try:
                return await behaviour(_parsed(raw, parse), context)
            except Exception as exc:
                code = _already_set(context) or _status_for(exc)[0]
                await _abort(context, exc, rid, code)
            finally:
                self._finish(method, code, started)

        return wrapped

    def _wrap_stream(
        self, behaviour: Callable[..., Any], method: str, parse: Callable[[bytes], Any] | None
    ) -> Callable[..., AsyncIterator[Any]]:
        async def wrapped(raw: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            rid = self._begin(context)
            code = grpc.StatusCode.OK
            try:
                async for item in behaviour(_parsed(raw, parse), context):
                    yield item
            except Exception as exc:
                code = _already_set(context) or _status_for(exc)[0]
                await _abort(context, exc, rid, code)
            finally:
                self._finish(method, code, started)

        return wrapped


def _parsed(raw: Any, parse: Callable[[bytes], Any] | None) -> Any:
    if parse is None:
        return raw
    try:
        return parse(raw)
    except Exception as exc:  # DecodeError, and UnicodeDecodeError on invalid UTF-8
        owner = getattr(getattr(parse, "__self__", None), "DESCRIPTOR", None)
        name = getattr(owner, "full_name", "request")
        raise InvalidArgument(f"the request is not a valid {name} message: {exc}") from None


def _already_set(context: aio.ServicerContext) -> grpc.StatusCode | None:
    """The code of an abort() already issued by the handler, if any."""
    code = context.code()
    if code is None or code == grpc.StatusCode.OK:
        return None
    return code if isinstance(code, grpc.StatusCode) else None


async def _abort(
    context: aio.ServicerContext, exc: BaseException, rid: str, code: grpc.StatusCode
) -> None:
    if isinstance(exc, aio.AbortError):
        raise exc
    _, message = _status_for(exc)
    if code is grpc.StatusCode.INTERNAL:
        log.error("unhandled error", exc_info=exc)
        message = f"{message} (request id {rid})"
    # the service itself answered: it is up, whatever the code (a client's circuit breaker
    # must not open on a service that reports its own dependency down)
    await context.abort(code, message, trailing_metadata=((ANSWERED, "1"),))
