"""REST/JSON for every public RPC, served by the gateway's Python process behind nginx.

nginx has already checked the API key, its scopes and the rate limit (and passes the key id
as ``X-Augur-Key-Id``); this server turns the JSON body into the request message, calls the
backend (or the composition) and answers the response message as JSON. Errors are
``{"error": {"code": <HTTP status>, "status": "<gRPC code>", "message": ...}}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from augur.common.errors import AugurError, InvalidArgument, Upstream
from augur.common.settings import GatewaySettings
from augur.gateway.access import HTTP_STATUS
from augur.gateway.backends import Backends
from augur.gateway.openapi import document
from augur.gateway.routes import BY_REST_PATH, Route

TIMEOUT_HEADER = "X-Augur-Timeout-Ms"
Local = Callable[[Any, float | None], Awaitable[Message]]


def to_json(message: Message) -> str:
    return json_format.MessageToJson(message, indent=None)


def error_response(code: grpc.StatusCode, message: str) -> web.Response:
    status = HTTP_STATUS.get(code, 500)
    body = {"error": {"code": status, "status": code.name, "message": message}}
    return web.json_response(body, status=status)


class RestApi:
    def __init__(
        self,
        settings: GatewaySettings,
        backends: Backends,
        local: dict[str, Local],
        health: Callable[[], dict[str, str]],
    ) -> None:
        self.settings = settings
        self.backends = backends
        self.local = local
        self.health = health
        self.openapi = json.dumps(document())

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.settings.max_message_bytes)
        app.router.add_get("/openapi.json", self._openapi)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_route("*", "/v1/{service}/{rpc}", self._call)
        return app

    async def _openapi(self, request: web.Request) -> web.Response:
        return web.Response(text=self.openapi, content_type="application/json")

    async def _healthz(self, request: web.Request) -> web.Response:
        backends = self.health()
        ok = all(state == "SERVING" for state in backends.values())
        return web.json_response(
            {"status": "SERVING" if ok else "NOT_SERVING", "backends": backends},
            status=200 if ok else 503,
        )

    def _timeout(self, request: web.Request) -> float:
        raw = request.headers.get(TIMEOUT_HEADER)
        if raw is None:
            return self.settings.gateway_default_timeout_ms / 1000
        try:
            ms = int(raw)
        except ValueError:
            raise InvalidArgument(f"{TIMEOUT_HEADER} must be milliseconds, got '{raw}'") from None
        if not 1 <= ms <= 600_000:
            raise InvalidArgument(f"{TIMEOUT_HEADER} must be 1..600000, got {ms}")
        return ms / 1000

    async def _call(self, request: web.Request) -> web.StreamResponse:
        route = BY_REST_PATH.get(request.path)
        if route is None:
            return error_response(
                grpc.StatusCode.NOT_FOUND, f"{request.path} is not a route of the Augur REST API"
            )
        if request.method != "POST":
            return error_response(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{request.path} takes POST with a JSON body, not {request.method}",
            )
        try:
            timeout = self._timeout(request)
            message = _parse(route, await request.read())
            if route.streaming:
                return await self._stream(request, route, message, timeout)
            local = self.local.get(route.rpc)
            if local is not None:
                reply = await local(message, timeout)
            elif route.service == "gateway":
                raise Upstream(grpc.StatusCode.UNIMPLEMENTED, f"{route.rpc} is not built yet")
            else:
                reply = await self.backends.unary(route, message, timeout)
        except AugurError as exc:
            return error_response(exc.code, exc.message)
        return web.Response(text=to_json(reply), content_type="application/json")

    async def _stream(
        self, request: web.Request, route: Route, message: Message, seconds: float
    ) -> web.StreamResponse:
        replies = self.backends.stream(route, message, seconds)
        try:
            first = await anext(replies, None)
        except AugurError as exc:
            return error_response(exc.code, exc.message)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        try:
            if first is not None:
                await response.write(to_json(first).encode() + b"\n")
            async for reply in replies:
                await response.write(to_json(reply).encode() + b"\n")
        except AugurError as exc:  # after the first line the status is sent: say it in-band
            status = HTTP_STATUS.get(exc.code, 500)
            line = {"error": {"code": status, "status": exc.code.name, "message": exc.message}}
            await response.write(json.dumps(line).encode() + b"\n")
        await response.write_eof()
        return response


def _parse(route: Route, body: bytes) -> Message:
    message = route.request()
    try:
        json_format.Parse(body.decode("utf-8") or "{}", message)
    except (json_format.ParseError, UnicodeDecodeError) as exc:
        raise InvalidArgument(
            f"the body is not a valid {route.request.DESCRIPTOR.full_name} in protobuf JSON: {exc}"
        ) from None
    return message
