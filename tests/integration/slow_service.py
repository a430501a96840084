"""A test-only service on the real chassis: `Sleep` answers after N seconds.

Run as a script it serves through ``augur.common.server.run`` (signal
handling included) and prints its port, for the SIGTERM test.
"""

from __future__ import annotations

import asyncio
import os
import sys

import grpc
from grpc import aio

from augur.common.server import ServiceSpec, run
from augur.common.settings import ServerSettings


def slow_spec(ready: asyncio.Event | None = None) -> ServiceSpec:
    async def sleep(request: bytes, context: aio.ServicerContext) -> bytes:
        await asyncio.sleep(float(request.decode()))
        return b"done"

    def register(server: aio.Server) -> None:
        handler = grpc.method_handlers_generic_handler(
            "augur.test.Slow", {"Sleep": grpc.unary_unary_rpc_method_handler(sleep)}
        )
        server.add_generic_rpc_handlers((handler,))

    async def readiness() -> bool:
        return ready is None or ready.is_set()

    return ServiceSpec("slow", ["augur.test.Slow"], register, readiness)


async def _build(settings: ServerSettings, registry: object = None) -> ServiceSpec:
    return slow_spec()


if __name__ == "__main__":
    port = int(sys.argv[1])
    os.environ.setdefault("AUGUR_LOG_LEVEL", "INFO")
    run(ServerSettings(grpc_port=port, metrics_port=0, grace_seconds=5), _build, "slow")
