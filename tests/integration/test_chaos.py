"""`make chaos` on a small shop: Redis killed mid-load and back, the MLflow server gone,
backends killed behind the gateway (the consumer scenario runs in test_consumer_durability)."""

from __future__ import annotations

from pathlib import Path

import pytest

from augur.devtools.chaos.run import run_chaos

pytestmark = pytest.mark.integration


def test_faults_degrade_cleanly_and_recover(tmp_path: Path) -> None:
    reports = run_chaos(tmp_path / "chaos", customers=1000, only=("redis", "mlflow", "backend"))
    assert [r.scenario for r in reports] == [
        "Redis killed mid-load, then back",
        "MLflow tracking server unreachable",
        "backend services killed behind the gateway",
    ]
    failed = {r.scenario: r.failures for r in reports if not r.ok}
    assert not failed, failed
    assert all(r.did and r.saw for r in reports)
