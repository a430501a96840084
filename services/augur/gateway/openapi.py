"""The OpenAPI 3 document of the REST/JSON API, generated from the protobuf descriptors.

Every public RPC is ``POST /v1/<service>/<Rpc>`` with the request message as its JSON body
and the response message as its answer, in the standard protobuf JSON mapping (lowerCamelCase
names, 64-bit integers as strings, enums by name, timestamps as RFC 3339). A server-streaming
RPC answers ``application/x-ndjson``: one message per line.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from augur.common.ids import MAX_ID
from augur.gateway.routes import ROUTES

_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    FieldDescriptor.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    FieldDescriptor.TYPE_INT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_SINT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_UINT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_FIXED64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "format": "byte"},
}
_WELL_KNOWN = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?s$"},
}
ERROR_STATUSES = {
    "400": "INVALID_ARGUMENT or FAILED_PRECONDITION: the request cannot be served as sent",
    "401": "UNAUTHENTICATED: no valid API key",
    "403": "PERMISSION_DENIED: the API key lacks the scope",
    "404": "NOT_FOUND",
    "429": "RESOURCE_EXHAUSTED: rate limit reached; see Retry-After",
    "503": "UNAVAILABLE: a backend could not be reached",
    "504": "DEADLINE_EXCEEDED",
}


# identifiers (every field named *_id or *_ids) are checked by the services as 1..128
# printable characters (an item event may leave its customer out, hence no minLength)
_IDENTIFIER = {
    "type": "string",
    "maxLength": MAX_ID,
    "pattern": "^[^\\u0000-\\u001f\\u007f]*$",
    "description": f"an identifier: at most {MAX_ID} printable characters",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _field(field: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        message = field.message_type
        if message.GetOptions().map_entry:
            value = message.fields_by_name["value"]
            return {"type": "object", "additionalProperties": _single(value, schemas)}
    item = _single(field, schemas)
    if field.is_repeated:
        return {"type": "array", "items": item}
    return item


def _single(field: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        name = field.message_type.full_name
        if name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[name])
        _message(field.message_type, schemas)
        return _ref(name)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
    if field.type == FieldDescriptor.TYPE_STRING and field.name.endswith(("_id", "_ids")):
        return dict(_IDENTIFIER)
    return dict(_SCALARS[field.type])


def _message(desc: Any, schemas: dict[str, Any]) -> None:
    if desc.full_name in schemas:
        return
    schemas[desc.full_name] = {}  # placed first: recursive messages refer to it
    properties = {f.json_name: _field(f, schemas) for f in desc.fields}
    schemas[desc.full_name] = {
        "type": "object",
        "description": f"protobuf message {desc.full_name}",
        "properties": properties,
        "additionalProperties": False,
    }


def document(server_url: str = "/") -> dict[str, Any]:
    """The whole OpenAPI 3.0 document."""
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "status", "message"],
                    "properties": {
                        "code": {"type": "integer", "description": "HTTP status"},
                        "status": {"type": "string", "description": "gRPC status code name"},
                        "message": {"type": "string"},
                    },
                }
            },
        }
    }
    paths: dict[str, Any] = {}
    errors = {
        status: {
            "description": text,
            "content": {"application/json": {"schema": _ref("Error")}},
        }
        for status, text in ERROR_STATUSES.items()
    }
    for route in sorted(ROUTES.values(), key=lambda r: r.rest_path):
        _message(route.request.DESCRIPTOR, schemas)
        _message(route.response.DESCRIPTOR, schemas)
        media = "application/x-ndjson" if route.streaming else "application/json"
        ok = {
            "description": (
                "one JSON message per line" if route.streaming else "the RPC's response"
            ),
            "content": {media: {"schema": _ref(route.response.DESCRIPTOR.full_name)}},
        }
        paths[route.rest_path] = {
            "post": {
                "operationId": route.rpc.replace(".", "_"),
                "tags": [route.service],
                "summary": f"{route.method.containing_service.full_name}.{route.method.name}",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": _ref(route.request.DESCRIPTOR.full_name)}
                    },
                },
                "responses": {"200": ok, **errors},
            }
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Augur gateway REST/JSON API",
            "version": "1",
            "description": "Churn, recommendations, next-best-contact and their "
            "composition. Every gRPC RPC of augur.*.v1 is also POST /v1/<service>/<Rpc> "
            "with the standard protobuf JSON mapping. Optional header X-Augur-Timeout-Ms "
            "sets the deadline.",
        },
        "servers": [{"url": server_url}],
        "security": [{"ApiKey": []}, {"Bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
