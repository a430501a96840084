"""A real Prometheus (Debian's package) scraping a running features service and ingestion
consumer, with Augur's rules loaded: the targets are up and every rule's expression and the
alert group evaluate without error."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import redis
import yaml
from prometheus_client import CollectorRegistry, start_http_server

from augur.common.net import free_port
from augur.common.server import AugurServer
from augur.common.settings import ServerSettings, load_settings
from augur.features.v1 import features_pb2
from augur.ingest.consumer import Consumer
from augur.ingest.main import build_spec
from tests.stack_fixtures import start_prometheus

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"


def _get(port: int, path: str, **params: str) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}{query}", timeout=5) as reply:
        return json.loads(reply.read())


async def _until(check: Any, within: float) -> Any:
    deadline = time.monotonic() + within
    while True:
        try:
            value = await asyncio.to_thread(check)
            if value:
                return value
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("Prometheus did not get there in time")
        await asyncio.sleep(0.25)


def _every_second(directory: Path) -> Path:
    """The rules with each group evaluated every second. Prometheus starts a group at an offset
    anywhere within its interval (30 s in production), so with the real interval the first
    evaluation could come after the test's wait; the rules themselves are unchanged."""
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        group["interval"] = "1s"
    path = directory / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    return path


async def test_prometheus_scrapes_the_stack_and_evaluates_every_rule(
    settings: ServerSettings, redis_client: redis.Redis, tmp_path: Path
) -> None:
    served = load_settings(ServerSettings, **{**settings.model_dump(), "metrics_port": free_port()})
    server = AugurServer(served, await build_spec(served))
    await server.start(serve_metrics_endpoint=True)
    registry = CollectorRegistry()
    consumer = Consumer(redis_client, settings, registry=registry)
    consumer_port = free_port()
    http_server, _ = start_http_server(consumer_port, "127.0.0.1", registry=registry)
    event = features_pb2.Event(event_id="e1", customer_id="c1")
    event.occurred_at.GetCurrentTime()
    event.interaction.type = features_pb2.INTERACTION_TYPE_VIEW
    event.interaction.item_id = "i1"
    consumer.apply([(b"1-1", {b"e": event.SerializeToString(), b"t": b"0"})])
    consumer.update_lag()

    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(_every_second(tmp_path))],
        "scrape_configs": [
            {
                "job_name": "augur",
                "static_configs": [
                    {
                        "targets": [
                            f"127.0.0.1:{served.metrics_port}",
                            f"127.0.0.1:{consumer_port}",
                        ]
                    }
                ],
            }
        ],
    }
    proc, port = await start_prometheus(config, tmp_path)
    try:

        def targets_up() -> bool:
            active = _get(port, "/api/v1/targets")["data"]["activeTargets"]
            return len(active) == 2 and all(t["health"] == "up" for t in active)

        await _until(targets_up, 30)
        ready = await _until(
            lambda: _get(port, "/api/v1/query", query='augur_service_ready{service="features"}')[
                "data"
            ]["result"],
            15,
        )
        assert ready[0]["value"][1] == "1"
        staleness = "time() - max by (shard) (augur_ingest_last_write_timestamp_seconds)"
        written = await _until(
            lambda: _get(port, "/api/v1/query", query=staleness)["data"]["result"], 15
        )
        assert 0 <= float(written[0]["value"][1]) < 60
        groups = yaml.safe_load(RULES.read_text())["groups"]
        for group in groups:
            for rule in group["rules"]:
                reply = await asyncio.to_thread(_get, port, "/api/v1/query", query=rule["expr"])
                assert reply["status"] == "success", (rule, reply)

        def alerts_evaluated() -> list[Any] | None:
            loaded = _get(port, "/api/v1/rules")["data"]["groups"]
            by_name = {g["name"]: g for g in loaded}
            alerting = by_name.get("augur")
            if alerting is None or alerting["lastEvaluation"].startswith("0001"):
                return None
            return loaded

        loaded = await _until(alerts_evaluated, 15)
        assert {g["name"] for g in loaded} == {g["name"] for g in groups}
        for group in loaded:
            for rule in group["rules"]:
                assert rule["health"] in ("ok", "unknown"), rule
                assert not rule.get("lastError"), rule
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
        http_server.shutdown()
        await server.stop(0)
