"""`augur chaos` (`make chaos`): build a stack of its own, break it in four ways, print what
was done and what was seen; exit 1 when an expectation failed."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import redis

from augur.common.settings import ServerSettings, load_settings
from augur.devtools.chaos.scenarios import (
    Report,
    backend_killed,
    consumer_sigkill,
    mlflow_outage,
    redis_outage,
)
from augur.devtools.chaos.stack import ChaosStack, prepare

SCENARIOS = ("consumer", "redis", "mlflow", "backend")  # the last one leaves backends down


def run_chaos(
    root: Path = Path(".chaos"), customers: int = 1000, only: tuple[str, ...] = SCENARIOS
) -> list[Report]:
    started = time.perf_counter()
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenarios {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    print(f"== set-up in {root}")
    saved = dict(os.environ)  # the stack's settings go to its processes through the environment
    reports: list[Report] = []
    try:
        stack = prepare(root, customers, lambda line: print(f"   {line}"))
        print(f"   ready in {time.perf_counter() - started:.0f} s")
        try:
            for name in (s for s in SCENARIOS if s in only):
                report = _scenario(name, stack)
                report.print()
                reports.append(report)
        finally:
            stack.down()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    passed = sum(r.ok for r in reports)
    print(
        f"\n{passed} of {len(reports)} scenarios passed in {time.perf_counter() - started:.0f} s"
        f" (logs in {root / 'logs'} and {root / 'state' / 'logs'})"
    )
    return reports


def _scenario(name: str, stack: ChaosStack) -> Report:
    if name == "consumer":
        settings = load_settings(
            ServerSettings,
            redis_url=stack.settings.redis_url,
            # a stream of its own: no consumer of the stack reads it
            redis_prefix=f"{stack.settings.redis_prefix}-ingest",
        )
        return consumer_sigkill(settings, redis.Redis.from_url(settings.redis_url))
    if name == "redis":
        return asyncio.run(redis_outage(stack))
    if name == "mlflow":
        return asyncio.run(mlflow_outage(stack))
    return asyncio.run(backend_killed(stack))
