"""`make chaos` on a small shop: Redis killed mid-load and back, the MLflow server gone,
backends killed behind the gateway (the consumer scenario runs in test_consumer_durability).
Each expectation is checked here on what the scenario measured."""

from __future__ import annotations

from pathlib import Path

from augur.devtools.chaos.run import run_chaos
from augur.devtools.chaos.scenarios import RECOVERY


def test_faults_degrade_cleanly_and_recover(tmp_path: Path) -> None:
    reports = run_chaos(tmp_path / "chaos", customers=1000, only=("redis", "mlflow", "backend"))
    redis, mlflow, backend = reports
    assert redis.scenario == "Redis killed mid-load, then back"
    assert mlflow.scenario == "MLflow tracking server unreachable"
    assert backend.scenario == "backend services killed behind the gateway"

    # Redis: OK before, UNAVAILABLE (never a hang) while down, back within RECOVERY seconds
    f = redis.facts
    assert f["codes_before"] == {"OK"}
    assert f["calls_while_down"] > 0 and f["codes_while_down"] == {"UNAVAILABLE"}
    assert "DEADLINE_EXCEEDED" not in f["codes_of_the_run"]
    assert f["recovery_seconds"] <= RECOVERY
    assert f["calls_after_recovery"] > 0 and f["codes_after_recovery"] == {"OK"}

    # MLflow: the loaded model keeps serving, and a restart serves it from the local cache
    f = mlflow.facts
    assert f["served_while_down"] == 50 and f["versions_while_down"] == f["versions_before"]
    assert f["served_after_restart"] == 20
    assert f["versions_after_restart"] == f["versions_before"] and f["loaded_from_cache"]

    # backends: a partial answer naming the missing part, then UNAVAILABLE, all in time
    f = backend.facts
    assert f["healthy"] == ("OK", [])
    code, missing, seconds = f["recommend_down"]
    assert (code, missing) == ("OK", ["recommendations"]) and seconds < f["deadline"]
    code, seconds = f["all_down"]
    assert code.startswith("UNAVAILABLE") and seconds < f["deadline"]
    code, seconds = f["pass_through"]
    assert code.startswith("UNAVAILABLE") and seconds < f["deadline"]

    assert all(r.ok and r.did and r.saw for r in reports), [r.failures for r in reports]
