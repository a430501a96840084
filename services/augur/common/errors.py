"""Domain errors and their gRPC status codes.

Core code raises these; the error interceptor is the one place that turns
them into a gRPC status, so every service reports the same condition with
the same code.
"""

from __future__ import annotations

import grpc


class AugurError(Exception):
    """Base of every error a client should see; carries its status code."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(AugurError):
    """The request is malformed; retrying it unchanged will fail again."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(AugurError):
    """The named entity does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class FailedPrecondition(AugurError):
    """The system is not in the state the call needs (e.g. nothing scored yet)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(AugurError):
    """A dependency (Redis, the model) is not reachable; the call may be retried."""

    code = grpc.StatusCode.UNAVAILABLE


class ResourceExhausted(AugurError):
    """A limit was reached (rate limit, batch size)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class PermissionDenied(AugurError):
    """The caller is known but lacks the scope."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(AugurError):
    """No valid credentials."""

    code = grpc.StatusCode.UNAUTHENTICATED


class Upstream(AugurError):
    """A backend's own status, passed on unchanged by the gateway."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
