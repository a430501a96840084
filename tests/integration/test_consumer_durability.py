"""Kill the consumer with SIGKILL mid-stream, repeatedly: every event counts exactly once (the
scenario `make chaos` runs too)."""

from __future__ import annotations

import pytest
import redis

from augur.common.settings import ServerSettings
from augur.devtools.chaos.scenarios import consumer_sigkill

pytestmark = pytest.mark.integration


def test_sigkill_loses_nothing_and_counts_nothing_twice(
    settings: ServerSettings, redis_client: redis.Redis
) -> None:
    report = consumer_sigkill(settings, redis_client)
    report.print()
    assert report.ok, report.failures
    assert "4 kills" in report.did[0]
