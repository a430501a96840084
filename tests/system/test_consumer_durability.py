"""Kill the consumer with SIGKILL mid-stream, repeatedly: every event counts exactly once (the
scenario `make chaos` runs too)."""

from __future__ import annotations

import redis

from augur.common.settings import ServerSettings
from augur.devtools.chaos.scenarios import consumer_sigkill


def test_sigkill_loses_nothing_and_counts_nothing_twice(
    settings: ServerSettings, redis_client: redis.Redis
) -> None:
    report = consumer_sigkill(settings, redis_client)
    f = report.facts
    assert f["kills"] == 4
    each = f["orders_sent"] // f["customers"]
    assert f["orders_counted_per_customer"] == [each] * f["customers"]  # none lost, none twice
    assert f["resent_accepted"] == 0  # the re-sent batch is recognised
    assert f["pending"] == 0 and f["exit_code"] == 0
    assert report.ok, report.failures
