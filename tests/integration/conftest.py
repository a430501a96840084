"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.common.settings import ServerSettings
from tests.integration.gateway_stack import Stack, create_keys, start_backends


@pytest.fixture
async def stack(
    settings: ServerSettings,
    tmp_path: Path,
    shop_data: Path,
    churn_trained: Any,
    recommend_trained: Any,
    contact_trained: Any,
) -> AsyncIterator[Stack]:
    s = await start_backends(
        settings, tmp_path, shop_data, churn_trained[0], recommend_trained[0], contact_trained[0]
    )
    s.tokens = create_keys(settings)
    yield s
    for server in s.backends.values():
        await server.stop(0)
