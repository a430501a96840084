"""Shared by the services' tests: assert that a call fails with a code and a message."""

from __future__ import annotations

import grpc
import pytest


async def expect(code: grpc.StatusCode, call: object, text: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    assert err.value.code() is code, err.value.details()
    assert text in (err.value.details() or ""), err.value.details()
